import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, noChromium } from './helpers/browser.ts';
import { TEST_ENGINE } from './helpers/databases.ts';
import { freePort, spawnServe, superuserSignInStatus } from './helpers/process.ts';
import { startServer, type TestServer, useSmtp } from './helpers/server.ts';
import { linkIn, type SmtpCapture, startSmtp } from './helpers/smtp.ts';

const noBrowser =
  noChromium ||
  // The pages are the server's own HTML and script: the engine under them is tested by the auth suites.
  (TEST_ENGINE !== 'sqlite' &&
    'browser pages run once, on SQLite; the confirm APIs run on every engine elsewhere');
const PASSWORD = 'first-password-1';
const WAIT = { timeout: 5000 };

/** A page plus what went wrong in it: script errors, CSP refusals, requests that left the server. */
interface Opened {
  page: Page;
  origin: string;
  problems: string[];
  requests: string[];
}

describe('the confirmation links at /_/, in a real browser', { skip: noBrowser }, () => {
  let server: TestServer;
  let smtp: SmtpCapture;
  let browser: Browser;

  before(async () => {
    [server, smtp] = await Promise.all([startServer(), startSmtp()]);
    await useSmtp(server, smtp);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await Promise.all([server?.close(), smtp?.close()]);
  });

  async function open(url: string, origin = server.url): Promise<Opened> {
    const page = await browser.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (/Content Security Policy|Refused to/i.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
    page.on('request', (req) => requests.push(req.url()));
    await page.goto(url);
    return { page, origin, problems, requests };
  }

  /** Ends a scenario: no script error or CSP refusal, nothing fetched elsewhere, the token in no URL sent. */
  async function done({ page, origin, problems, requests }: Opened, token: string): Promise<void> {
    assert.deepEqual(problems, []);
    for (const request of requests) {
      assert.ok(request.startsWith(`${origin}/`), `request to another origin: ${request}`);
      assert.ok(!request.includes(token), `token sent in a URL: ${request}`);
    }
    await page.close();
  }

  const status = (page: Page) => page.locator('#message');
  const fieldErrors = (page: Page) => page.locator('#errors li').allTextContents();
  const tokenOf = (link: string) => link.slice(link.lastIndexOf('/') + 1);

  async function createUser(email: string) {
    const client = server.client();
    const record = await client
      .collection('users')
      .create({ email, password: PASSWORD, passwordConfirm: PASSWORD });
    return { client, id: String(record.id) };
  }

  async function mailedLink(to: string, subject: RegExp, route: string): Promise<string> {
    const link = linkIn(await smtp.waitFor({ to, subject }), new RegExp(`#/auth/${route}/`));
    assert.ok(link.startsWith(`${server.url}/_/#/auth/${route}/`), link);
    return link;
  }

  it('verifies the email address once the button on the page is pressed, not on opening the link', async () => {
    const email = 'verify-me@example.com';
    const { client, id } = await createUser(email);
    await client.collection('users').requestVerification(email);
    const link = await mailedLink(email, /Verify/, 'confirm-verification');

    const tab = await open(link);
    const button = tab.page.getByRole('button', { name: 'Confirm my email address' });
    await button.waitFor(WAIT);
    assert.match((await tab.page.locator('#verification').textContent()) ?? '', /verify-me@example\.com/);
    // Opening the link (as a mail scanner would) changes nothing.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await server.admin.collection('users').getOne(id))['verified'], false);
    await button.click();
    await tab.page.getByText('Your email address is verified.', { exact: true }).waitFor(WAIT);
    assert.equal(tab.page.url(), `${server.url}/_/`, 'the token is cleared from the address bar');
    assert.deepEqual(await fieldErrors(tab.page), []);
    await done(tab, tokenOf(link));

    const user = await server.admin.collection('users').getOne(id);
    assert.equal(user['verified'], true);
  });

  it('changes the password through the form, showing the field error for a mismatched confirmation', async () => {
    const email = 'forgetful@example.com';
    await createUser(email);
    await server.client().collection('users').requestPasswordReset(email);
    const link = await mailedLink(email, /Reset/, 'confirm-password-reset');

    const tab = await open(link);
    const { page } = tab;
    await page.getByText(`Choose a new password for ${email}.`).waitFor(WAIT);
    await page.getByLabel('New password', { exact: true }).fill('second-password-2');
    await page.getByLabel('Confirm new password').fill('not-the-same-2');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.locator('#errors li').first().waitFor(WAIT);
    const errors = await fieldErrors(page);
    assert.ok(
      errors.some((e) => e.startsWith('Confirm new password: ')),
      `errors shown: ${JSON.stringify(errors)}`,
    );
    assert.equal(await page.getByLabel('Confirm new password').getAttribute('aria-invalid'), 'true');
    assert.notEqual(await status(page).textContent(), '');

    await page.getByLabel('Confirm new password').fill('second-password-2');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page
      .getByText('Your password has been changed. You can sign in with it now.', { exact: true })
      .waitFor(WAIT);
    assert.equal(await page.locator('#password-reset').isHidden(), true);
    assert.deepEqual(await fieldErrors(page), []);
    assert.equal(page.url(), `${server.url}/_/`);
    await done(tab, tokenOf(link));

    const signedIn = await server.client().collection('users').authWithPassword(email, 'second-password-2');
    assert.equal(signedIn.record['email'], email);
    await assert.rejects(server.client().collection('users').authWithPassword(email, PASSWORD), {
      status: 400,
    });
  });

  it('changes the email address once the current password is entered on the page the new address received', async () => {
    const email = 'moving@example.com';
    const newEmail = 'moved@example.com';
    const { client } = await createUser(email);
    await client.collection('users').authWithPassword(email, PASSWORD);
    await client.collection('users').requestEmailChange(newEmail);
    const link = await mailedLink(newEmail, /new email/i, 'confirm-email-change');

    const tab = await open(link);
    const { page } = tab;
    await page.getByText(`Change your email address from ${email} to ${newEmail}.`).waitFor(WAIT);
    await page.getByLabel('Current password').fill('wrong-password-9');
    await page.getByRole('button', { name: 'Change email address' }).click();
    await page.locator('#errors li').first().waitFor(WAIT);
    const errors = await fieldErrors(page);
    assert.ok(
      errors.some((e) => e.startsWith('Current password: ')),
      `errors shown: ${JSON.stringify(errors)}`,
    );
    assert.equal(await page.locator('#email-change').isVisible(), true, 'the form stays for another try');

    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Change email address' }).click();
    await page
      .getByText(`Your email address is now ${newEmail}. Sign in with it from now on.`, { exact: true })
      .waitFor(WAIT);
    assert.equal(page.url(), `${server.url}/_/`);
    await done(tab, tokenOf(link));

    const signedIn = await server.client().collection('users').authWithPassword(newEmail, PASSWORD);
    assert.equal(signedIn.record['email'], newEmail);
    await assert.rejects(server.client().collection('users').authWithPassword(email, PASSWORD), {
      status: 400,
    });
  });

  it('shows an error, without crashing, for a garbage or forged token', async () => {
    const garbage = await open(`${server.url}/_/#/auth/confirm-password-reset/not-a-token`);
    await garbage.page.getByText('This link is invalid or incomplete. Request a new one.').waitFor(WAIT);
    assert.equal(await garbage.page.locator('#password-reset').isHidden(), true);
    await done(garbage, 'not-a-token');

    // A well-formed token whose signature is not the server's: the page posts it and shows the refusal.
    const email = 'forged@example.com';
    const { client, id } = await createUser(email);
    await client.collection('users').requestVerification(email);
    const link = await mailedLink(email, /Verify/, 'confirm-verification');
    const forged = `${link.slice(0, -6)}${link.slice(-6).endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'}`;
    const tab = await open(forged);
    await tab.page.getByRole('button', { name: 'Confirm my email address' }).click();
    await tab.page.locator('#errors li').first().waitFor(WAIT);
    const message = await status(tab.page).textContent();
    assert.ok(message && message !== 'Your email address is verified.', String(message));
    assert.match(tab.page.url(), /#\/auth\/confirm-verification\//, 'the link stays for the user to see');
    await done(tab, tokenOf(forged));
    assert.equal((await server.admin.collection('users').getOne(id))['verified'], false);
  });

  it('says Plinth is running for a hash it does not know', async () => {
    for (const hash of [
      '',
      '#/',
      '#/auth/confirm-nothing/abc',
      '#/pbinstall/',
      '#/auth/confirm-verification/',
    ]) {
      const tab = await open(`${server.url}/_/${hash}`);
      await tab.page.getByText(/^Plinth is running\./).waitFor(WAIT);
      assert.equal(await tab.page.locator('form:visible').count(), 0, hash);
      await done(tab, 'none');
    }
  });

  it('still creates the first superuser from the installer link', {
    skip: TEST_ENGINE !== 'sqlite' && 'runs plinth serve on embedded SQLite; the page is the same',
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plinth-pages-'));
    const port = await freePort();
    const child = await spawnServe(['--http', `127.0.0.1:${port}`, '--dir', dir]);
    try {
      const origin = `http://127.0.0.1:${port}`;
      const link = (await child.waitFor(/(http:\/\/\S+\/_\/#\/pbinstall\/\S+)/))?.[1];
      assert.ok(link, child.stdout());
      const tab = await open(link, origin);
      const { page } = tab;
      await page.getByText('Create the first superuser account.').waitFor(WAIT);
      await page.getByLabel('Email').fill('first@example.com');
      await page.getByLabel('Password', { exact: true }).fill('pw-123456789');
      await page.getByLabel('Confirm password').fill('pw-123456789');
      await page.getByRole('button', { name: 'Create superuser' }).click();
      // Longer than WAIT: the first write of a new server (a password hash, a worker's first query) beside
      // the test files that saturate the CPU took past 5 s in CI three times. On a failure, say what the
      // page shows instead (an error from the server would be there).
      const created = page.getByText(
        'Superuser first@example.com created. You can now sign in through the API.',
        { exact: true },
      );
      await created.waitFor({ timeout: 20_000 }).catch(async (err: Error) => {
        throw new Error(`${err.message}\nthe page says: ${await page.locator('body').textContent()}`);
      });
      assert.equal(page.url(), `${origin}/_/`);
      await done(tab, tokenOf(link));

      assert.equal(await superuserSignInStatus(origin, 'first@example.com', 'pw-123456789'), 200);
    } finally {
      child.child.kill('SIGTERM');
      await child.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
