export type { Mailer, Message, Sender, SmtpOptions } from './mailer.ts';
export { createMailer, htmlToText } from './mailer.ts';
export type { EmailTemplate } from './template.ts';
export { renderTemplate } from './template.ts';
