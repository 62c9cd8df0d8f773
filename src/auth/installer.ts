import type { Database } from '../db/index.ts';
import { badRequest, unauthorized } from '../errors/index.ts';
import { isPlainObject, parseJsonOr, randomSecret } from '../lib/index.ts';
import { readParamText, SUPERUSERS_ID } from '../schema/index.ts';
import { type AuthDeps, type Client, SYSTEM } from './context.ts';
import type { AuthResponse, Issued } from './service.ts';
import { inSeconds, signToken, verifyToken } from './tokens.ts';

/** How long the first-superuser installer link stays valid. */
export const INSTALLER_TTL_SECONDS = 30 * 60;

/** The `_params` row whose primary key makes "creating the first superuser" one at a time on every engine. */
const CLAIM_ID = 'installerClaim';
/** A claim older than this was left by a process that died while creating; it may be taken over. */
const CLAIM_STALE_MS = 2 * 60_000;

/**
 * Takes the installer claim: an INSERT that only one caller can win, whatever the engine or node, since
 * the row's id is the table's primary key. Returns the claim's value (to release it), or undefined if
 * someone else holds it.
 */
async function claim(db: Database): Promise<string | undefined> {
  const q = db.dialect.quote;
  const value = JSON.stringify({ at: Date.now(), by: randomSecret(9) });
  for (let attempt = 0; attempt < 2; attempt++) {
    const now = new Date().toISOString().replace('T', ' ');
    try {
      await db.run(
        db.kysely,
        `INSERT INTO ${q('_params')} (${q('id')}, ${q('value')}, ${q('created')}, ${q('updated')}) VALUES (?, ?, ?, ?)`,
        [CLAIM_ID, value, now, now],
      );
      return value;
    } catch (err) {
      if (db.dialect.translateError(err)?.kind !== 'unique') throw err;
    }
    const held = await readParamText(db, CLAIM_ID);
    if (held !== undefined && Date.now() - Number(parseJsonOr(held, { at: 0 }).at) < CLAIM_STALE_MS)
      return undefined;
    if (held !== undefined) await release(db, held);
  }
  return undefined;
}

/** Drops the claim, if it is still the one given (a stale claim taken over is someone else's now). */
async function release(db: Database, value: string): Promise<void> {
  const q = db.dialect.quote;
  await db.run(db.kysely, `DELETE FROM ${q('_params')} WHERE ${q('id')} = ? AND ${q('value')} = ?`, [
    CLAIM_ID,
    value,
  ]);
}

/**
 * The first-superuser installer: a signed link printed at start while no superuser exists, and the call
 * that uses it. Parallel calls with one link create exactly one superuser: each takes the claim, checks
 * again that none exists, creates, and releases it; the others get a 400.
 */
export function createInstaller(deps: AuthDeps, signIn: (input: Issued) => Promise<AuthResponse>) {
  const { collections, records, keys } = deps;
  const alreadyInstalled = () => badRequest('A superuser already exists.');

  /**
   * Whether the table has a row: a lookup on the event loop's connection, not a list. A list on SQLite goes
   * to a reader thread, and this is the one query a start makes: it would start a thread (about 13 MB)
   * that an idle server then holds for a minute.
   */
  async function hasSuperusers(): Promise<boolean> {
    const { db } = deps;
    const q = db.dialect.quote;
    const table = q(collections.get(SUPERUSERS_ID).name);
    return (await db.run(db.kysely, `SELECT 1 AS ${q('found')} FROM ${table} LIMIT 1`, [])).length > 0;
  }

  return {
    hasSuperusers,
    /** A link token while no superuser exists; undefined once one does. */
    async installerToken(): Promise<string | undefined> {
      if (await hasSuperusers()) return undefined;
      return signToken(
        keys,
        { id: randomSecret(12), type: 'installer', collectionId: SUPERUSERS_ID, refreshable: false },
        inSeconds(INSTALLER_TTL_SECONDS),
      );
    },
    async install(body: unknown, client: Client): Promise<AuthResponse> {
      if (
        !isPlainObject(body) ||
        typeof body.token !== 'string' ||
        !(await verifyToken(keys, body.token, 'installer'))
      )
        throw unauthorized('The installer link is invalid or has expired; restart the server for a new one.');
      if (await hasSuperusers()) throw alreadyInstalled();
      const held = await claim(deps.db);
      if (!held) throw badRequest('The first superuser is already being created.');
      const { token: _t, ...data } = body;
      const c = collections.get(SUPERUSERS_ID);
      let id: string;
      try {
        // Checked again under the claim: another call may have created one since the check above.
        if (await hasSuperusers()) throw alreadyInstalled();
        id = String((await records.create(c, { ...data, verified: true }, SYSTEM)).id);
      } finally {
        await release(deps.db, held);
      }
      const record = (await records.find(c, id))!;
      return signIn({ collection: c, record, method: 'installer', client, body: {} });
    },
  };
}
