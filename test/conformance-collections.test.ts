import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

// The collections API as PocketBase answers it, route by route. Each case names the PocketBase behaviour
// it checks: a scenario of apis/collection_test.go or apis/collection_import_test.go, or the source
// function (core/collection_validate.go, core/fields_list.go, core/collection_import.go, core/field_*.go).

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked field by field.
type Json = any;

const FIXTURE = new URL('./fixtures/pocketbase-schema.json', import.meta.url);
const pbSchema = (): Json[] => JSON.parse(readFileSync(FIXTURE, 'utf8'));

/** The JSON keys PocketBase writes for each field type (core/field_*.go struct tags), sorted as it writes them. */
const FIELD_KEYS: Record<string, string[]> = {
  text: ['autogeneratePattern', 'max', 'min', 'pattern', 'primaryKey'],
  editor: ['convertURLs', 'maxSize'],
  number: ['max', 'min', 'onlyInt'],
  bool: [],
  email: ['exceptDomains', 'onlyDomains'],
  url: ['exceptDomains', 'onlyDomains'],
  date: ['max', 'min'],
  autodate: ['onCreate', 'onUpdate'],
  select: ['maxSelect', 'values'],
  file: ['maxSelect', 'maxSize', 'mimeTypes', 'protected', 'thumbs'],
  relation: ['cascadeDelete', 'collectionId', 'maxSelect', 'minSelect'],
  json: ['maxSize'],
  geoPoint: [],
  password: ['cost', 'max', 'min', 'pattern'],
};
const COMMON = ['help', 'hidden', 'id', 'name', 'presentable', 'required', 'system', 'type'];
const keysOf = (type: string) =>
  [
    ...(type === 'autodate' ? COMMON.filter((k) => k !== 'help' && k !== 'required') : COMMON),
    ...FIELD_KEYS[type]!,
  ].sort();

let serial = 0;
const uniq = (prefix: string) => `${prefix}_${Date.now().toString(36)}${serial++}`;

describe(`collections API as PocketBase's on ${TEST_ENGINE}`, () => {
  let srv: TestServer;
  let userToken = '';
  const su = (method: string, path: string, body?: unknown) =>
    srv.request(method, path, { token: srv.adminToken, ...(body === undefined ? {} : { body }) });
  const create = async (body: Json) => {
    const res = await su('POST', '/api/collections', body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const refused = async (method: string, path: string, body: unknown) => {
    const res = await su(method, path, body);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body).sort(), ['data', 'message', 'status']);
    return res.body.data;
  };
  const count = async () => (await su('GET', '/api/collections?perPage=1')).body.totalItems;

  before(async () => {
    srv = await startServer();
    const email = 'reader@example.com';
    const password = 'reader-password-1';
    await srv.request('POST', '/api/collections/users/records', {
      body: { email, password, passwordConfirm: password },
    });
    const auth = await srv.request('POST', '/api/collections/users/auth-with-password', {
      body: { identity: email, password },
    });
    userToken = auth.body.token;
    for (const n of ['demo1', 'demo2', 'demo3']) await create({ name: uniq(n), fields: [] });
  });
  after(() => srv?.close());

  describe('GET /api/collections?filter=', () => {
    // TestCollectionsList "unauthorized" / "authorized as regular user"
    it('is 401 for guests and 403 for non-superusers, with empty data', async () => {
      const guest = await srv.request('GET', '/api/collections');
      assert.equal(guest.status, 401);
      assert.deepEqual(guest.body.data, {});
      const user = await srv.request('GET', '/api/collections', { token: userToken });
      assert.equal(user.status, 403);
      assert.deepEqual(user.body.data, {});
    });

    // TestCollectionsList "authorized as superuser + valid filter" (filter=name~'demo')
    it("filters by name with ~ as the dashboard's search does", async () => {
      const res = await su('GET', `/api/collections?filter=${encodeURIComponent("name~'demo'")}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.totalItems, 3);
      assert.ok(res.body.items.every((c: Json) => c.name.startsWith('demo')));
    });

    // apis/collection.go collectionsList: resolver fields id, created, updated, name, system, type
    it('filters on type, system, id, created and updated, with && and ||', async () => {
      const names = async (filter: string) =>
        (await su('GET', `/api/collections?perPage=500&filter=${encodeURIComponent(filter)}`)).body.items
          .map((c: Json) => c.name)
          .sort();
      assert.deepEqual(await names('type="auth"'), ['_superusers', 'users']);
      assert.ok((await names('system=true')).includes('_superusers'));
      assert.ok(!(await names('system=false')).includes('_superusers'));
      assert.deepEqual(await names('id="_pb_users_auth_" || name="_superusers"'), ['_superusers', 'users']);
      const all = (await su('GET', '/api/collections?perPage=500')).body.items;
      const newest = all.reduce((a: Json, b: Json) => (a.created > b.created ? a : b));
      assert.ok((await names(`created >= "${newest.created}"`)).includes(newest.name));
      assert.deepEqual(await names(`updated > "9999"`), []);
      assert.equal((await names('created <= @now && type != "view"')).length, all.length);
    });

    // provider.go: the filter narrows, then sort and paging apply to what is left
    it('pages and counts the filtered list', async () => {
      const res = await su(
        'GET',
        `/api/collections?perPage=2&page=2&sort=-name&filter=${encodeURIComponent("name~'demo'")}`,
      );
      assert.equal(res.body.totalItems, 3);
      assert.equal(res.body.totalPages, 2);
      assert.equal(res.body.items.length, 1);
      assert.match(res.body.items[0].name, /^demo1/);
    });

    // TestCollectionsList "authorized as superuser + invalid filter"; SimpleFieldResolver refuses other names
    it('answers 400 with empty data to filters PocketBase refuses, never a 500', async () => {
      for (const filter of [
        "invalidfield~'demo2'",
        'fields.name="x"',
        "options='x'",
        "@request.auth.id=''",
        "@collection.users.id='x'",
        "name:lower='x'",
        "name='x' OR 1=1 --",
        "name='x'; DROP TABLE _collections",
        "strftime('%Y', created)='2024'",
        "name='unterminated",
        '('.repeat(40) + "name='x'" + ')'.repeat(40),
        `name='${'x'.repeat(4000)}'`,
        Array.from({ length: 201 }, () => "name='x'").join(' || '),
      ]) {
        const res = await su('GET', `/api/collections?filter=${encodeURIComponent(filter)}`);
        assert.equal(res.status, 400, `${filter.slice(0, 60)}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(res.body.data, {});
      }
      assert.equal((await su('GET', '/api/collections')).status, 200);
    });
  });

  describe('GET /api/collections/meta/scaffolds', () => {
    // TestCollectionScaffolds "unauthorized" / "authorized as regular user"
    it('is for superusers only', async () => {
      assert.equal((await srv.request('GET', '/api/collections/meta/scaffolds')).status, 401);
      const user = await srv.request('GET', '/api/collections/meta/scaffolds', { token: userToken });
      assert.equal(user.status, 403);
    });

    // TestCollectionScaffolds "authorized as superuser"; apis/collection.go collectionScaffolds
    it('answers a blank collection of each type with its system fields, ids, options and indexes', async () => {
      const res = await su('GET', '/api/collections/meta/scaffolds');
      assert.equal(res.status, 200);
      const { auth, base, view } = res.body;
      assert.deepEqual(Object.keys(res.body), ['auth', 'base', 'view']);
      for (const [type, c] of Object.entries({ auth, base, view }) as [string, Json][]) {
        assert.equal(c.id, '');
        assert.equal(c.name, '');
        assert.equal(c.type, type);
        assert.equal(c.system, false);
        assert.equal(c.created, '');
        assert.equal(c.listRule, null);
      }
      assert.deepEqual(
        base.fields.map((f: Json) => f.id),
        ['text3208210256'],
      );
      assert.deepEqual(base.indexes, []);
      assert.deepEqual(view.fields, []);
      assert.equal(view.viewQuery, '');
      assert.deepEqual(
        auth.fields.map((f: Json) => `${f.id}:${f.name}`),
        [
          'text3208210256:id',
          'password901924565:password',
          'text2504183744:tokenKey',
          'email3885137012:email',
          'bool1547992806:emailVisibility',
          'bool256245529:verified',
        ],
      );
      for (const f of auth.fields) assert.deepEqual(Object.keys(f), keysOf(f.type));
      assert.equal(auth.indexes.length, 2);
      assert.match(auth.indexes[0], /^CREATE UNIQUE INDEX `idx_tokenKey_[a-z0-9]{10}` ON `` \(`tokenKey`\)$/);
      assert.match(auth.indexes[1], /^CREATE UNIQUE INDEX `idx_email_[a-z0-9]{10}` ON `` \(`email`/);
      assert.equal(auth.authRule, '');
      assert.equal(auth.manageRule, null);
      assert.deepEqual(auth.passwordAuth, { enabled: true, identityFields: ['email'] });
      assert.deepEqual(auth.oauth2.providers, []);
      for (const key of [
        'authToken',
        'passwordResetToken',
        'emailChangeToken',
        'verificationToken',
        'fileToken',
      ]) {
        assert.deepEqual(Object.keys(auth[key]), ['duration'], `${key} carries no secret`);
      }
    });

    // ui/src/collections/collectionUpsertModal.js: a new collection starts from the scaffold
    it('takes the auth scaffold back as a new collection, without doubling its indexes', async () => {
      const { auth } = (await su('GET', '/api/collections/meta/scaffolds')).body;
      const name = uniq('members');
      const c = await create({ ...auth, name });
      assert.match(c.id, /^pbc_\d+$/);
      assert.equal(c.indexes.length, 2);
      assert.ok(c.indexes.every((i: string) => i.includes(`ON \`${name}\``)));
    });

    // the route is registered before /api/collections/{collection}
    it('leaves a collection named "meta" reachable', async () => {
      const meta = await create({ name: 'meta', listRule: '', fields: [{ name: 'title', type: 'text' }] });
      assert.equal((await su('GET', '/api/collections/meta')).body.id, meta.id);
      const records = await srv.request('GET', '/api/collections/meta/records');
      assert.equal(records.status, 200, JSON.stringify(records.body));
    });
  });

  describe('POST /api/collections', () => {
    // TestCollectionCreate "authorized as superuser + valid data": the id field is prepended, exact field JSON
    it('answers each field with every key PocketBase writes, in its order', async () => {
      const c = await create({
        name: uniq('new'),
        type: 'base',
        fields: [{ type: 'text', id: '12345789', name: 'test' }],
      });
      assert.equal(
        JSON.stringify(c.fields),
        '[{"autogeneratePattern":"[a-z0-9]{15}","help":"","hidden":false,"id":"text3208210256","max":15,"min":15,"name":"id","pattern":"^[a-z0-9]+$","presentable":false,"primaryKey":true,"required":true,"system":true,"type":"text"},{"autogeneratePattern":"","help":"","hidden":false,"id":"12345789","max":0,"min":0,"name":"test","pattern":"","presentable":false,"primaryKey":false,"required":false,"system":false,"type":"text"}]',
      );
      assert.deepEqual(Object.keys(c).slice(0, 13), [
        'id',
        'listRule',
        'viewRule',
        'createRule',
        'updateRule',
        'deleteRule',
        'name',
        'type',
        'fields',
        'indexes',
        'created',
        'updated',
        'system',
      ]);
    });

    // core/field_*.go: each type's JSON keys; core/fields_list.go add(): default id = type + crc32(name)
    it('gives every field type its keys, default options and PocketBase default id', async () => {
      const target = await create({ name: uniq('target') });
      const fields = Object.keys(FIELD_KEYS)
        .filter((t) => t !== 'password')
        .map((type) => ({
          name: `f_${type}`,
          type,
          help: `About ${type}`,
          ...(type === 'select' ? { values: ['a'] } : {}),
          ...(type === 'relation' ? { collectionId: target.id } : {}),
        }));
      const c = await create({ name: uniq('alltypes'), fields });
      for (const f of c.fields.slice(1)) {
        assert.deepEqual(Object.keys(f), keysOf(f.type), f.type);
        assert.match(f.id, new RegExp(`^${f.type}\\d+$`));
        if (f.type !== 'autodate') assert.equal(f.help, `About ${f.type}`);
      }
      const crcTitle = (await create({ name: uniq('crc'), fields: [{ name: 'name', type: 'text' }] }))
        .fields[1];
      assert.equal(crcTitle.id, 'text1579384326');
      const auth = await create({ name: uniq('pw'), type: 'auth' });
      const password = auth.fields.find((f: Json) => f.type === 'password');
      assert.deepEqual(Object.keys(password), keysOf('password'));
    });

    // core/field.go DefaultFieldHelpValidationRule (length 1..300); autodate has no help
    it('takes help from the client, up to 300 characters', async () => {
      const c = await create({
        name: uniq('help'),
        fields: [
          { name: 'title', type: 'text', help: 'Shown on the card' },
          { name: 'stamp', type: 'autodate', onCreate: true, help: 'ignored' },
        ],
      });
      assert.equal(c.fields[1].help, 'Shown on the card');
      assert.equal('help' in c.fields[2], false);
      const data = await refused('POST', '/api/collections', {
        name: uniq('help'),
        fields: [{ name: 'title', type: 'text', help: 'x'.repeat(301) }],
      });
      assert.equal(data.fields['1'].help.code, 'validation_length_out_of_range');
      const wrongType = await refused('POST', '/api/collections', {
        name: uniq('help'),
        fields: [{ name: 'title', type: 'text', help: 5 }],
      });
      assert.ok(wrongType.fields['1'].help);
    });

    // TestCollectionCreate "authorized as superuser + invalid data (eg. existing name)"
    it('reports a taken name and a blank field name together', async () => {
      const taken = await create({ name: uniq('taken') });
      const data = await refused('POST', '/api/collections', {
        name: taken.name,
        type: 'base',
        fields: [{ type: 'text', name: '' }],
      });
      assert.equal(data.name.code, 'validation_collection_name_exists');
      assert.equal(data.fields['1'].name.code, 'validation_required');
    });

    // TestCollectionCreate "authorized as superuser + empty data"
    it('answers an empty body with name validation_required and no fields error', async () => {
      const res = await srv.request('POST', '/api/collections', {
        token: srv.adminToken,
        rawBody: '',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.status, 400);
      assert.equal(res.body.data.name.code, 'validation_required');
      assert.equal(res.body.data.fields, undefined);
    });

    // TestCollectionCreate "trying to create base collection with reserved system fields"
    it('refuses expand, collectionId and collectionName as field names', async () => {
      const data = await refused('POST', '/api/collections', {
        name: uniq('new'),
        type: 'base',
        fields: ['id', 'expand', 'collectionId', 'collectionName'].map((name) => ({ type: 'text', name })),
      });
      assert.equal(data.fields['0'], undefined);
      for (const i of ['1', '2', '3']) assert.equal(data.fields[i].name.code, 'validation_not_in_invalid');
    });

    // TestCollectionCreate "trying to create auth collection with reserved auth fields" / "base ... reserved auth fields"
    it('reserves oldPassword and passwordConfirm in auth collections only', async () => {
      const fields = [
        { type: 'text', name: 'oldPassword' },
        { type: 'text', name: 'passwordConfirm' },
      ];
      const data = await refused('POST', '/api/collections', { name: uniq('new'), type: 'auth', fields });
      assert.equal(data.fields['1'].name.code, 'validation_reserved_field_name');
      assert.equal(data.fields['2'].name.code, 'validation_reserved_field_name');
      await create({
        name: uniq('new'),
        type: 'base',
        fields: [...fields, { type: 'text', name: 'username' }],
      });
    });

    // TestCollectionCreate "creating auth collection (default settings merge test)"
    it("takes a client's options for a system field but enforces its flags", async () => {
      const c = await create({
        name: uniq('new'),
        type: 'auth',
        emailChangeToken: { duration: 123 },
        fields: [
          { type: 'text', id: '12345789', name: 'test' },
          { type: 'text', name: 'tokenKey', system: true, required: false, min: 10 },
        ],
      });
      assert.equal(c.emailChangeToken.duration, 123);
      const tokenKey = c.fields.find((f: Json) => f.name === 'tokenKey');
      assert.equal(
        JSON.stringify(tokenKey),
        '{"autogeneratePattern":"","help":"","hidden":true,"id":"text2504183744","max":0,"min":10,"name":"tokenKey","pattern":"","presentable":false,"primaryKey":false,"required":true,"system":true,"type":"text"}',
      );
      assert.deepEqual(
        c.fields.map((f: Json) => f.name),
        ['id', 'test', 'tokenKey', 'password', 'email', 'emailVisibility', 'verified'],
      );
    });

    // core/collection_validate.go checkFieldDuplicates: the first duplicate id, else name, keyed fields.N
    it('reports duplicated field ids and names at the later index, ids first', async () => {
      const ids = await refused('POST', '/api/collections', {
        name: uniq('dup'),
        fields: [
          { id: 'same', name: 'a', type: 'text' },
          { id: 'same', name: 'A', type: 'text' },
        ],
      });
      assert.equal(ids.fields['2'].id.code, 'validation_duplicated_field_id');
      assert.equal(Object.keys(ids.fields).length, 1);
      const names = await refused('POST', '/api/collections', {
        name: uniq('dup'),
        fields: [
          { name: 'title', type: 'text' },
          { name: 'TITLE', type: 'number' },
        ],
      });
      assert.deepEqual(names.fields['2'].name, {
        code: 'validation_duplicated_field_name',
        message: 'Duplicated or invalid field name TITLE.',
        params: { fieldName: 'TITLE' },
      });
    });

    // core/collection_validate.go: name Required, Length, checkForVia, Match, checkUniqueName
    it("checks a collection's name with PocketBase's codes", async () => {
      const existing = await create({ name: uniq('exists') });
      const cases: [unknown, string][] = [
        ['', 'validation_required'],
        ['has space', 'validation_match_invalid'],
        ["x'; DROP TABLE users; --", 'validation_match_invalid'],
        ['posts_via_author', 'validation_found_via'],
        ['x'.repeat(64), 'validation_length_out_of_range'],
        [existing.name.toUpperCase(), 'validation_collection_name_exists'],
        [existing.id, 'validation_collection_name_id_duplicate'],
        ['_private', 'validation_collection_name_invalid'],
        ['_collections', 'validation_collection_name_invalid'],
      ];
      for (const [name, code] of cases) {
        const data = await refused('POST', '/api/collections', { name });
        assert.equal(data.name?.code, code, String(name));
      }
      const id = await refused('POST', '/api/collections', { id: existing.id, name: uniq('x') });
      assert.equal(id.id.code, 'validation_invalid_or_existing_id');
    });

    // core/field_relation.go ValidateSettings: collectionId Required, then must exist
    it('refuses a relation to no collection or to a missing one', async () => {
      const blank = await refused('POST', '/api/collections', {
        name: uniq('rel'),
        fields: [{ name: 'link', type: 'relation', collectionId: '' }],
      });
      assert.equal(blank.fields['1'].collectionId.code, 'validation_required');
      const missing = await refused('POST', '/api/collections', {
        name: uniq('rel'),
        fields: [{ name: 'link', type: 'relation', collectionId: 'pbc_missing' }],
      });
      assert.equal(missing.fields['1'].collectionId.code, 'validation_field_relation_missing_collection');
    });
  });

  describe('PATCH /api/collections/{collection}', () => {
    // TestCollectionUpdate "authorized as superuser + empty body"
    it('answers an empty body with the collection unchanged', async () => {
      const c = await create({ name: uniq('same'), fields: [{ name: 'title', type: 'text' }] });
      const res = await su('PATCH', `/api/collections/${c.id}`, {});
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.fields, c.fields);
    });

    // TestCollectionUpdate "authorized as superuser + invalid data (eg. existing name)"
    it('reports a taken name and a type change together', async () => {
      const a = await create({ name: uniq('a') });
      const b = await create({ name: uniq('b') });
      const data = await refused('PATCH', `/api/collections/${a.id}`, { name: b.name, type: 'auth' });
      assert.equal(data.name.code, 'validation_collection_name_exists');
      assert.equal(data.type.code, 'validation_collection_type_change');
    });

    // core/fields_list.go add(): a field without id gets type+crc32(name), so it is the field created that way
    it('treats a field sent without id as the field of that default id, keeping its data', async () => {
      const c = await create({ name: uniq('noid'), listRule: '', fields: [{ name: 'title', type: 'text' }] });
      const rec = await su('POST', `/api/collections/${c.id}/records`, { title: 'kept' });
      const res = await su('PATCH', `/api/collections/${c.id}`, {
        fields: [{ name: 'title', type: 'text', max: 50, help: 'Now with help' }],
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const title = res.body.fields.find((f: Json) => f.name === 'title');
      assert.equal(title.id, c.fields[1].id);
      assert.equal(title.max, 50);
      assert.equal(title.help, 'Now with help');
      assert.equal((await su('GET', `/api/collections/${c.id}/records/${rec.body.id}`)).body.title, 'kept');
    });

    // core/collection_validate.go checkFieldDuplicates after fields_list.go add(): a new id, the same name
    it('refuses a field without id beside the existing field of that name (other id)', async () => {
      const c = await create({
        name: uniq('clash'),
        fields: [{ id: 'custom_title', name: 'title', type: 'text' }],
      });
      const data = await refused('PATCH', `/api/collections/${c.id}`, {
        fields: [...c.fields, { name: 'title', type: 'text' }],
      });
      assert.equal(data.fields['2'].name.code, 'validation_duplicated_field_name');
    });

    // Plinth keeps a field sent without id whose name and type match an existing field with another id
    // (PocketBase would drop and recreate that column: see docs/compatibility.md)
    it('keeps the data of an existing field with a custom id when it is sent by name only', async () => {
      const c = await create({
        name: uniq('custom'),
        fields: [{ id: 'custom_title', name: 'title', type: 'text' }],
      });
      const rec = await su('POST', `/api/collections/${c.id}/records`, { title: 'kept' });
      const res = await su('PATCH', `/api/collections/${c.id}`, {
        fields: [{ name: 'title', type: 'text' }],
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.fields[1].id, 'custom_title');
      assert.equal((await su('GET', `/api/collections/${c.id}/records/${rec.body.id}`)).body.title, 'kept');
    });

    // TestCollectionUpdate "trying to update collection with reserved fields"
    it('refuses reserved names at their index and nothing else', async () => {
      const c = await create({
        name: uniq('legacy'),
        fields: [
          { type: 'text', name: 'id', id: '_pbf_text_id_' },
          { type: 'autodate', name: 'created', onCreate: true },
          { type: 'autodate', name: 'updated', onCreate: true, onUpdate: true },
        ],
      });
      assert.equal(c.fields[0].id, '_pbf_text_id_');
      const data = await refused('PATCH', `/api/collections/${c.id}`, {
        name: uniq('new'),
        fields: [
          { type: 'text', name: 'id', id: '_pbf_text_id_' },
          { type: 'text', name: 'created' },
          { type: 'text', name: 'updated' },
          { type: 'text', name: 'expand' },
          { type: 'text', name: 'collectionId' },
          { type: 'text', name: 'collectionName' },
        ],
      });
      assert.deepEqual(Object.keys(data), ['fields']);
      assert.deepEqual(Object.keys(data.fields), ['3', '4', '5']);
      for (const i of ['3', '4', '5']) assert.equal(data.fields[i].name.code, 'validation_not_in_invalid');
    });

    // core/collection_model.go initDefaultFields: left-out id and auth fields are put back, no error
    it('puts back system fields a client leaves out', async () => {
      const c = await create({ name: uniq('authx'), type: 'auth', fields: [{ name: 'nick', type: 'text' }] });
      const res = await su('PATCH', `/api/collections/${c.id}`, { fields: [{ name: 'nick', type: 'text' }] });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(
        res.body.fields.map((f: Json) => f.id),
        c.fields.map((f: Json) => f.id),
      );
    });

    // TestCollectionUpdate "trying to update collection with changed/removed system fields";
    // core/collection_validate.go ensureNoSystemFieldsChange (keyed on `fields` itself), checkMinFields
    it('refuses a renamed or replaced system field with validation_system_field_change', async () => {
      const c = await create({ name: uniq('sys'), type: 'auth' });
      const renamed = c.fields.map((f: Json) => (f.name === 'email' ? { ...f, name: 'mail' } : f));
      const data = await refused('PATCH', `/api/collections/${c.id}`, { fields: renamed });
      assert.deepEqual(data.fields, {
        code: 'validation_system_field_change',
        message: 'System fields cannot be deleted or renamed.',
      });
      // A renamed id field leaves no primary key (its id takes the id field's place, as in PocketBase).
      const noPk = c.fields.map((f: Json) => (f.name === 'id' ? { ...f, name: 'pk' } : f));
      const pk = await refused('PATCH', `/api/collections/${c.id}`, { fields: noPk });
      assert.equal(pk.fields.code, 'validation_missing_primary_key');
      const replaced = c.fields.map((f: Json) => (f.name === 'email' ? { name: 'email', type: 'text' } : f));
      const data2 = await refused('PATCH', `/api/collections/${c.id}`, { fields: replaced });
      assert.equal(data2.fields.code, 'validation_system_field_change');
    });

    // core/collection_model.go initIdField/initTokenKeyField: options are the client's, flags enforced
    it("takes a client's options for system fields and keeps their flags", async () => {
      const c = await create({ name: uniq('opts'), type: 'auth' });
      const fields = c.fields.map((f: Json) => {
        if (f.name === 'id')
          return {
            ...f,
            min: 5,
            max: 20,
            pattern: '^[a-z0-9_]+$',
            autogeneratePattern: '[a-z]{12}',
            hidden: true,
          };
        if (f.name === 'tokenKey') return { ...f, required: false, hidden: false };
        if (f.name === 'email') return { ...f, onlyDomains: ['example.com'], hidden: true };
        return f;
      });
      const res = await su('PATCH', `/api/collections/${c.id}`, { fields });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const by = (n: string) => res.body.fields.find((f: Json) => f.name === n);
      assert.deepEqual(
        [by('id').min, by('id').max, by('id').hidden, by('id').primaryKey],
        [5, 20, false, true],
      );
      assert.equal(by('id').autogeneratePattern, '[a-z]{12}');
      assert.deepEqual([by('tokenKey').required, by('tokenKey').hidden], [true, true]);
      assert.deepEqual([by('email').onlyDomains, by('email').hidden], [['example.com'], false]);
    });

    // core/collection_validate.go ensureNoFieldsTypeChange: fields.N = the error itself
    it('refuses a field type change at the field, after the duplicate check', async () => {
      const c = await create({ name: uniq('ty'), fields: [{ name: 'n', type: 'number' }] });
      const changed = c.fields.map((f: Json) => (f.name === 'n' ? { ...f, type: 'text' } : f));
      const data = await refused('PATCH', `/api/collections/${c.id}`, { fields: changed });
      assert.deepEqual(data.fields['1'], {
        code: 'validation_field_type_change',
        message: 'Field type cannot be changed.',
      });
      const both = await refused('PATCH', `/api/collections/${c.id}`, {
        fields: [...changed, { name: 'N', type: 'bool' }],
      });
      assert.equal(both.fields['2'].name.code, 'validation_duplicated_field_name');
      assert.equal(both.fields['1'], undefined);
    });

    // core/collection_validate.go ensureNoSystemNameChange / ensureNoSystemFlagChange / ensureNoSystemRuleChange
    it('keeps system collections, their flag and their rules as they are', async () => {
      const name = await refused('PATCH', '/api/collections/_superusers', { name: 'admins' });
      assert.equal(name.name.code, 'validation_collection_system_name_change');
      const rule = await refused('PATCH', '/api/collections/_superusers', { listRule: '' });
      assert.equal(rule.listRule.code, 'validation_collection_system_rule_change');
      const flag = await refused('PATCH', '/api/collections/users', { system: true });
      assert.equal(flag.system.code, 'validation_collection_system_flag_change');
      const ok = await su('PATCH', '/api/collections/_superusers', { authToken: { duration: 3600 } });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
    });

    // hostile bodies: 400 with PocketBase's error JSON, never a 500, nothing written
    it('refuses hostile bodies with a 400 and changes nothing', async () => {
      const c = await create({ name: uniq('hostile'), fields: [{ name: 'title', type: 'text' }] });
      const bodies: unknown[] = [
        { fields: 'x' },
        { fields: [null] },
        { fields: [[]] },
        { fields: [{ name: 'a', type: { $gt: '' } }] },
        { fields: [{ name: ['a'], type: 'text' }] },
        { fields: [{ name: 'a', type: 'text', hidden: 'yes' }] },
        { fields: [{ name: 'a', type: 'text', id: 7 }] },
        { fields: [{ name: 'a', type: 'text', id: 'x"; DROP TABLE users; --' }] },
        { fields: Array.from({ length: 10_000 }, (_, i) => ({ name: `f${i}`, type: 'text' })) },
        { indexes: Array.from({ length: 5000 }, () => 'CREATE INDEX x ON t (title)') },
        { indexes: ['CREATE INDEX x ON t (title); DROP TABLE users'] },
        { name: { toString: 'x' } },
        { listRule: ['x'] },
        { fields: [{ name: 'a', type: 'select', values: 'a' }] },
        { fields: [{ name: '__proto__', type: 'text' }] },
      ];
      const before = await su('GET', `/api/collections/${c.id}`);
      const total = await count();
      for (const body of bodies) {
        const res = await su('PATCH', `/api/collections/${c.id}`, body);
        assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
        assert.equal(res.body.status, 400);
        const created = await su('POST', '/api/collections', { name: uniq('hostile'), ...(body as object) });
        assert.equal(created.status, 400, JSON.stringify(body).slice(0, 80));
      }
      assert.deepEqual((await su('GET', `/api/collections/${c.id}`)).body, before.body);
      assert.equal(await count(), total);
    });
  });
});

describe(`PUT /api/collections/import of a PocketBase export on ${TEST_ENGINE}`, () => {
  let srv: TestServer;
  const su = (method: string, path: string, body?: unknown) =>
    srv.request(method, path, { token: srv.adminToken, ...(body === undefined ? {} : { body }) });
  const importSchema = (collections: unknown, deleteMissing = false) =>
    su('PUT', '/api/collections/import', { collections, deleteMissing });
  const records: Record<string, string> = {};

  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.close());

  // apis/collection_import.go collectionsImportForm: collections Required, a list of objects
  it('answers malformed imports as PocketBase does, changing nothing', async () => {
    const before = (await su('GET', '/api/collections?perPage=500')).body.items;
    const empty = await su('PUT', '/api/collections/import', { collections: [] });
    assert.equal(empty.status, 400);
    assert.deepEqual(empty.body.data, {
      collections: { code: 'validation_required', message: 'Cannot be blank.' },
    });
    for (const collections of ['x', [1], [null], { a: 1 }]) {
      const res = await su('PUT', '/api/collections/import', { collections });
      assert.equal(res.status, 400, JSON.stringify(collections));
      assert.deepEqual(res.body.data, {});
    }
    const many = await su('PUT', '/api/collections/import', {
      collections: Array.from({ length: 1001 }, (_, i) => ({ name: `c${i}` })),
    });
    assert.equal(many.status, 400);
    assert.ok(many.body.data.collections);
    const sql = await su('PUT', '/api/collections/import', {
      collections: [{ name: 'x; DROP TABLE _collections; --', fields: [{ name: "a'); --", type: 'text' }] }],
    });
    assert.equal(sql.status, 400);
    assert.equal(sql.body.data.collections.code, 'validation_collections_import_failure');
    assert.deepEqual((await su('GET', '/api/collections?perPage=500')).body.items, before);
  });

  // core/collection_import.go ImportCollections: new collections created from the export as is
  it('imports a PocketBase export into a fresh Plinth', async () => {
    const res = await importSchema(pbSchema());
    assert.equal(res.status, 204, JSON.stringify(res.body));
    const fixture = pbSchema();
    for (const name of ['users', 'tags', 'posts']) {
      const want = fixture.find((c) => c.name === name);
      const got = (await su('GET', `/api/collections/${name}`)).body;
      assert.equal(got.id, want.id);
      assert.deepEqual(got.fields, want.fields, name);
      assert.deepEqual(got.indexes, want.indexes, name);
      assert.equal(got.listRule, want.listRule);
    }
    const users = (await su('GET', '/api/collections/users')).body;
    assert.deepEqual(users.passwordAuth.identityFields, ['email', 'username']);
    assert.equal(users.authToken.duration, 604800);
    // System collections keep Plinth's own definition: only their auth options come from the import.
    const superusers = (await su('GET', '/api/collections/_superusers')).body;
    assert.equal(superusers.mfa.duration, 600);
    assert.ok((await su('GET', '/api/collections/_sessions')).body.system);

    const user = await su('POST', '/api/collections/users/records', {
      email: 'ann@example.com',
      username: 'ann',
      password: 'ann-password-1',
      passwordConfirm: 'ann-password-1',
    });
    assert.equal(user.status, 200, JSON.stringify(user.body));
    const tag = await su('POST', '/api/collections/tags/records', { name: 'news', color: 'red' });
    const post = await su('POST', '/api/collections/posts/records', {
      title: 'Hello',
      slug: 'hello',
      views: 7,
      author: user.body.id,
      tags: [tag.body.id],
      location: { lon: 1, lat: 2 },
    });
    assert.equal(post.status, 200, JSON.stringify(post.body));
    Object.assign(records, { user: user.body.id, tag: tag.body.id, post: post.body.id });
    // The imported identity field works for sign-in.
    const signIn = await srv.request('POST', '/api/collections/users/auth-with-password', {
      body: { identity: 'ann', password: 'ann-password-1' },
    });
    assert.equal(signIn.status, 200, JSON.stringify(signIn.body));
  });

  // ImportCollections over existing collections matched by id: nothing changes, records stay
  it('imports the same export again over itself without change', async () => {
    const before = (await su('GET', '/api/collections?perPage=500')).body.items;
    const res = await importSchema(pbSchema(), true);
    assert.equal(res.status, 204, JSON.stringify(res.body));
    const after = (await su('GET', '/api/collections?perPage=500')).body.items;
    const strip = (list: Json[]) => list.map(({ updated: _u, ...c }) => c);
    assert.deepEqual(strip(after), strip(before));
    const post = (await su('GET', `/api/collections/posts/records/${records.post}`)).body;
    assert.deepEqual([post.title, post.views, post.tags], ['Hello', 7, [records.tag]]);
  });

  // ImportCollections with deleteMissing; field ids remapped by name and type ("replace with the existing id")
  it('imports a modified export: changed field ids, a renamed and a new field, deleteMissing', async () => {
    const modified = pbSchema().filter((c) => c.name !== 'tags');
    const posts = modified.find((c) => c.name === 'posts');
    const oldViewsId = posts.fields.find((f: Json) => f.name === 'views').id;
    posts.fields = posts.fields
      .filter((f: Json) => f.name !== 'tags')
      .map((f: Json) => {
        if (f.name === 'title') return { ...f, id: 'text_title_from_elsewhere', max: 300 };
        if (f.name === 'views') return { ...f, name: 'viewCount' };
        return f;
      });
    posts.fields.push({ name: 'subtitle', type: 'text', id: 'text_subtitle', max: 100 });
    const res = await importSchema(modified, true);
    assert.equal(res.status, 204, JSON.stringify(res.body));
    assert.equal((await su('GET', '/api/collections/tags')).status, 404);
    const got = (await su('GET', '/api/collections/posts')).body;
    const by = (n: string) => got.fields.find((f: Json) => f.name === n);
    assert.equal(by('title').id, pbSchema().find((c) => c.name === 'posts').fields[1].id);
    assert.equal(by('title').max, 300);
    assert.equal(by('viewCount').id, oldViewsId);
    assert.equal(by('tags'), undefined);
    assert.equal(by('subtitle').id, 'text_subtitle');
    const post = (await su('GET', `/api/collections/posts/records/${records.post}`)).body;
    assert.deepEqual(
      [post.title, post.viewCount, post.subtitle, post.author],
      ['Hello', 7, '', records.user],
    );
    assert.equal('tags' in post, false);
    assert.equal((await su('GET', `/api/collections/users/records/${records.user}`)).body.username, 'ann');
    assert.ok((await su('GET', '/api/collections/_sessions')).body.system);
  });

  // core/collection_import.go: without deleteMissing an existing field the import leaves out is kept
  it('keeps fields and collections the import leaves out unless deleteMissing', async () => {
    const posts = (await su('GET', '/api/collections/posts')).body;
    const res = await importSchema([
      { ...posts, fields: posts.fields.filter((f: Json) => f.name !== 'subtitle') },
    ]);
    assert.equal(res.status, 204, JSON.stringify(res.body));
    const got = (await su('GET', '/api/collections/posts')).body;
    assert.ok(got.fields.some((f: Json) => f.name === 'subtitle'));
    assert.equal((await su('GET', '/api/collections/users')).status, 200);
  });

  // core/collection_import.go: validation failure → collections validation_collections_import_failure
  it('refuses an import with an invalid collection as a whole', async () => {
    const before = (await su('GET', '/api/collections?perPage=500')).body.items;
    const res = await importSchema([
      { name: 'fresh_one', type: 'base', fields: [{ name: 'x', type: 'text' }] },
      { name: 'broken_one', type: 'base', fields: [{ name: 'a b', type: 'text' }] },
    ]);
    assert.equal(res.status, 400);
    assert.equal(res.body.message, 'Failed to import collections.');
    assert.equal(res.body.data.collections.code, 'validation_collections_import_failure');
    assert.match(res.body.data.collections.message, /^Data validations failed for collection "broken_one"/);
    assert.deepEqual((await su('GET', '/api/collections?perPage=500')).body.items, before);
  });
});
