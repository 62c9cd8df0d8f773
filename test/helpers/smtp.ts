import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** One message as the SMTP server received it, decoded enough for assertions. */
export interface CapturedMail {
  /** Envelope sender (MAIL FROM). */
  from: string;
  /** Envelope recipients (RCPT TO), so Bcc recipients are included. */
  to: string[];
  /** Decoded Subject header. */
  subject: string;
  /** Decoded text/html body, '' when the message has none. */
  html: string;
  /** Decoded text/plain body, '' when the message has none. */
  text: string;
  /** Top-level headers, names lower-cased, values unfolded and RFC 2047-decoded. */
  headers: Record<string, string>;
  /** The message as sent, CRLF line endings. */
  raw: string;
}

/** A real SMTP server on loopback that keeps every message it receives. */
export interface SmtpCapture {
  host: string;
  port: number;
  mails: CapturedMail[];
  /** Username of the last successful AUTH (any credentials are accepted); undefined if nobody authenticated. */
  lastAuthUser: string | undefined;
  /**
   * Resolves with the first mail (already received or arriving later) matching `to` (one envelope recipient,
   * case-insensitive) and `subject` (substring or pattern); rejects after timeoutMs listing what did arrive.
   */
  waitFor(match: { to?: string; subject?: RegExp | string }, timeoutMs?: number): Promise<CapturedMail>;
  clear(): void;
  close(): Promise<void>;
}

type Match = { to?: string; subject?: RegExp | string };

function matches(mail: CapturedMail, match: Match): boolean {
  if (match.to !== undefined && !mail.to.some((to) => to.toLowerCase() === match.to!.toLowerCase()))
    return false;
  if (match.subject === undefined) return true;
  return typeof match.subject === 'string'
    ? mail.subject.includes(match.subject)
    : match.subject.test(mail.subject);
}

/**
 * Starts an SMTP server on 127.0.0.1 with a random port that accepts any AUTH PLAIN/LOGIN credentials over plain
 * TCP (no STARTTLS), so tests can point Plinth's mailer at it and read what it sent.
 */
export async function startSmtp(): Promise<SmtpCapture> {
  const mails: CapturedMail[] = [];
  const waiters = new Set<{ match: Match; resolve: (mail: CapturedMail) => void }>();

  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 500,
    onAuth(auth, _session, callback) {
      capture.lastAuthUser = auth.username;
      callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        const envelope = session.envelope;
        const mail = parseMail(
          Buffer.concat(chunks).toString('utf8'),
          envelope.mailFrom ? envelope.mailFrom.address : '',
          envelope.rcptTo.map((rcpt) => rcpt.address),
        );
        mails.push(mail);
        for (const waiter of waiters) {
          if (matches(mail, waiter.match)) {
            waiters.delete(waiter);
            waiter.resolve(mail);
          }
        }
        callback();
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;

  const capture: SmtpCapture = {
    host: '127.0.0.1',
    port,
    mails,
    lastAuthUser: undefined,
    waitFor(match, timeoutMs = 5000) {
      const found = mails.find((mail) => matches(mail, match));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (mail: CapturedMail) => {
            clearTimeout(timer);
            resolve(mail);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const seen = mails.map((mail) => `  to ${mail.to.join(', ')}: ${JSON.stringify(mail.subject)}`);
          reject(
            new Error(
              `no mail matching ${describe(match)} within ${timeoutMs}ms; received ${mails.length}` +
                (seen.length ? `:\n${seen.join('\n')}` : ''),
            ),
          );
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    clear() {
      mails.length = 0;
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return capture;
}

function describe(match: Match): string {
  const parts: string[] = [];
  if (match.to !== undefined) parts.push(`to=${match.to}`);
  if (match.subject !== undefined) parts.push(`subject=${String(match.subject)}`);
  return parts.length ? `{${parts.join(' ')}}` : '{any}';
}

/**
 * Returns the first http(s) URL in the mail's html body (else its text body), with HTML entities decoded;
 * with `pattern`, the first one that matches it. Throws when there is none.
 */
export function linkIn(mail: CapturedMail, pattern?: RegExp): string {
  for (const body of [mail.html, mail.text]) {
    for (const found of body.matchAll(/https?:\/\/[^\s"'<>]+/g)) {
      const url = decodeEntities(found[0]);
      if (!pattern || pattern.test(url)) return url;
    }
  }
  throw new Error(
    `no link${pattern ? ` matching ${pattern}` : ''} in mail ${JSON.stringify(mail.subject)}:\n${mail.html || mail.text}`,
  );
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
};

function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (entity, name: string) => {
    if (name[0] === '#') {
      const code =
        name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
      return String.fromCodePoint(code);
    }
    return NAMED_ENTITIES[name.toLowerCase()] ?? entity;
  });
}

// --- minimal MIME decoding, enough for what nodemailer produces ---

interface Part {
  headers: Record<string, string>;
  body: string;
}

function splitPart(source: string): Part {
  const end = source.indexOf('\r\n\r\n');
  const head = end === -1 ? source : source.slice(0, end);
  const body = end === -1 ? '' : source.slice(end + 4);
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n(?=[ \t])/g, '').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!(name in headers)) headers[name] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

/** Splits `type/subtype; a=b; c="d"` into the lower-cased type and its parameters. */
function parseContentType(value: string | undefined): { type: string; params: Record<string, string> } {
  const [type = 'text/plain', ...rest] = (value ?? 'text/plain').split(';');
  const params: Record<string, string> = {};
  for (const param of rest) {
    const eq = param.indexOf('=');
    if (eq === -1) continue;
    params[param.slice(0, eq).trim().toLowerCase()] = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
  }
  return { type: type.trim().toLowerCase(), params };
}

function quotedPrintableBytes(value: string, underscoreIsSpace = false): Buffer {
  const bytes: number[] = [];
  const source = value.replace(/=\r\n/g, '');
  for (let i = 0; i < source.length; i++) {
    const char = source[i]!;
    const hex = source.slice(i + 1, i + 3);
    if (char === '=' && /^[0-9a-f]{2}$/i.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (char === '_' && underscoreIsSpace) {
      bytes.push(0x20);
    } else {
      bytes.push(...Buffer.from(char, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

function decodeText(bytes: Buffer, charset = 'utf-8'): string {
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

/** Decodes RFC 2047 encoded-words; adjacent words are joined before decoding so split characters survive. */
function decodeHeader(value: string): string {
  const word = /=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g;
  const joined = value.replace(/(\?=)[ \t]+(?==\?)/g, '$1');
  let out = '';
  let pending: { charset: string; bytes: Buffer[] } | undefined;
  let last = 0;
  const flush = () => {
    if (pending) out += decodeText(Buffer.concat(pending.bytes), pending.charset);
    pending = undefined;
  };
  for (const found of joined.matchAll(word)) {
    const [whole, rawCharset = 'utf-8', encoding = 'Q', text = ''] = found;
    const charset = rawCharset.split('*')[0]!.toLowerCase();
    if (found.index > last) {
      flush();
      out += joined.slice(last, found.index);
    }
    const bytes =
      encoding.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : quotedPrintableBytes(text, true);
    if (pending && pending.charset !== charset) flush();
    pending ??= { charset, bytes: [] };
    pending.bytes.push(bytes);
    last = found.index + whole.length;
  }
  flush();
  return out + joined.slice(last);
}

function decodeBody(part: Part, charset: string | undefined): string {
  const encoding = (part.headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  if (encoding === 'base64') return decodeText(Buffer.from(part.body.replace(/\s+/g, ''), 'base64'), charset);
  if (encoding === 'quoted-printable') return decodeText(quotedPrintableBytes(part.body), charset);
  return part.body;
}

/** Walks the MIME tree and keeps the first inline text/plain and text/html bodies. */
function collectBodies(part: Part, found: { html?: string; text?: string }): void {
  const { type, params } = parseContentType(part.headers['content-type']);
  if (type.startsWith('multipart/') && params['boundary']) {
    const segments = `\r\n${part.body}`.split(`\r\n--${params['boundary']}`);
    for (const segment of segments.slice(1)) {
      if (segment.startsWith('--')) break;
      collectBodies(splitPart(segment.slice(segment.indexOf('\r\n') + 2)), found);
    }
    return;
  }
  if (/^\s*attachment/i.test(part.headers['content-disposition'] ?? '')) return;
  if (type === 'text/html' && found.html === undefined) found.html = decodeBody(part, params['charset']);
  if (type === 'text/plain' && found.text === undefined) found.text = decodeBody(part, params['charset']);
}

function parseMail(source: string, from: string, to: string[]): CapturedMail {
  const raw = source.replace(/\r?\n/g, '\r\n');
  // The CRLF before the final "." belongs to the SMTP terminator, not to the last body.
  const root = splitPart(raw.replace(/\r\n$/, ''));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(root.headers)) headers[name] = decodeHeader(value);
  const found: { html?: string; text?: string } = {};
  collectBodies(root, found);
  return {
    from,
    to,
    subject: headers['subject'] ?? '',
    html: found.html ?? '',
    text: found.text ?? '',
    headers,
    raw,
  };
}
