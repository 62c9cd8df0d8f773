/** An email template as collections store it (PocketBase's `{subject, body}`). */
export interface EmailTemplate {
  subject: string;
  body: string;
}

const escapeHtml = (text: string) =>
  text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

/**
 * Fills `{NAME}` placeholders (and `{RECORD:field}`) in a template. Values are HTML-escaped in the body
 * (a user's name must not become markup in someone's inbox) and kept as text in the subject. Unknown
 * placeholders stay as written.
 */
export function renderTemplate(
  template: EmailTemplate,
  values: Record<string, string>,
  record: Record<string, unknown> = {},
): EmailTemplate {
  const fill = (text: string, encode: (s: string) => string) =>
    text.replace(/\{(RECORD:)?([A-Za-z0-9_]+)\}/g, (whole, isRecord: string | undefined, name: string) => {
      if (isRecord) {
        const v = record[name];
        return v === undefined || v === null || typeof v === 'object' ? '' : encode(String(v));
      }
      return name in values ? encode(values[name]!) : whole;
    });
  return {
    subject: fill(template.subject, (s) => s.replace(/[\r\n]+/g, ' ')),
    body: fill(template.body, escapeHtml),
  };
}
