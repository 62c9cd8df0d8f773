import { sql } from 'kysely';
import type { Database, Migration } from '../db/index.ts';
import { nowString } from '../lib/index.ts';
import { authBookkeepingCollections } from './auth-collections.ts';
import { boundTextColumns } from './bounded-columns.ts';
import { type Collection, collectionToRow } from './collection.ts';
import {
  authSystemFields,
  authSystemIndexes,
  autodateFields,
  defaultAuthOptions,
  field,
  idField,
  SUPERUSERS_ID,
  USERS_ID,
} from './defaults.ts';
import { formatIndex, parseIndex } from './indexes.ts';
import { SCHEMA_JOURNAL_TABLE } from './schema-journal.ts';
import { applyTableSync, planTableSync } from './sync.ts';

function canonical(indexes: string[], table: string): string[] {
  return indexes.map((text) => {
    const spec = parseIndex(text, table);
    if (typeof spec === 'string') throw new Error(`bad system index ${text}: ${spec}`);
    return formatIndex(spec);
  });
}

function authCollection(
  id: string,
  name: string,
  { fields = [], ...extra }: Partial<Collection>,
  isSuperusers: boolean,
): Collection {
  const now = nowString();
  const options = defaultAuthOptions(isSuperusers);
  return {
    id,
    name,
    type: 'auth',
    system: isSuperusers,
    fields: [idField(), ...authSystemFields(), ...fields, ...autodateFields()],
    indexes: canonical(authSystemIndexes(name, id), name),
    listRule: null,
    viewRule: null,
    createRule: null,
    updateRule: null,
    deleteRule: null,
    ...extra,
    options,
    created: now,
    updated: now,
  } as Collection;
}

/** `_superusers` (system) and the default `users` collection PocketBase apps expect. */
export function systemCollections(): Collection[] {
  const superusers = authCollection(SUPERUSERS_ID, '_superusers', {}, true);
  const ownerRule = 'id = @request.auth.id';
  const users = authCollection(
    USERS_ID,
    'users',
    {
      fields: [
        field('text', 'name', { id: 'text1579384326', max: 255 }),
        field('file', 'avatar', {
          id: 'file376926767',
          maxSelect: 1,
          maxSize: 0,
          protected: false,
          thumbs: null,
          mimeTypes: ['image/jpeg', 'image/png', 'image/svg+xml', 'image/gif', 'image/webp'],
        }),
      ],
      listRule: ownerRule,
      viewRule: ownerRule,
      createRule: '',
      updateRule: ownerRule,
      deleteRule: ownerRule,
    },
    false,
  );
  return [superusers, users];
}

/** The schema's own migrations: system tables, then the system collections. */
export const SYSTEM_MIGRATIONS: Migration[] = [
  {
    name: '0001_system_tables',
    async up(trx, db) {
      const q = db.dialect.quote;
      const text = (n: string) => `${q(n)} TEXT DEFAULT '' NOT NULL`;
      await sql
        .raw(
          `CREATE TABLE ${q('_collections')} (${q('id')} VARCHAR(100) PRIMARY KEY NOT NULL, ${q('name')} VARCHAR(255) NOT NULL, ${text('type')}, ${q('system')} BOOLEAN DEFAULT FALSE NOT NULL, ${text('fields')}, ${text('indexes')}, ${q('listRule')} TEXT NULL, ${q('viewRule')} TEXT NULL, ${q('createRule')} TEXT NULL, ${q('updateRule')} TEXT NULL, ${q('deleteRule')} TEXT NULL, ${text('options')}, ${text('created')}, ${text('updated')})${db.dialect.tableOptions}`,
        )
        .execute(trx);
      await sql
        .raw(`CREATE UNIQUE INDEX ${q('idx__collections_name')} ON ${q('_collections')} (${q('name')})`)
        .execute(trx);
      await sql
        .raw(
          `CREATE TABLE ${q('_params')} (${q('id')} VARCHAR(100) PRIMARY KEY NOT NULL, ${text('value')}, ${text('created')}, ${text('updated')})${db.dialect.tableOptions}`,
        )
        .execute(trx);
    },
  },
  {
    name: '0002_system_collections',
    async up(trx, db) {
      for (const c of systemCollections()) {
        await trx.insertInto('_collections').values(collectionToRow(c)).execute();
        await applyTableSync(trx, planTableSync(db.dialect, undefined, c));
      }
    },
  },
  {
    name: '0003_auth_collections',
    async up(trx, db) {
      for (const c of authBookkeepingCollections()) {
        const withIndexes = { ...c, indexes: canonical(c.indexes, c.name) };
        await trx.insertInto('_collections').values(collectionToRow(withIndexes)).execute();
        await applyTableSync(trx, planTableSync(db.dialect, undefined, withIndexes));
      }
    },
  },
  {
    // Where DDL commits as it runs (MySQL/MariaDB): the undo journal of a schema change (schema-journal.ts).
    name: '0004_schema_journal',
    async up(trx, db) {
      if (db.dialect.transactionalDdl) return;
      const columns = [
        { name: 'id', kind: 'id' as const },
        { name: 'value', kind: 'text' as const },
      ];
      for (const text of db.dialect.createTableSql(SCHEMA_JOURNAL_TABLE, columns))
        await sql.raw(text).execute(trx);
    },
  },
];

/**
 * Migrations that rework collection tables from their definitions. They run after a schema change that a
 * crash cut short has been undone (`recoverSchemaChange`), so that they read definitions that agree with
 * the tables, and that the undo statements run on the columns they were written for.
 */
export const TABLE_MIGRATIONS: Migration[] = [
  {
    name: '0005_bounded_text_columns',
    async up(trx, db) {
      await boundTextColumns(trx, db);
    },
  },
];

/** A database Plinth cannot take over: it holds tables of its own under names Plinth needs. */
export class ForeignTablesError extends Error {
  readonly tables: string[];
  constructor(tables: string[]) {
    super(
      `the database already holds tables Plinth would create (${tables.join(', ')}) and no Plinth migration history: refusing to touch it. Point Plinth at an empty database (or schema), or at one Plinth created.`,
    );
    this.tables = tables;
  }
}

/**
 * On a database Plinth has not set up yet (no `_migrations`), refuses to start if any name it would create
 * is taken — so it never writes into, or fails half-way over, another application's tables.
 */
export async function checkForeignTables(db: Database): Promise<void> {
  const names = new Set(
    (await db.run<{ name: string }>(db.kysely, db.dialect.listTablesSql(), [])).map((r) => String(r.name)),
  );
  if (names.has('_migrations')) return;
  const needed = ['_collections', '_params', 'idx__collections_name'];
  for (const c of [...systemCollections(), ...authBookkeepingCollections()]) {
    needed.push(c.name);
    for (const text of c.indexes) {
      const spec = parseIndex(text, c.name);
      if (typeof spec !== 'string') needed.push(spec.name);
    }
  }
  const taken = needed.filter((n) => names.has(n) || names.has(n.toLowerCase()));
  if (taken.length) throw new ForeignTablesError(taken);
}
