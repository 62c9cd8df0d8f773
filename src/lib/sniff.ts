/** Loaded with the first upload: about 1.4 MB of heap that a server receiving no files never needs. */
let fileType: Promise<typeof import('file-type')> | undefined;

/** How many leading bytes {@link sniffMime} looks at. */
export const SNIFF_BYTES = 8192;

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** Markup a browser would render as a page, and so run scripts in (checked case-insensitively). */
const HTML_STARTS = [
  '<!doctype html',
  '<html',
  '<head',
  '<body',
  '<script',
  '<iframe',
  '<h1',
  '<div',
  '<table',
];

/**
 * The MIME type of a file from its first bytes ({@link SNIFF_BYTES}), never from what the client said:
 * binary formats by their signature (`file-type`), then SVG and HTML by their first tag (both can carry
 * scripts, so they must be known as such), then UTF-8 text; anything else is `application/octet-stream`.
 */
export async function sniffMime(head: Buffer): Promise<string> {
  fileType ??= import('file-type');
  const found = await (await fileType).fileTypeFromBuffer(head);
  // XML is text, and SVG is XML: look at its first element.
  if (found && !found.mime.endsWith('/xml')) return found.mime;
  const fallback = found?.mime ?? 'application/octet-stream';
  let text: string;
  try {
    // The head may end inside a multi-byte character: decode a few bytes fewer when it is cut short.
    text = decodeHead(head);
  } catch {
    return fallback;
  }
  if (hasBinaryControls(text)) return fallback;
  const start = skipProlog(text).toLowerCase();
  if (start.startsWith('<svg')) return 'image/svg+xml';
  if (HTML_STARTS.some((tag) => start.startsWith(tag))) return 'text/html; charset=utf-8';
  return found?.mime ?? 'text/plain; charset=utf-8';
}

function decodeHead(head: Buffer): string {
  if (head.length < SNIFF_BYTES) return utf8.decode(head);
  for (let cut = 0; cut < 4; cut++) {
    try {
      return utf8.decode(head.subarray(0, head.length - cut));
    } catch (err) {
      if (cut === 3) throw err;
    }
  }
  return '';
}

/** Skips a BOM, white space, the XML declaration, comments and a doctype other than HTML's. */
function skipProlog(text: string): string {
  let rest = text.replace(/^\uFEFF/, '').trimStart();
  for (;;) {
    const lower = rest.slice(0, 14).toLowerCase();
    let end = -1;
    if (rest.startsWith('<?')) end = rest.indexOf('?>') + 2;
    else if (rest.startsWith('<!--')) end = rest.indexOf('-->') + 3;
    else if (lower.startsWith('<!doctype') && !lower.startsWith('<!doctype html'))
      end = rest.indexOf('>') + 1;
    if (end <= 0) return rest;
    rest = rest.slice(end).trimStart();
  }
}

/** Control characters text files do not hold (tab, line breaks, form feed and escape are fine). */
function hasBinaryControls(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0b && c !== 0x0c && c !== 0x0d && c !== 0x1b)
      return true;
  }
  return false;
}
