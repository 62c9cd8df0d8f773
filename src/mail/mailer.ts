import type { Transporter } from 'nodemailer';
import { lazyPackage } from '../lib/index.ts';

/** Loaded with the first mail: about 4 MB of heap that a server sending none never needs. */
const nodemailer = lazyPackage<typeof import('nodemailer')>('nodemailer');

export interface SmtpOptions {
  enabled: boolean;
  host: string;
  port: number;
  username: string;
  password: string;
  authMethod: 'PLAIN' | 'LOGIN';
  /** Implicit TLS (port 465 style); otherwise STARTTLS is used when the server offers it. */
  tls: boolean;
  localName: string;
}

export interface Sender {
  name: string;
  address: string;
}

export interface Message {
  to: string;
  subject: string;
  html: string;
}

export interface Mailer {
  /** Sends one message; rejects if SMTP is disabled or the server refuses it. */
  send(message: Message): Promise<void>;
  close(): void;
}

/** Seconds we wait on a slow or silent SMTP server before giving up. */
const TIMEOUT_MS = 10_000;

/**
 * Sends mail over SMTP with nodemailer, reading the settings on every send so a change in the dashboard
 * applies at once; the connection pool is rebuilt only when they change.
 */
export function createMailer(current: () => { smtp: SmtpOptions; sender: Sender }): Mailer {
  let transport: Transporter | undefined;
  let transportFor = '';

  function transporter(smtp: SmtpOptions): Transporter {
    const key = JSON.stringify(smtp);
    if (transport && key === transportFor) return transport;
    transport?.close();
    transportFor = key;
    transport = nodemailer().createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.tls,
      name: smtp.localName || undefined,
      auth: smtp.username ? { user: smtp.username, pass: smtp.password } : undefined,
      authMethod: smtp.authMethod,
      pool: true,
      maxConnections: 2,
      connectionTimeout: TIMEOUT_MS,
      greetingTimeout: TIMEOUT_MS,
      socketTimeout: TIMEOUT_MS,
      // Never log message bodies: they carry reset links and one-time codes.
      logger: false,
      debug: false,
    });
    return transport;
  }

  return {
    async send(message) {
      const { smtp, sender } = current();
      if (!smtp.enabled) throw new Error('SMTP is disabled in the settings');
      await transporter(smtp).sendMail({
        from: { name: sender.name, address: sender.address },
        to: message.to,
        subject: message.subject,
        html: message.html,
        text: htmlToText(message.html),
      });
    },
    close() {
      transport?.close();
      transport = undefined;
    },
  };
}

/** A plain-text alternative: tags dropped, links kept readable, entities decoded. */
export function htmlToText(html: string): string {
  return html
    .replace(/<a\s[^>]*href="([^"]*)"[^>]*>(.*?)<\/a>/gis, (_m, href: string, label: string) =>
      label.replace(/<[^>]*>/g, '').trim() === href ? href : `${label} (${href})`,
    )
    .replace(/<(br|\/p|\/div|\/h\d|\/li)\s*\/?>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
