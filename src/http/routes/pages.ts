import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Serves `/_/`, the page behind the links Plinth prints and mails, which use PocketBase's hash routes:
 * `#/pbinstall/TOKEN` (first superuser), `#/auth/confirm-verification/TOKEN`,
 * `#/auth/confirm-password-reset/TOKEN` and `#/auth/confirm-email-change/TOKEN`, plus the two pages the OAuth2
 * popup ends on (`#/auth/oauth2-redirect-success` and `-failure`, from `/api/oauth2-redirect`). The token stays in the
 * fragment so that it never reaches a request log; the page posts it to the API in a JSON body. It needs
 * nothing external: one inline script allowed by its hash, no innerHTML, the strictest CSP that still works.
 */
export async function servePage(_request: FastifyRequest, reply: FastifyReply): Promise<string> {
  reply
    .type('text/html; charset=utf-8')
    .header('content-security-policy', CSP)
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cache-control', 'no-store');
  return PAGE;
}

// Plain JavaScript run by the browser. Kept free of backslashes and `${` so that the bytes hashed here
// are the bytes the browser hashes.
const SCRIPT = `
const message = document.getElementById('message');
const errors = document.getElementById('errors');
const LABELS = { email: 'Email', password: 'Password', passwordConfirm: 'Confirm password', token: 'Link' };
const ROUTES = {
  'pbinstall': { form: 'install', path: () => '/api/plinth/installer',
    done: (body) => 'Superuser ' + body.record.email + ' created. You can now sign in through the API.' },
  'auth/confirm-verification': { type: 'verification', form: 'verification',
    done: () => 'Your email address is verified.' },
  'auth/confirm-password-reset': { type: 'passwordReset', form: 'password-reset',
    done: () => 'Your password has been changed. You can sign in with it now.' },
  'auth/confirm-email-change': { type: 'emailChange', form: 'email-change',
    done: () => 'Your email address is now ' + claims.newEmail + '. Sign in with it from now on.' },
};

// '#/auth/confirm-verification/TOKEN' -> name 'auth/confirm-verification', token 'TOKEN'.
const parts = location.hash.split('/');
const token = parts.pop();
const name = parts.shift() === '#' ? parts.join('/') : '';
const route = token && Object.hasOwn(ROUTES, name) ? ROUTES[name] : undefined;
const claims = route && route.type ? decodeClaims(token) : {};
const form = route && route.form ? document.getElementById(route.form) : null;

// The payload is only read to pick the collection and show the addresses; the server verifies the token.
function decodeClaims(jwt) {
  try {
    const base64 = (jwt.split('.')[1] || '').replace(/-/g, '+').replace(/_/g, '/');
    const value = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))));
    return value && typeof value === 'object' ? value : {};
  } catch {
    return {};
  }
}

// A field error is named by the label of its input on this form ('New password'), else by a known name.
function labelOf(field) {
  const input = form && form.elements.namedItem(field);
  if (input && input.labels && input.labels.length) return input.labels[0].textContent.trim();
  return Object.hasOwn(LABELS, field) ? LABELS[field] : field;
}

function show(text, fields) {
  message.textContent = text;
  errors.replaceChildren();
  for (const [field, error] of Object.entries(fields || {})) {
    const item = document.createElement('li');
    item.textContent = labelOf(field) + ': ' + ((error && error.message) || 'Invalid value.');
    errors.append(item);
  }
  if (!form) return;
  const inputs = [...form.querySelectorAll('input[name]')];
  for (const input of inputs) input.setAttribute('aria-invalid', String(Object.hasOwn(fields || {}, input.name)));
  const invalid = inputs.find((input) => input.getAttribute('aria-invalid') === 'true');
  if (invalid) invalid.focus();
}

async function send(body) {
  const path = route.path ? route.path() : '/api/collections/' + encodeURIComponent(claims.collectionId) + '/' + name.slice(5);
  const button = form && form.querySelector('button');
  if (button) button.disabled = true;
  try {
    const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, token }) });
    const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
    if (res.ok) {
      if (form) form.hidden = true;
      show(route.done(data));
      history.replaceState(null, '', location.pathname + location.search);
      return;
    }
    const retry = res.headers.get('retry-after');
    show((data.message || 'The request failed (' + res.status + ').') + (res.status === 429 && retry ? ' Try again in ' + retry + ' seconds.' : ''), data.data);
    if (form && data.data && data.data.token) form.hidden = true;
  } catch {
    show('The server could not be reached. Check your connection and try again.');
  } finally {
    if (button) button.disabled = false;
  }
}

// A link opened in a tab that already shows this page only changes the hash: start over.
addEventListener('hashchange', () => location.reload());

// Where /api/oauth2-redirect sends the sign-in popup: nothing to do but say how it went.
const OAUTH2 = {
  '#/auth/oauth2-redirect-success': 'Done: the app is finishing your sign-in. You can close this window and go back to it.',
  '#/auth/oauth2-redirect-failure': 'The sign-in did not complete. Close this window and try again from the app.',
};

if (Object.hasOwn(OAUTH2, location.hash)) {
  show(OAUTH2[location.hash]);
  // A popup the app opened may close itself; the app has its answer over realtime already.
  if (location.hash.endsWith('-success')) window.close();
} else if (route && route.type && (claims.type !== route.type || typeof claims.collectionId !== 'string')) {
  show('This link is invalid or incomplete. Request a new one.');
} else if (route) {
  show('');
  for (const element of document.querySelectorAll('[data-claim]')) element.textContent = String(claims[element.dataset.claim] || '');
  // Every route waits for a click: a mail scanner that opens links must not confirm anything.
  form.hidden = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    send(Object.fromEntries(new FormData(form)));
  });
}
`;

const SCRIPT_HASH = createHash('sha256').update(SCRIPT).digest('base64');

const CSP =
  "default-src 'none'; script-src 'sha256-" +
  SCRIPT_HASH +
  "'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Plinth</title>
<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}label{display:block;margin:.8rem 0}input{display:block;width:100%;padding:.4rem;margin-top:.2rem}button{padding:.5rem 1rem}#status{margin-top:1rem}#errors{color:#a00}</style>
</head><body><h1>Plinth</h1>
<form id="install" hidden><p>Create the first superuser account.</p>
<label>Email <input name="email" type="email" required autocomplete="username"></label>
<label>Password <input name="password" type="password" minlength="8" required autocomplete="new-password"></label>
<label>Confirm password <input name="passwordConfirm" type="password" minlength="8" required autocomplete="new-password"></label>
<button type="submit">Create superuser</button></form>
<form id="verification" hidden><p>Confirm that <strong data-claim="email"></strong> is your email address. If you did not sign up, do not confirm: just close this page.</p>
<button type="submit">Confirm my email address</button></form>
<form id="password-reset" hidden><p>Choose a new password for <strong data-claim="email"></strong>.</p>
<label>New password <input name="password" type="password" required autocomplete="new-password"></label>
<label>Confirm new password <input name="passwordConfirm" type="password" required autocomplete="new-password"></label>
<button type="submit">Change password</button></form>
<form id="email-change" hidden><p>Change your email address from <strong data-claim="email"></strong> to <strong data-claim="newEmail"></strong>.</p>
<label>Current password <input name="password" type="password" required autocomplete="current-password"></label>
<button type="submit">Change email address</button></form>
<div id="status" role="status" aria-live="polite"><p id="message">Plinth is running. The dashboard arrives in a later version; use the API or the pocketbase SDK.</p><ul id="errors"></ul></div>
<script>${SCRIPT}</script></body></html>`;
