import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

// Text fields' `autogeneratePattern`, as PocketBase has it (core/field_text.go): a new record's empty field
// gets a value generated from the pattern, `field:autogenerate` generates one (after a given prefix) on
// create or update, the id field's pattern makes the ids, and a collection whose pattern cannot generate,
// or generates values the field refuses, is not saved.

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked field by field.
type Json = any;

const OPEN = { listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '' };

describe(`autogeneratePattern on ${TEST_ENGINE}`, () => {
  let srv: TestServer;
  const collection = (body: object) =>
    srv.request('POST', '/api/collections', { token: srv.adminToken, body: { ...OPEN, ...body } });
  const create = (name: string, body: object) =>
    srv.request('POST', `/api/collections/${name}/records`, { body });

  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.close());

  it("fills a new record's empty text field from the pattern, and keeps a value sent", async () => {
    const made = await collection({
      name: 'auto_posts',
      fields: [{ name: 'slug', type: 'text', required: true, autogeneratePattern: 'post-[a-z]{6}' }],
    });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const generated = await create('auto_posts', {});
    assert.equal(generated.status, 200, JSON.stringify(generated.body));
    assert.match(generated.body.slug, /^post-[a-z]{6}$/);
    const other = await create('auto_posts', {});
    assert.notEqual(other.body.slug, generated.body.slug);
    assert.equal((await create('auto_posts', { slug: 'mine' })).body.slug, 'mine');

    // An update leaves it alone; `slug:autogenerate` makes a new one after the prefix given.
    const id = generated.body.id;
    const path = `/api/collections/auto_posts/records/${id}`;
    const kept = await srv.request('PATCH', path, { body: { slug: '' } });
    assert.equal(kept.status, 400, 'an update does not generate: the required field is empty');
    const again: Json = await srv.request('PATCH', path, { body: { 'slug:autogenerate': 'p-' } });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.match(again.body.slug, /^p-post-[a-z]{6}$/);
  });

  it('makes ids from the id field pattern', async () => {
    const made = await collection({
      name: 'auto_codes',
      fields: [
        {
          name: 'id',
          type: 'text',
          primaryKey: true,
          required: true,
          system: true,
          min: 8,
          max: 8,
          pattern: '^[A-Z0-9]+$',
          autogeneratePattern: '[A-Z]{3}\\d{5}',
        },
        { name: 'title', type: 'text' },
      ],
    });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const record = await create('auto_codes', { title: 'x' });
    assert.equal(record.status, 200, JSON.stringify(record.body));
    assert.match(record.body.id, /^[A-Z]{3}\d{5}$/);
  });

  it('refuses a pattern that cannot generate, or that generates values the field refuses', async () => {
    const cannot = await collection({
      name: 'auto_bad1',
      fields: [{ name: 'code', type: 'text', autogeneratePattern: '(?=a)b' }],
    });
    assert.equal(cannot.status, 400);
    assert.equal(
      cannot.body.data.fields['1'].autogeneratePattern.code,
      'validation_invalid_autogenerate_pattern',
    );
    const tooLong = await collection({
      name: 'auto_bad2',
      fields: [{ name: 'code', type: 'text', max: 5, autogeneratePattern: '[a-z]{10}' }],
    });
    assert.equal(tooLong.status, 400);
    assert.equal(
      tooLong.body.data.fields['1'].autogeneratePattern.code,
      'validation_invalid_autogenerate_pattern_value',
    );
    const huge = await collection({
      name: 'auto_bad3',
      fields: [{ name: 'code', type: 'text', autogeneratePattern: '(a{1000}){1000}' }],
    });
    assert.equal(huge.status, 400);
  });
});
