import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventSource } from 'eventsource';
import type { Browser, Page } from 'playwright-core';
import type PocketBase from 'pocketbase';
import { launchChromium, noChromium } from './helpers/browser.ts';
import { TEST_ENGINE } from './helpers/databases.ts';
import { type OidcServer, startOidc } from './helpers/oidc.ts';
import { startServer, type TestServer } from './helpers/server.ts';

// The SDK's all-in-one OAuth2 flow: `authWithOAuth2({provider})` waits on the realtime topic `@oauth2` for
// what the provider sends back to /api/oauth2-redirect. First the redirect route on its own (raw HTTP
// against SDK realtime clients), then the whole flow with the unmodified SDK, the real OpenID Connect
// provider and headless Chromium.

// The SDK's realtime service needs a global EventSource (browsers have one; Node's is behind a flag).
(globalThis as { EventSource?: unknown }).EventSource ??= EventSource;

const noBrowser =
  noChromium ||
  // The popup and the SDK are the same on every engine; the redirect route's tests above run on each.
  (TEST_ENGINE !== 'sqlite' &&
    'the browser flow runs once, on SQLite; the routes it uses run on every engine');
const SUCCESS = '../_/#/auth/oauth2-redirect-success';
const FAILURE = '../_/#/auth/oauth2-redirect-failure';
/** An address the server believes through X-Forwarded-For (it trusts 127.0.0.1 as a proxy here). */
const OTHER_IP = '203.0.113.7';

type OAuth2Message = { state?: string; code?: string; error?: string };

/** Rejects after `ms` so that a flow that never finishes fails the test with a reason instead of hanging. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('the OAuth2 popup flow (/api/oauth2-redirect and realtime @oauth2)', () => {
  let server: TestServer;
  const clients: PocketBase[] = [];

  before(async () => {
    server = await startServer({ flags: { trustProxy: '127.0.0.1' } });
  });
  after(async () => {
    for (const pb of clients) pb.realtime.unsubscribe().catch(() => {});
    await server?.close();
  });

  /**
   * An SDK realtime client subscribed to `topics` plus `mark`. `settled()` proves what it has received:
   * a message published on `mark` arrives after anything sent to the client before it.
   */
  async function waiter(topics: string[] = ['@oauth2']) {
    const pb = server.client();
    clients.push(pb);
    const messages: OAuth2Message[] = [];
    for (const topic of topics) await pb.realtime.subscribe(topic, (m: OAuth2Message) => messages.push(m));
    let marks = 0;
    let onMark: (() => void) | undefined;
    await pb.realtime.subscribe('mark', () => {
      marks++;
      onMark?.();
    });
    return {
      pb,
      id: pb.realtime.clientId,
      messages,
      async settled(): Promise<OAuth2Message[]> {
        const target = marks + 1;
        const arrived = new Promise<void>((resolve) => {
          onMark = () => marks >= target && resolve();
        });
        await server.app.realtime.publish('mark', {});
        await within(arrived, 5000, 'the marker message');
        return messages;
      },
    };
  }

  const subscribedToOAuth2 = (id: string) =>
    [...(server.app.realtime.broker.find(id)?.subscriptions.values() ?? [])].some(
      (s) => s.topic === '@oauth2',
    );

  async function redirect(
    query: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; location: string | null; body: string }> {
    const res = await fetch(`${server.url}/api/oauth2-redirect${query}`, { ...init, redirect: 'manual' });
    return { status: res.status, location: res.headers.get('location'), body: await res.text() };
  }

  describe('the redirect route', () => {
    it('tells the waiting client the code, sends the browser to the success page and ends the wait', async () => {
      const w = await waiter();
      const res = await redirect(`?state=${w.id}&code=abc%2B123&iss=x`);
      assert.equal(res.status, 307);
      assert.equal(res.location, SUCCESS);
      assert.deepEqual(await w.settled(), [{ state: w.id, code: 'abc+123' }]);
      assert.equal(subscribedToOAuth2(w.id), false);
      // One link, one answer: the same redirect again finds nobody waiting.
      const again = await redirect(`?state=${w.id}&code=other`);
      assert.equal(again.location, FAILURE);
      assert.equal((await w.settled()).length, 1);
    });

    it('passes the provider’s error on, and sends the browser to the failure page', async () => {
      const w = await waiter();
      const res = await redirect(`?state=${w.id}&error=access_denied&error_description=no`);
      assert.deepEqual([res.status, res.location], [307, FAILURE]);
      assert.deepEqual(await w.settled(), [{ state: w.id, code: '', error: 'access_denied' }]);
      assert.equal(subscribedToOAuth2(w.id), false);
    });

    it('passes an answer without a code on, as a failure', async () => {
      const w = await waiter();
      const res = await redirect(`?state=${w.id}`);
      assert.deepEqual([res.status, res.location], [307, FAILURE]);
      assert.deepEqual(await w.settled(), [{ state: w.id, code: '' }]);
    });

    it('sends the browser to the failure page and tells nobody for a missing, unknown or overlong state', async () => {
      const w = await waiter();
      for (const query of [
        '',
        '?code=abc',
        '?state=&code=abc',
        '?state=nosuchclient&code=abc',
        `?state=${w.id}x&code=abc`,
        `?state=${w.id}${'x'.repeat(5000)}&code=abc`,
        `?state=${'a'.repeat(10_000)}&code=abc`,
      ]) {
        const res = await redirect(query);
        assert.deepEqual([res.status, res.location], [307, FAILURE], query.slice(0, 60));
      }
      assert.deepEqual(await w.settled(), []);
      assert.equal(subscribedToOAuth2(w.id), true);
    });

    it('tells a client that is not waiting on @oauth2 nothing', async () => {
      const w = await waiter(['posts/*', '@oauth2x']);
      const res = await redirect(`?state=${w.id}&code=abc`);
      assert.deepEqual([res.status, res.location], [307, FAILURE]);
      assert.deepEqual(await w.settled(), []);
    });

    it('tells a client whose stream has closed nothing', async () => {
      const w = await waiter();
      const { id } = w;
      await w.pb.realtime.unsubscribe();
      // The SDK closes its EventSource; the server sees the socket close a moment later.
      for (let i = 0; i < 100 && server.app.realtime.broker.find(id); i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(server.app.realtime.broker.find(id), undefined, 'the stream was closed');
      const res = await redirect(`?state=${id}&code=abc`);
      assert.deepEqual([res.status, res.location], [307, FAILURE]);
      assert.deepEqual(w.messages, []);
    });

    it('refuses a redirect from another IP than the client’s stream, and leaves the client waiting', async () => {
      const w = await waiter();
      const res = await redirect(`?state=${w.id}&code=forged`, { headers: { 'x-forwarded-for': OTHER_IP } });
      assert.deepEqual([res.status, res.location], [307, FAILURE]);
      assert.deepEqual(await w.settled(), []);
      assert.equal(subscribedToOAuth2(w.id), true);
      const own = await redirect(`?state=${w.id}&code=real`);
      assert.equal(own.location, SUCCESS);
      assert.deepEqual(await w.settled(), [{ state: w.id, code: 'real' }]);
    });

    it('does nothing on HEAD, so that a link checker cannot use up the answer', async () => {
      const w = await waiter();
      const res = await redirect(`?state=${w.id}&code=abc`, { method: 'HEAD' });
      assert.equal(res.status, 404);
      assert.deepEqual(await w.settled(), []);
      assert.equal(subscribedToOAuth2(w.id), true);
    });

    it('reads a repeated parameter by its first value', async () => {
      const w = await waiter();
      const res = await redirect(`?state=${w.id}&state=nosuchclient&code=first&code=second&error=`);
      assert.equal(res.location, SUCCESS);
      assert.deepEqual(await w.settled(), [{ state: w.id, code: 'first' }]);
    });

    it('accepts the form_post response mode, answering 303 so that the browser follows with a GET', async () => {
      const w = await waiter();
      const res = await redirect('', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ state: w.id, code: 'posted', user: '{"name":{}}' }).toString(),
      });
      assert.deepEqual([res.status, res.location], [303, SUCCESS]);
      assert.deepEqual(await w.settled(), [{ state: w.id, code: 'posted' }]);
    });

    it('accepts a JSON body too, but reads a POST’s parameters from its body only', async () => {
      const w = await waiter();
      const json = await redirect('', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ state: w.id, code: 'json', error: 42 }),
      });
      assert.deepEqual([json.status, json.location], [303, SUCCESS]);
      assert.deepEqual(await w.settled(), [{ state: w.id, code: 'json' }]);

      const other = await waiter();
      const queryOnly = await redirect(`?state=${other.id}&code=abc`, { method: 'POST' });
      assert.deepEqual([queryOnly.status, queryOnly.location], [303, FAILURE]);
      assert.deepEqual(await other.settled(), []);
    });

    it('answers unreadable bodies with the failure page, never an error', async () => {
      const w = await waiter();
      const bodies: [string, string][] = [
        ['application/json', '{"state":'],
        ['application/json', `["${w.id}"]`],
        ['application/json', 'null'],
        ['text/plain', `state=${w.id}&code=abc`],
        [
          'multipart/form-data; boundary=x',
          `--x\r\ncontent-disposition: form-data; name="state"\r\n\r\n${w.id}\r\n--x--\r\n`,
        ],
        ['application/x-www-form-urlencoded', '%%%&&&==='],
        ['application/x-www-form-urlencoded', Buffer.from([0xff, 0xfe, 0x00]).toString('latin1')],
      ];
      for (const [type, body] of bodies) {
        const res = await redirect('', { method: 'POST', headers: { 'content-type': type }, body });
        assert.deepEqual([res.status, res.location], [303, FAILURE], `${type} ${body.slice(0, 30)}`);
      }
      assert.deepEqual(await w.settled(), []);
    });

    it('refuses a body past 32 KiB with 413 and a URL past the header limit with 431, telling nobody', async () => {
      const w = await waiter();
      const big = await redirect('', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `state=${w.id}&code=${'c'.repeat(40_000)}`,
      });
      assert.equal(big.status, 413);
      assert.equal(JSON.parse(big.body).status, 413);
      const long = await redirect(`?state=${w.id}&code=${'c'.repeat(100_000)}`);
      assert.equal(long.status, 431);
      assert.deepEqual(await w.settled(), []);
      assert.equal(subscribedToOAuth2(w.id), true);
    });
  });

  describe('the whole flow with the SDK, the identity provider and Chromium', { skip: noBrowser }, () => {
    let idp: OidcServer;
    let browser: Browser;
    let redirectURL: string;

    before(async () => {
      redirectURL = `${server.url}/api/oauth2-redirect`;
      idp = await startOidc({
        clients: [{ client_id: 'plinth-popup', client_secret: 'popup-sekret', redirect_uris: [redirectURL] }],
        accounts: [
          { sub: 'popup-1', email: 'popup1@example.com', email_verified: true, name: 'Popup One' },
          { sub: 'popup-2', email: 'popup2@example.com', email_verified: true, name: 'Popup Two' },
        ],
      });
      await server.admin.collections.update('users', {
        oauth2: {
          enabled: true,
          mappedFields: { name: 'name' },
          providers: [
            {
              name: 'oidc',
              clientId: 'plinth-popup',
              clientSecret: 'popup-sekret',
              authURL: idp.authorizationEndpoint,
              tokenURL: idp.tokenEndpoint,
              userInfoURL: idp.userinfoEndpoint,
              extra: { jwksURL: idp.jwksUri, issuers: [idp.issuer] },
            },
          ],
        },
      });
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
      await idp?.close();
    });

    /** A fresh browser (no session at the provider) that signs in there as `sub` when asked. */
    async function openBrowser(sub: string, headers: Record<string, string> = {}) {
      const context = await browser.newContext({ extraHTTPHeaders: headers });
      await context.addCookies([
        { name: 'plinth_test_sub', value: encodeURIComponent(sub), url: idp.issuer },
      ]);
      const page = await context.newPage();
      const visited: string[] = [];
      page.on('framenavigated', (frame) => {
        if (frame === page.mainFrame()) visited.push(frame.url());
      });
      return { context, page, visited };
    }

    /** Waits until the browser shows Plinth's page at `hash` and returns its message. */
    async function landedOn(page: Page, visited: string[], hash: string): Promise<string> {
      const url = `${server.url}/_/${hash}`;
      await page.waitForURL(url, { timeout: 10_000 });
      assert.ok(visited.includes(url), visited.join('\n'));
      return (await page.locator('#message').textContent()) ?? '';
    }

    /**
     * Runs `authWithOAuth2` in the SDK; its urlCallback checks that the link names a client waiting on
     * `@oauth2` and our redirect URL, then (with `navigate`) opens it in `page`.
     */
    function startSignIn(page: Page | undefined) {
      const pb = server.client();
      clients.push(pb);
      let seen: (link: URL) => void = () => {};
      const linkSeen = new Promise<URL>((resolve) => {
        seen = resolve;
      });
      let waitingBeforeOpen = false;
      const flow = pb.collection('users').authWithOAuth2({
        provider: 'oidc',
        urlCallback: async (url: string) => {
          const link = new URL(url);
          waitingBeforeOpen = subscribedToOAuth2(link.searchParams.get('state') ?? '');
          seen(link);
          // Not awaited: the SDK must not wait for the page (which may close itself).
          if (page) page.goto(url).catch(() => {});
        },
      });
      const result = within(flow, 20_000, 'authWithOAuth2');
      result.catch(() => {});
      return {
        pb,
        result,
        linkSeen: within(linkSeen, 10_000, 'the sign-in link'),
        waitingBeforeOpen: () => waitingBeforeOpen,
      };
    }

    async function usersNamed(email: string) {
      return server.admin
        .collection('users')
        .getFullList({ filter: server.admin.filter('email = {:email}', { email }) });
    }

    it('signs a new user up through the popup, then signs the same user in again', async () => {
      const { context, page, visited } = await openBrowser('popup-1');
      const signIn = startSignIn(page);
      const link = await signIn.linkSeen;
      // The link is the provider's, with our redirect URL and the SDK's realtime client id as its state.
      assert.equal(`${link.origin}${link.pathname}`, idp.authorizationEndpoint);
      assert.equal(link.searchParams.get('redirect_uri'), redirectURL);
      const state = link.searchParams.get('state') ?? '';
      assert.equal(state.length, 40);
      assert.ok(signIn.waitingBeforeOpen(), 'the SDK waits on @oauth2 under the id it sent as state');

      const auth = await signIn.result;
      assert.ok(auth.token);
      assert.equal(auth.record.email, 'popup1@example.com');
      assert.equal(auth.record.name, 'Popup One');
      assert.equal(auth.record.verified, true);
      assert.equal(signIn.pb.authStore.token, auth.token);
      const me = await signIn.pb.collection('users').authRefresh();
      assert.equal(me.record.id, auth.record.id);

      assert.match(await landedOn(page, visited, '#/auth/oauth2-redirect-success'), /finishing your sign-in/);
      assert.equal(subscribedToOAuth2(state), false);
      const users = await usersNamed('popup1@example.com');
      assert.equal(users.length, 1);
      const links = await server.admin
        .collection('_externalAuths')
        .getFullList({ filter: server.admin.filter('recordRef = {:id}', { id: auth.record.id }) });
      assert.deepEqual(
        links.map((l) => [l.provider, l.providerId]),
        [['oidc', 'popup-1']],
      );
      await context.close();

      // Again, in a new browser: the linked identity signs in to the same account.
      const second = await openBrowser('popup-1');
      const again = await startSignIn(second.page).result;
      assert.equal(again.record.id, auth.record.id);
      assert.notEqual(again.token, auth.token);
      assert.equal((await usersNamed('popup1@example.com')).length, 1);
      await second.context.close();
    });

    it('rejects the SDK’s promise when the provider answers with an error, and signs nobody in', async () => {
      const before = await server.admin.collection('users').getList(1, 1);
      // The test provider treats a user it does not know as one who cancelled: error=access_denied.
      const { context, page, visited } = await openBrowser('nobody-here');
      const signIn = startSignIn(page);
      await assert.rejects(signIn.result, (err: { originalError?: Error }) => {
        assert.match(String(err.originalError?.message), /access_denied/);
        return true;
      });
      assert.equal(signIn.pb.authStore.isValid, false);
      assert.match(await landedOn(page, visited, '#/auth/oauth2-redirect-failure'), /did not complete/);
      const afterwards = await server.admin.collection('users').getList(1, 1);
      assert.equal(afterwards.totalItems, before.totalItems);
      await context.close();
    });

    it('closes a popup the app opened on the success page, and leaves the failure page open to be read', async () => {
      const context = await browser.newContext();
      const app = await context.newPage();
      // The app's page on another origin than Plinth's, opening the popup as the SDK does: blank, then the link.
      await app.goto(`${server.url.replace('127.0.0.1', 'localhost')}/api/health`);
      const open = async (hash: string) => {
        const popup = context.waitForEvent('page');
        await app.evaluate((url) => {
          type Popup = { location: { href: string } } | null;
          const w = (globalThis as unknown as { open(u: string, n: string, f: string): Popup }).open(
            '',
            '',
            'width=400,height=500',
          );
          if (w) w.location.href = url;
        }, `${server.url}/_/${hash}`);
        return popup;
      };
      const success = await open('#/auth/oauth2-redirect-success');
      await within(success.waitForEvent('close'), 5000, 'the success popup to close');
      const failure = await open('#/auth/oauth2-redirect-failure');
      await failure.waitForURL(`${server.url}/_/#/auth/oauth2-redirect-failure`);
      assert.match((await failure.locator('#message').textContent()) ?? '', /did not complete/);
      assert.equal(failure.isClosed(), false);
      await context.close();
    });

    it('lets no other browser sign anyone in with a client’s id but no valid code', async () => {
      const before = await server.admin.collection('users').getList(1, 1);
      // The victim's SDK waits; its link never gets opened.
      const victim = startSignIn(undefined);
      const state = (await victim.linkSeen).searchParams.get('state') ?? '';

      // Another browser, from another address, sends a made-up code: refused, and the victim still waits.
      const far = await openBrowser('popup-2', { 'x-forwarded-for': OTHER_IP });
      await far.page.goto(`${redirectURL}?state=${state}&code=made-up`);
      assert.match(
        await landedOn(far.page, far.visited, '#/auth/oauth2-redirect-failure'),
        /did not complete/,
      );
      assert.equal(subscribedToOAuth2(state), true);
      await far.context.close();

      // Another browser on the same address: the made-up code reaches the victim's SDK, which cannot
      // exchange it; its promise rejects and nobody is signed in.
      const near = await openBrowser('popup-2');
      await near.page.goto(`${redirectURL}?state=${state}&code=made-up`);
      await assert.rejects(victim.result, (err: { status?: number }) => {
        assert.equal(err.status, 400);
        return true;
      });
      assert.equal(victim.pb.authStore.isValid, false);
      assert.equal(subscribedToOAuth2(state), false);
      await near.context.close();

      // A real sign-in link with someone else's state finds nobody waiting any more: no one is signed in.
      const late = await openBrowser('popup-2');
      const pb = server.client();
      const methods = await pb.collection('users').listAuthMethods();
      const provider = methods.oauth2.providers.find((p) => p.name === 'oidc');
      assert.ok(provider);
      const url = new URL(provider.authURL + encodeURIComponent(redirectURL));
      url.searchParams.set('state', state);
      await late.page.goto(url.href);
      await landedOn(late.page, late.visited, '#/auth/oauth2-redirect-failure');
      await late.context.close();

      const afterwards = await server.admin.collection('users').getList(1, 1);
      assert.equal(afterwards.totalItems, before.totalItems);
      assert.equal((await usersNamed('popup2@example.com')).length, 0);
    });
  });
});
