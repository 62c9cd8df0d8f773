import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

// The record routes (GET/POST/PATCH/DELETE /api/collections/{c}/records) behaving as PocketBase's, one
// behaviour per describe. Each case names the PocketBase source it follows: apis/record_crud.go and its
// test table apis/record_crud_test.go (cited by the case's Name), apis/record_helpers.go, core/*.go.

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked field by field.
type Json = any;

const OPEN = { listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '' };
const LOCKED = { listRule: null, viewRule: null, createRule: null, updateRule: null, deleteRule: null };
const SIGNED_IN = '@request.auth.id != ""';

let srv: TestServer;
let userToken = '';
const ids = {
  acme: '',
  s1: '',
  ann: '',
  bob: '',
  cid: '',
  dee: '',
  eve: '',
  n1: '',
  n2: '',
  b1: '',
  locked: '',
  member: '',
};

/**
 * cr_orgs ← cr_people.org; cr_secrets (superusers only) ← cr_people.secret; cr_people.friends (multi, self);
 * cr_notes.person (back-relation `cr_notes_via_person`); cr_badges.person (unique: a single back-relation);
 * cr_locked (every rule null); cr_members (every rule needs a signed-in caller).
 */
before(async () => {
  srv = await startServer();
  const pb = srv.admin;
  const orgs = await pb.collections.create({
    name: 'cr_orgs',
    ...OPEN,
    fields: [{ name: 'name', type: 'text' }],
  });
  const secrets = await pb.collections.create({
    name: 'cr_secrets',
    fields: [{ name: 'code', type: 'text' }],
  });
  const people = await pb.collections.create({
    name: 'cr_people',
    ...OPEN,
    fields: [
      { name: 'name', type: 'text', required: true },
      { name: 'age', type: 'number' },
      { name: 'active', type: 'bool' },
      { name: 'meta', type: 'json' },
      { name: 'tags', type: 'select', values: ['alpha', 'beta', 'gamma'], maxSelect: 3 },
      { name: 'org', type: 'relation', collectionId: orgs.id, maxSelect: 1 },
      { name: 'secret', type: 'relation', collectionId: secrets.id, maxSelect: 1 },
    ],
  });
  await pb.collections.update(people.id, {
    fields: [...people.fields, { name: 'friends', type: 'relation', collectionId: people.id, maxSelect: 10 }],
  });
  await pb.collections.create({
    name: 'cr_notes',
    ...OPEN,
    fields: [
      { name: 'text', type: 'text' },
      { name: 'person', type: 'relation', collectionId: people.id, maxSelect: 1 },
    ],
  });
  await pb.collections.create({
    name: 'cr_badges',
    ...OPEN,
    fields: [
      { name: 'label', type: 'text' },
      { name: 'person', type: 'relation', collectionId: people.id, maxSelect: 1 },
    ],
    indexes: ['CREATE UNIQUE INDEX idx_cr_badges_person ON cr_badges (person)'],
  });
  await pb.collections.create({ name: 'cr_locked', ...LOCKED, fields: [{ name: 'title', type: 'text' }] });
  await pb.collections.create({
    name: 'cr_members',
    listRule: SIGNED_IN,
    viewRule: SIGNED_IN,
    createRule: SIGNED_IN,
    updateRule: SIGNED_IN,
    deleteRule: SIGNED_IN,
    fields: [{ name: 'title', type: 'text' }],
  });

  ids.acme = (await pb.collection('cr_orgs').create({ name: 'Acme' })).id;
  ids.s1 = (await pb.collection('cr_secrets').create({ code: 'xyz' })).id;
  const person = (body: object) =>
    pb
      .collection('cr_people')
      .create(body)
      .then((r) => r.id);
  // Ages and values chosen so that their text is the same on every engine (see docs/query-language.md).
  ids.ann = await person({
    name: 'Ann',
    age: 5,
    active: true,
    meta: 'xyz',
    tags: ['alpha'],
    org: ids.acme,
    secret: ids.s1,
  });
  ids.bob = await person({ name: 'Bob', age: 2.5, active: false, meta: 25, tags: ['beta', 'gamma'] });
  ids.cid = await person({ name: 'Cid', age: -3, active: true, meta: { a: 'x5' }, friends: [ids.ann] });
  ids.dee = await person({ name: 'Dee', age: 1e20, active: false, meta: true, friends: [ids.ann, ids.bob] });
  ids.eve = await person({ name: 'Eve 15', age: 0.1, active: false, meta: null });
  ids.n1 = (await pb.collection('cr_notes').create({ text: 'n1', person: ids.ann })).id;
  ids.n2 = (await pb.collection('cr_notes').create({ text: 'n2', person: ids.ann })).id;
  ids.b1 = (await pb.collection('cr_badges').create({ label: 'gold', person: ids.ann })).id;
  ids.locked = (await pb.collection('cr_locked').create({ title: 'x' })).id;
  ids.member = (await pb.collection('cr_members').create({ title: 'm' })).id;

  await pb
    .collection('users')
    .create({ email: 'cr@example.com', password: 'cr-password-1', passwordConfirm: 'cr-password-1' });
  const signedIn = srv.client();
  await signedIn.collection('users').authWithPassword('cr@example.com', 'cr-password-1');
  userToken = signedIn.authStore.token;
});
after(() => srv?.close());

const get = (path: string, token?: string) => srv.request('GET', path, { token });
const people = (query: string, token?: string) => get(`/api/collections/cr_people/records?${query}`, token);
const one = (id: string, query: string, token?: string) =>
  get(`/api/collections/cr_people/records/${id}?${query}`, token);
const q = (params: Record<string, string>) => new URLSearchParams(params).toString();

describe(`expand names that are not relations are ignored, as in PocketBase (${TEST_ENGINE})`, () => {
  it('an unknown name is left out and the rest still expands', async () => {
    // apis/record_crud_test.go TestRecordCrudList "expand relations" (expand=rel_one,rel_many.rel,missing)
    const res = await one(ids.ann, q({ expand: 'org,missing' }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.expand.org.name, 'Acme');
    assert.deepEqual(Object.keys(res.body.expand), ['org']);
  });

  it('a field that is not a relation, a bad back-relation and odd spellings are ignored', async () => {
    // core/record_query_expand_test.go "existing, but non-relation type field", "missing relation field"
    for (const expand of ['name', 'age', 'missing', 'x_via_y', 'cr_orgs_via_name', 'a-b', '*', '__proto__']) {
      const res = await one(ids.ann, q({ expand }));
      assert.equal(res.status, 200, expand);
      assert.equal(res.body.expand, undefined, expand);
    }
  });

  it('a path with an unknown name deeper down adds nothing, not even its first relation', async () => {
    // core/record_query_expand_test.go "invalid/missing second level expand" (0 expanded, 1 failure)
    const res = await one(ids.cid, q({ expand: 'friends.nosuch' }));
    assert.equal(res.status, 200);
    assert.equal(res.body.expand, undefined);
    // Another path through the same relation still expands it (each path succeeds or fails alone).
    const both = await one(ids.cid, q({ expand: 'friends.nosuch,friends.org' }));
    assert.equal(both.body.expand.friends[0].id, ids.ann);
    assert.equal(both.body.expand.friends[0].expand.org.name, 'Acme');
  });

  it('a relation that reaches no record is `expand: {}`, so an unknown name below it fails nothing', async () => {
    // core/record_query_expand.go: a level with no records succeeds; expanded records get an empty expand
    const res = await one(ids.bob, q({ expand: 'org.nosuch' }));
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.expand, {});
  });

  it('spaces are removed and dots trimmed; levels past 6 are left out', async () => {
    // core/record_query_expand.go normalizeExpands ("expand normalizations"); maxNestedRels = 6
    const spaced = await one(ids.ann, q({ expand: ' o rg. , ' }));
    assert.equal(spaced.status, 200);
    assert.equal(spaced.body.expand.org.name, 'Acme');
    const deep = await one(
      ids.dee,
      q({ expand: 'friends.friends.friends.friends.friends.friends.friends.org' }),
    );
    assert.equal(deep.status, 200);
    assert.equal(deep.body.expand.friends.length, 2);
  });

  it('a collection the caller may not view is left out, and the rest still expands', async () => {
    // apis/record_helpers.go expandFetch: "only superusers can view collection" fails that path only
    const res = await one(ids.ann, q({ expand: 'secret,org' }));
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body.expand), ['org']);
    const admin = await one(ids.ann, q({ expand: 'secret' }), srv.adminToken);
    assert.equal(admin.body.expand.secret.code, 'xyz');
  });

  it('back-relations expand as a list, or as one record when a unique index makes them single', async () => {
    // core/record_query_expand.go: indirect relations are MaxSelect 1 with a single-column unique index
    const res = await one(ids.ann, q({ expand: 'cr_notes_via_person,cr_badges_via_person' }));
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.expand.cr_notes_via_person.map((n: Json) => n.text).sort(), ['n1', 'n2']);
    assert.equal(res.body.expand.cr_badges_via_person.label, 'gold');
  });

  it('on lists, creates and updates too', async () => {
    const list = await people(q({ expand: 'org,nope', filter: `id = "${ids.ann}"` }));
    assert.equal(list.status, 200);
    assert.equal(list.body.items[0].expand.org.name, 'Acme');
    const created = await srv.request('POST', '/api/collections/cr_notes/records?expand=person,nope', {
      body: { text: 'n3', person: ids.bob },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.body.expand.person.name, 'Bob');
    const updated = await srv.request(
      'PATCH',
      `/api/collections/cr_notes/records/${created.body.id}?expand=nope.deeper,person`,
      { body: { text: 'n3b' } },
    );
    assert.equal(updated.status, 200);
    assert.equal(updated.body.expand.person.name, 'Bob');
    await srv.request('DELETE', `/api/collections/cr_notes/records/${created.body.id}`);
  });

  it('hostile: 1000 unknown names, very long names, deep junk paths, all answer 200', async () => {
    const many = Array.from({ length: 1000 }, (_, i) => `nope${i}`).join(',');
    const a = await one(ids.ann, q({ expand: `${many},org` }));
    assert.equal(a.status, 200);
    assert.equal(a.body.expand.org.name, 'Acme');
    const long = await one(ids.ann, q({ expand: 'x'.repeat(5000) }));
    assert.equal(long.status, 200);
    const junk = await people(q({ expand: Array(200).fill('friends.nope.x.y.z').join(',') }));
    assert.equal(junk.status, 200);
    const dots = await people(q({ expand: '.,..,...,org..name,,,' }));
    assert.equal(dots.status, 200);
  });
});

describe(`authorization is decided before expand and fields are read (${TEST_ENGINE})`, () => {
  const bad = q({ expand: 'org', fields: 'id:nope(1)' });

  it('a superusers-only collection is a 403 on every route, whatever expand and fields say', async () => {
    // apis/record_crud_test.go "unauthenticated trying to access nil rule collection (aka. need superuser auth)"
    // for list, view, create, update and delete; record_crud.go checks the rule before anything is read.
    const base = '/api/collections/cr_locked/records';
    for (const [method, path] of [
      ['GET', `${base}?${bad}`],
      ['GET', `${base}/${ids.locked}?${bad}`],
      ['POST', `${base}?${bad}`],
      ['PATCH', `${base}/${ids.locked}?${bad}`],
      ['DELETE', `${base}/${ids.locked}?${bad}`],
    ] as const) {
      for (const token of [undefined, userToken, 'not-a-token']) {
        const res = await srv.request(method, path, {
          token,
          body: method === 'POST' || method === 'PATCH' ? {} : undefined,
        });
        assert.equal(res.status, 403, `${method} ${path} ${token?.slice(0, 5)}`);
        assert.equal(res.body.message, 'Only superusers can perform this action.');
      }
    }
  });

  it('a record the rule hides is a 404 on view, update and delete, not a 400 about fields', async () => {
    // apis/record_crud_test.go TestRecordCrudView/Update/Delete "... (rule failure check)": 404
    const base = '/api/collections/cr_members/records';
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      const res = await srv.request(method, `${base}/${ids.member}?${bad}`, {
        body: method === 'PATCH' ? { title: 'x' } : undefined,
      });
      assert.equal(res.status, 404, method);
    }
    const missing = await srv.request('PATCH', `${base}/nosuchrecord1234?${bad}`, {
      token: userToken,
      body: {},
    });
    assert.equal(missing.status, 404);
  });

  it('an allowed caller with a bad fields gets the 400, and nothing is written', async () => {
    const before_ = await srv.admin.collection('cr_members').getFullList();
    const created = await srv.request('POST', `/api/collections/cr_members/records?${bad}`, {
      token: userToken,
      body: { title: 'never' },
    });
    assert.equal(created.status, 400);
    assert.match(created.body.message, /fields/);
    const updated = await srv.request('PATCH', `/api/collections/cr_members/records/${ids.member}?${bad}`, {
      token: userToken,
      body: { title: 'never' },
    });
    assert.equal(updated.status, 400);
    const after_ = await srv.admin.collection('cr_members').getFullList();
    assert.deepEqual(after_, before_);
    const listed = await srv.request('GET', `/api/collections/cr_members/records?${bad}`, {
      token: userToken,
    });
    assert.equal(listed.status, 400);
  });

  it('validation errors of the body come before a bad fields, as PocketBase never reads fields first', async () => {
    // apis/record_crud_test.go TestRecordCrudCreate "submit nil body": the field errors
    const res = await srv.request('POST', `/api/collections/cr_people/records?${bad}`, { body: {} });
    assert.equal(res.status, 400);
    assert.equal(res.body.data.name.code, 'validation_required');
  });
});

describe(`an empty JSON body is {} (${TEST_ENGINE})`, () => {
  it('PATCH with no body changes nothing and answers the record', async () => {
    // apis/record_crud_test.go TestRecordCrudUpdate "submit nil body (aka. no fields change)"
    for (const options of [
      { rawBody: '', headers: { 'content-type': 'application/json' } },
      { rawBody: '  \n', headers: { 'content-type': 'application/json' } },
      {},
    ]) {
      const res = await srv.request('PATCH', `/api/collections/cr_people/records/${ids.ann}`, options);
      assert.equal(res.status, 200, JSON.stringify(options));
      assert.equal(res.body.id, ids.ann);
      assert.equal(res.body.name, 'Ann');
    }
  });

  it('POST with no body validates as {}', async () => {
    // apis/record_crud_test.go TestRecordCrudCreate "submit nil body": 400 with title validation_required
    for (const options of [{ rawBody: '', headers: { 'content-type': 'application/json' } }, {}]) {
      const res = await srv.request('POST', '/api/collections/cr_people/records', options);
      assert.equal(res.status, 400, JSON.stringify(options));
      assert.equal(res.body.data.name.code, 'validation_required');
    }
  });

  it('a body that is not an object is still refused', async () => {
    // apis/record_crud_test.go "submit invalid body": 400. JSON `null` too, which PocketBase would read as
    // {} (kept on purpose: docs/compatibility.md)
    for (const rawBody of ['[1]', '"x"', '{"', 'null', '42']) {
      const res = await srv.request('POST', '/api/collections/cr_people/records', {
        rawBody,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.status, 400, rawBody);
    }
  });
});

describe(`PATCH with another id is validation_pk_change (${TEST_ENGINE})`, () => {
  const patch = (body: object) =>
    srv.request('PATCH', `/api/collections/cr_people/records/${ids.eve}`, { body });

  it('a different id is refused with PocketBase code and message, the same id is accepted', async () => {
    // apis/record_crud_test.go TestRecordCrudUpdate "try to change the id of an existing record";
    // core/field_text.go ValidateValue ("The record primary key cannot be changed.")
    const res = await patch({ id: 'otherid12345678', name: 'Changed' });
    assert.equal(res.status, 400);
    assert.equal(res.body.message, 'Failed to update record.');
    assert.deepEqual(res.body.data.id, {
      code: 'validation_pk_change',
      message: 'The record primary key cannot be changed.',
    });
    assert.equal((await srv.admin.collection('cr_people').getOne(ids.eve)).name, 'Eve 15');
    const same = await patch({ id: ids.eve });
    assert.equal(same.status, 200);
    assert.equal(same.body.id, ids.eve);
  });

  it('an empty, null, numeric or object id is a change too (PocketBase reads it as text)', async () => {
    for (const id of ['', null, 123, { a: 1 }, ids.eve.toUpperCase(), `${ids.eve} `]) {
      const res = await patch({ id });
      assert.equal(res.status, 400, JSON.stringify(id));
      assert.equal(res.body.data.id.code, 'validation_pk_change');
    }
  });
});

describe(`@collection.* and @request.* in a client filter or sort are superusers' (${TEST_ENGINE})`, () => {
  it('a guest or a user gets PocketBase 403 naming the identifier', async () => {
    // apis/record_crud_test.go TestRecordCrudList "public collection but with superuser only filter param",
    // "... sort param" and "... ENCODED superuser only filter/sort"; apis/record_helpers.go
    // checkForSuperuserOnlyRuleFields (a plain substring check, so a quoted value counts too)
    const cases: [Record<string, string>, string][] = [
      [{ filter: "@collection.cr_orgs.name = 'Acme'" }, '@collection.'],
      [{ sort: '@request.auth.id' }, '@request.'],
      [{ filter: '@request.auth.id != ""' }, '@request.'],
      [{ filter: 'name = "@request.x"' }, '@request.'],
      [{ filter: "name = 'a'", sort: '-@collection.x' }, '@collection.'],
    ];
    for (const token of [undefined, userToken]) {
      for (const [params, name] of cases) {
        const res = await people(q(params), token);
        assert.equal(res.status, 403, JSON.stringify(params));
        assert.equal(res.body.message, `Only superusers can filter by ${name}`);
        assert.deepEqual(res.body.data, {});
      }
    }
  });

  it('a superusers-only collection answers its own 403 first', async () => {
    const res = await get(`/api/collections/cr_locked/records?${q({ filter: '@request.auth.id = ""' })}`);
    assert.equal(res.status, 403);
    assert.equal(res.body.message, 'Only superusers can perform this action.');
  });

  it('a superuser may use them', async () => {
    const res = await people(q({ filter: `@request.auth.id != "" && name = "Ann"` }), srv.adminToken);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.totalItems, 1);
    const joined = await people(
      q({ filter: "@collection.cr_orgs.name ?= 'Acme' && name = 'Bob'" }),
      srv.adminToken,
    );
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
    assert.equal(joined.body.totalItems, 1);
  });

  it('@request. and @collection. elsewhere (other parameters, other spellings) are not refused', async () => {
    const res = await people(q({ filter: "name = '@requestx'", expand: '@request.auth' }));
    assert.equal(res.status, 200);
  });
});

describe(`~ and !~ on any field type, as text (${TEST_ENGINE})`, () => {
  /** The names matching a filter (guest, open rules), sorted. */
  const names = async (filter: string) => {
    const res = await people(q({ filter, perPage: '100' }));
    assert.equal(res.status, 200, `${filter}: ${JSON.stringify(res.body)}`);
    return res.body.items.map((r: Json) => r.name).sort();
  };

  it('numbers match as SQLite spells them: 5, 2.5, -3, 1.0e+20, 0.1', async () => {
    // tools/search/filter.go: `~` is `[[col]] LIKE {:p}`; SQLite reads a NUMERIC column as its text
    assert.deepEqual(await names('age ~ "5"'), ['Ann', 'Bob']);
    assert.deepEqual(await names('age ~ "-3"'), ['Cid']);
    assert.deepEqual(await names('age ~ "e+20"'), ['Dee']);
    assert.deepEqual(await names('age ~ "1.0e"'), ['Dee']);
    assert.deepEqual(await names('age ~ "0.1"'), ['Eve 15']);
    assert.deepEqual(await names('age ~ "."'), ['Bob', 'Dee', 'Eve 15']);
    assert.deepEqual(await names('age !~ "5"'), ['Cid', 'Dee', 'Eve 15']);
    assert.deepEqual(await names('age ~ 5'), ['Ann', 'Bob']);
    // `_` is a wildcard only in a pattern with `%` (tools/search/filter.go wrapLikeParams)
    assert.deepEqual(await names('age ~ "2_5"'), []);
    assert.deepEqual(await names('age ~ "2_5%"'), ['Bob']);
    assert.deepEqual(await names('age ~ "%5"'), ['Ann', 'Bob']);
  });

  it('bools match as 1 and 0, never as true/false', async () => {
    // core/field_bool.go: stored as BOOLEAN (1/0 in SQLite), so LIKE sees "1" or "0"
    assert.deepEqual(await names('active ~ "1"'), ['Ann', 'Cid']);
    assert.deepEqual(await names('active ~ "0"'), ['Bob', 'Dee', 'Eve 15']);
    assert.deepEqual(await names('active ~ "true"'), []);
    assert.deepEqual(await names('active ~ true'), []);
    assert.deepEqual(await names('active !~ "1"'), ['Bob', 'Dee', 'Eve 15']);
  });

  it('JSON strings, numbers and bools match as their text; null, objects and arrays do not', async () => {
    // core/record_field_resolver_runner.go wraps json fields in JSON_EXTRACT (a JSON true is 1 there)
    assert.deepEqual(await names('meta ~ "xy"'), ['Ann']);
    assert.deepEqual(await names('meta ~ "5"'), ['Bob']);
    assert.deepEqual(await names('meta ~ "1"'), ['Dee']);
    assert.deepEqual(await names('meta.a ~ "x5"'), ['Cid']);
    assert.deepEqual(await names('meta ~ "a"'), []);
    assert.deepEqual(await names('meta !~ "zzz"'), ['Ann', 'Bob', 'Cid', 'Dee']);
  });

  it("PocketBase's dashboard search over every field answers on any collection", async () => {
    // ui/src/utils.js normalizeSearchFilter: `${f}?~{:searchTerm}` for every field, joined with `||`, through
    // the SDK's pb.filter (a numeric term goes as a number literal, "true" as a bool)
    const pb = srv.client();
    const fields = ['id', 'name', 'age', 'active', 'meta', 'tags', 'org', 'secret', 'friends'];
    const search = (term: string) => {
      const searchTerm =
        Number.isNaN(Number(term)) && term !== 'true' && term !== 'false' ? term : JSON.parse(term);
      return fields.map((f) => pb.filter(`${f}?~{:searchTerm}`, { searchTerm })).join('||');
    };
    assert.deepEqual(await names(search('e+20')), ['Dee']);
    assert.deepEqual(await names(search('2.5')), ['Bob']);
    assert.deepEqual(await names(search('-3')), ['Cid']);
    assert.deepEqual(await names(search('true')), []);
    assert.deepEqual(await names(search('Eve 1')), ['Eve 15']);
    assert.deepEqual(await names(search('gamma')), ['Bob']);
    assert.deepEqual(await names(search(ids.ann)), ['Ann', 'Cid', 'Dee']);
    assert.deepEqual(await names(search('no such text')), []);
  });

  it('mixed types on both sides and in one filter', async () => {
    assert.deepEqual(await names('name ~ age'), []);
    assert.deepEqual(await names('"x 2.5 y" ~ age'), ['Ann', 'Bob']);
    assert.deepEqual(await names('(age ~ "5" && active ~ "1") || meta.a ~ "x5"'), ['Ann', 'Cid']);
    assert.deepEqual(await names('friends.age ?~ "2.5"'), ['Dee']);
    assert.deepEqual(await names('friends.active ?~ "1"'), ['Cid', 'Dee']);
    assert.deepEqual(await names('tags ?~ "amm"'), ['Bob']);
    assert.deepEqual(await names('tags:length ~ "2"'), ['Bob']);
    assert.deepEqual(await names('org.name ~ "acm" && org ~ ""'), ['Ann']);
    assert.deepEqual(await names('age ~ null || age !~ null'), []);
  });
});
