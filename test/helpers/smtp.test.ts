import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { linkIn, type SmtpCapture, startSmtp } from './smtp.ts';

describe('the SMTP capture helper', () => {
  let smtp: SmtpCapture;
  before(async () => {
    smtp = await startSmtp();
  });
  after(async () => {
    await smtp.close();
  });

  function send(message: SendMailOptions) {
    const transport = nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: false,
      ignoreTLS: true,
      auth: { user: 'u', pass: 'p' },
    });
    return transport.sendMail(message).finally(() => transport.close());
  }

  const subject =
    'Vérifiez votre adresse e-mail — ünïcödé 日本語のテキスト, a subject long enough to be folded ✓';
  const link =
    'https://app.example.com/_/#/auth/confirm-verification/eyJhbGciOiJIUzI1NiJ9.payload-part-that-is-quite-long.signature?a=1&b=2';

  test('decodes subject, addresses, html and text of a nodemailer message', async () => {
    const waiting = smtp.waitFor({ to: 'Someone@Example.com', subject: /Vérifiez/ });
    await send({
      from: '"Plinth Ünïcödé" <noreply@example.com>',
      to: 'someone@example.com',
      subject,
      html: `<p>Bonjour Zoë, cliquez ici ⇒ <a href="${link.replace('&', '&amp;')}">vérifier</a></p>`,
      text: `Bonjour Zoë, ouvrez ${link}`,
    });
    const mail = await waiting;
    assert.match(
      mail.raw,
      /^Subject: =\?UTF-8\?Q\?.*\r\n =\?UTF-8\?Q\?/m,
      'the subject is encoded and folded',
    );
    assert.match(mail.raw, /Content-Transfer-Encoding: quoted-printable/);
    assert.equal(mail.subject, subject);
    assert.equal(mail.from, 'noreply@example.com');
    assert.deepEqual(mail.to, ['someone@example.com']);
    assert.equal(mail.headers['from'], 'Plinth Ünïcödé <noreply@example.com>');
    assert.ok(mail.html.includes('Bonjour Zoë, cliquez ici ⇒'), mail.html);
    assert.ok(mail.html.includes('b=2">vérifier</a>'), mail.html);
    assert.equal(mail.text, `Bonjour Zoë, ouvrez ${link}`);
    assert.equal(linkIn(mail), link);
    assert.equal(linkIn(mail, /confirm-verification/), link);
    assert.throws(() => linkIn(mail, /confirm-password-reset/), /no link matching/);
    assert.equal(smtp.lastAuthUser, 'u');
    assert.equal(smtp.mails.length, 1);
  });

  test('finds mail that already arrived and decodes a base64 html-only message', async () => {
    const html = '<b>日本語のテキスト、日本語のテキスト</b>'; // mostly non-ASCII: nodemailer picks base64
    await send({ from: 'a@example.com', to: ['x@example.com', 'y@example.com'], subject: 'Only html', html });
    const mail = await smtp.waitFor({ to: 'y@example.com', subject: 'Only html' });
    assert.match(mail.raw, /Content-Transfer-Encoding: base64/);
    assert.equal(mail.html, html);
    assert.equal(mail.text, '');
    assert.deepEqual(mail.to, ['x@example.com', 'y@example.com']);
  });

  test('waitFor rejects after its timeout, listing what arrived', async () => {
    await assert.rejects(
      smtp.waitFor({ subject: 'never sent' }, 100),
      /no mail matching \{subject=never sent\} within 100ms; received 2/,
    );
    smtp.clear();
    assert.equal(smtp.mails.length, 0);
    await assert.rejects(smtp.waitFor({ to: 'someone@example.com' }, 50), /received 0/);
  });
});
