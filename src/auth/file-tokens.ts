import { unauthorized } from '../errors/index.ts';
import type { AuthContext } from '../records/index.ts';
import { SUPERUSERS_ID, tokenSecret } from '../schema/index.ts';
import { type AuthDeps, tokenSeconds } from './context.ts';
import { inSeconds, signToken, tokenKeyFingerprint, verifyToken } from './tokens.ts';

/** PocketBase's default lifetime of a file token (a collection's `fileToken.duration`), in seconds. */
const FILE_TOKEN_SECONDS = 180;

/**
 * Short-lived tokens that let a browser fetch protected files by URL (`?token=`), where it cannot send an
 * Authorization header. Bound like PocketBase's to the record's tokenKey and the collection's file-token
 * secret (a new password or "invalidate tokens" ends them), and, beyond PocketBase, to the session they were
 * asked from: signing out or revoking that session ends them too.
 */
export function createFileTokens(deps: AuthDeps) {
  /** `POST /api/files/token`: any signed-in record, superusers included. */
  async function fileToken(auth: AuthContext): Promise<{ token: string }> {
    const { collection, record } = auth;
    if (!collection || !record || collection.type !== 'auth')
      throw unauthorized('The request requires valid record authorization token.');
    const token = await signToken(
      deps.keys,
      {
        id: String(record.id),
        type: 'file',
        collectionId: collection.id,
        refreshable: false,
        tk: tokenKeyFingerprint(String(record.tokenKey), tokenSecret(collection.options, 'fileToken')),
        ...(auth.sessionId ? { sid: auth.sessionId } : {}),
      },
      inSeconds(tokenSeconds(collection, 'fileToken', FILE_TOKEN_SECONDS)),
    );
    return { token };
  }

  /** Who a file token speaks for; undefined for any token that is not a valid, current file token. */
  async function fileTokenAuth(token: string): Promise<AuthContext | undefined> {
    const claims = await verifyToken(deps.keys, token, 'file');
    if (!claims?.tk) return undefined;
    const collection = deps.collections.find(claims.collectionId);
    if (collection?.type !== 'auth' || collection.id !== claims.collectionId) return undefined;
    const record = await deps.records.find(collection, claims.id);
    if (!record) return undefined;
    const secret = tokenSecret(collection.options, 'fileToken');
    if (claims.tk !== tokenKeyFingerprint(String(record.tokenKey), secret)) return undefined;
    const isSuperuser = collection.id === SUPERUSERS_ID;
    if (claims.sid && !(await deps.sessions.check(claims.sid, collection.id, claims.id, isSuperuser)))
      return undefined;
    return { collection, record, isSuperuser };
  }

  return { fileToken, fileTokenAuth };
}
