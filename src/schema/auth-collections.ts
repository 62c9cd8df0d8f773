import { nowString } from '../lib/index.ts';
import type { Collection } from './collection.ts';
import { autodateFields, field, idField } from './defaults.ts';

/** Who may read and delete a row of an auth bookkeeping collection: the auth record it belongs to. */
const OWNER_RULE =
  "@request.auth.id != '' && recordRef = @request.auth.id && collectionRef = @request.auth.collectionId";

const ref = (name: string, id: string) => field('text', name, { id, system: true, required: true, max: 255 });
const text = (name: string, id: string, max = 255, hidden = false) =>
  field('text', name, { id, system: true, max, hidden });

function bookkeeping(
  id: string,
  name: string,
  fields: Collection['fields'],
  indexes: string[],
  ownerReadable: boolean,
): Collection {
  const now = nowString();
  const rule = ownerReadable ? OWNER_RULE : null;
  return {
    id,
    name,
    type: 'base',
    system: true,
    fields: [
      idField(),
      ref('collectionRef', `text${id}c`),
      ref('recordRef', `text${id}r`),
      ...fields,
      ...autodateFields(),
    ],
    indexes,
    listRule: rule,
    viewRule: rule,
    createRule: null,
    updateRule: null,
    deleteRule: rule,
    options: {},
    created: now,
    updated: now,
  } as Collection;
}

export const SESSIONS_NAME = '_sessions';
export const OTPS_NAME = '_otps';
export const MFAS_NAME = '_mfas';
export const AUTH_ORIGINS_NAME = '_authOrigins';
export const EXTERNAL_AUTHS_NAME = '_externalAuths';

/**
 * The collections auth keeps its state in. As in PocketBase, `_otps`, `_mfas`, `_authOrigins` and
 * `_externalAuths` are system collections the records API serves (the SDK unlinks an OAuth2 identity by
 * deleting its `_externalAuths` record); `_sessions` is Plinth's own: a user lists their sessions and
 * revokes one by deleting it.
 */
export function authBookkeepingCollections(): Collection[] {
  return [
    bookkeeping(
      'pbc_plinth_sessions',
      SESSIONS_NAME,
      [
        text('method', 'text_sess_method', 50),
        text('ip', 'text_sess_ip', 100),
        text('userAgent', 'text_sess_ua', 500),
        text('impersonatedBy', 'text_sess_imp', 255),
        field('date', 'lastSeen', { id: 'date_sess_seen', system: true }),
        field('date', 'expires', { id: 'date_sess_expires', system: true }),
      ],
      ['CREATE INDEX `idx_sessions_record` ON `_sessions` (`recordRef`, `collectionRef`)'],
      true,
    ),
    bookkeeping(
      'pbc_1638494021',
      OTPS_NAME,
      [
        field('password', 'password', { id: 'password_otp', system: true, hidden: true, required: true }),
        text('sentTo', 'text_otp_sent', 255, true),
      ],
      ['CREATE INDEX `idx_otps_record` ON `_otps` (`recordRef`, `collectionRef`)'],
      false,
    ),
    bookkeeping(
      'pbc_2279338944',
      MFAS_NAME,
      [field('text', 'method', { id: 'text_mfa_method', system: true, required: true, max: 50 })],
      ['CREATE INDEX `idx_mfas_record` ON `_mfas` (`recordRef`, `collectionRef`)'],
      false,
    ),
    bookkeeping(
      'pbc_4275539003',
      AUTH_ORIGINS_NAME,
      [field('text', 'fingerprint', { id: 'text_origin_fp', system: true, required: true, max: 255 })],
      [
        'CREATE UNIQUE INDEX `idx_authOrigins_unique` ON `_authOrigins` (`collectionRef`, `recordRef`, `fingerprint`)',
      ],
      true,
    ),
    bookkeeping(
      'pbc_2281828961',
      EXTERNAL_AUTHS_NAME,
      [
        field('text', 'provider', { id: 'text_ext_provider', system: true, required: true, max: 100 }),
        field('text', 'providerId', { id: 'text_ext_pid', system: true, required: true, max: 255 }),
      ],
      [
        'CREATE UNIQUE INDEX `idx_externalAuths_record_provider` ON `_externalAuths` (`collectionRef`, `recordRef`, `provider`)',
        'CREATE UNIQUE INDEX `idx_externalAuths_collection_provider` ON `_externalAuths` (`collectionRef`, `provider`, `providerId`)',
      ],
      true,
    ),
  ];
}
