import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../context.ts';

/**
 * The first-superuser installer: `/_/#/pbinstall/TOKEN` (PocketBase's link) serves this small page until
 * the dashboard exists; it posts to `/api/plinth/installer`.
 */
export async function installerRoutes(app: FastifyInstance, { auth }: HttpDeps): Promise<void> {
  app.post('/api/plinth/installer', async (request) => auth.install(request.body));

  app.get('/_/', async (_request, reply) => {
    reply
      .type('text/html; charset=utf-8')
      .header(
        'content-security-policy',
        "default-src 'none'; script-src 'sha256-" +
          SCRIPT_HASH +
          "'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
      )
      .header('cross-origin-opener-policy', 'same-origin')
      .header('cache-control', 'no-store');
    return PAGE;
  });
}

const SCRIPT = `
const form = document.querySelector('form');
const out = document.querySelector('output');
const token = (location.hash.match(/^#\\/pbinstall\\/(.+)$/) || [])[1];
if (!token) { form.hidden = true; out.textContent = 'Plinth is running. The dashboard arrives in a later version; use the API or the pocketbase SDK.'; }
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const data = Object.fromEntries(new FormData(form));
  const res = await fetch('/api/plinth/installer', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...data, token }) });
  const body = await res.json();
  if (res.ok) { form.hidden = true; out.textContent = 'Superuser ' + body.record.email + ' created. You can now sign in through the API.'; history.replaceState(null, '', '/_/'); }
  else { out.textContent = body.message + ' ' + Object.entries(body.data || {}).map(([k, v]) => k + ': ' + v.message).join(' '); }
});
`;

const SCRIPT_HASH = createHash('sha256').update(SCRIPT).digest('base64');

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Plinth — create the first superuser</title>
<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}label{display:block;margin:.8rem 0}input{display:block;width:100%;padding:.4rem;margin-top:.2rem}button{padding:.5rem 1rem}output{display:block;margin-top:1rem}</style>
</head><body><h1>Plinth</h1>
<form><p>Create the first superuser account.</p>
<label>Email <input name="email" type="email" required autocomplete="username"></label>
<label>Password <input name="password" type="password" minlength="8" required autocomplete="new-password"></label>
<label>Confirm password <input name="passwordConfirm" type="password" minlength="8" required autocomplete="new-password"></label>
<button type="submit">Create superuser</button></form>
<output></output>
<script>${SCRIPT}</script></body></html>`;
