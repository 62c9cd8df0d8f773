import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

// Record values refused with PocketBase's codes, messages and order of checks. Each case names the
// PocketBase source it follows (core/field_*.go, ValidateValue / ValidatePlainValue).

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked field by field.
type Json = any;

describe(`record validation codes as PocketBase's on ${TEST_ENGINE}`, () => {
  let srv: TestServer;
  let name = '';
  let relTarget = '';
  let customIds = '';
  const create = (collection: string, body: object) =>
    srv.request('POST', `/api/collections/${collection}/records`, { body, token: srv.adminToken });

  before(async () => {
    srv = await startServer();
    const target = await srv.request('POST', '/api/collections', {
      token: srv.adminToken,
      body: { name: 'cv_target', fields: [{ name: 'title', type: 'text' }] },
    });
    relTarget = target.body.id;
    const made = await srv.request('POST', '/api/collections', {
      token: srv.adminToken,
      body: {
        name: 'cv_values',
        fields: [
          { name: 'short', type: 'text', min: 3, max: 5 },
          { name: 'site', type: 'url', onlyDomains: ['example.com'] },
          { name: 'mail', type: 'email', exceptDomains: ['bad.test'] },
          { name: 'body', type: 'editor', maxSize: 10 },
          { name: 'n', type: 'number', min: 5, max: 10 },
          { name: 'whole', type: 'number', onlyInt: true },
          { name: 'day', type: 'date', min: '2020-01-01 00:00:00.000Z', max: '2030-01-01 00:00:00.000Z' },
          { name: 'place', type: 'geoPoint' },
          { name: 'color', type: 'select', values: ['red', 'green'], maxSelect: 1 },
          { name: 'colors', type: 'select', values: ['red', 'green', 'blue'], maxSelect: 2 },
          { name: 'refs', type: 'relation', collectionId: relTarget, minSelect: 2, maxSelect: 3 },
        ],
      },
    });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    name = made.body.name;
    const ids = await srv.request('POST', '/api/collections', {
      token: srv.adminToken,
      body: {
        name: 'cv_ids',
        fields: [
          {
            name: 'id',
            type: 'text',
            primaryKey: true,
            min: 3,
            max: 12,
            pattern: '^.+$',
            autogeneratePattern: '[a-z]{8}',
          },
        ],
      },
    });
    assert.equal(ids.status, 200, JSON.stringify(ids.body));
    customIds = ids.body.name;
  });
  after(() => srv?.close());

  const cases: [string, string, unknown, string, string | RegExp][] = [
    // core/field_text.go ValidatePlainValue
    ['text min', 'short', 'ab', 'validation_min_text_constraint', 'Must be at least 3 character(s).'],
    ['text max', 'short', 'abcdef', 'validation_max_text_constraint', 'Must be no more than 5 character(s).'],
    // core/field_url.go
    ['url format', 'site', 'not a url', 'validation_invalid_url', 'Must be a valid url.'],
    [
      'url domain',
      'site',
      'https://other.com',
      'validation_url_domain_not_allowed',
      'Url domain is not allowed.',
    ],
    // core/field_email.go
    [
      'email domain',
      'mail',
      'a@bad.test',
      'validation_email_domain_not_allowed',
      'Email domain is not allowed.',
    ],
    // core/field_editor.go
    ['editor size', 'body', 'x'.repeat(11), 'validation_content_size_limit', /content size is 10 bytes/],
    // core/field_number.go
    ['number min', 'n', 4, 'validation_min_number_constraint', 'Must be greater or equal than 5.'],
    ['number max', 'n', 11, 'validation_max_number_constraint', 'Must be less or equal than 10.'],
    ['number only int', 'whole', 1.5, 'validation_only_int_constraint', 'Decimal numbers are not allowed.'],
    // core/field_date.go (ozzo-validation's Min and Max)
    [
      'date min',
      'day',
      '2019-01-01 00:00:00.000Z',
      'validation_min_greater_equal_than_required',
      /no less than/,
    ],
    [
      'date max',
      'day',
      '2031-01-01 00:00:00.000Z',
      'validation_max_less_equal_than_required',
      /no greater than/,
    ],
    // core/field_geo_point.go: latitude first
    ['latitude', 'place', { lon: 200, lat: 91 }, 'validation_invalid_latitude', /between -90 and 90/],
    ['longitude', 'place', { lon: 200, lat: 10 }, 'validation_invalid_longitude', /between -180 and 180/],
    // core/field_select.go
    ['select value', 'color', 'blue', 'validation_invalid_value', 'Invalid value blue.'],
    [
      'select many',
      'colors',
      ['red', 'green', 'blue'],
      'validation_too_many_values',
      'Select no more than 2.',
    ],
  ];

  for (const [label, field, value, code, message] of cases) {
    it(`${label}: ${code}`, async () => {
      const res: Json = await create(name, { [field]: value });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.data[field]?.code, code, JSON.stringify(res.body));
      if (typeof message === 'string') assert.equal(res.body.data[field].message, message);
      else assert.match(res.body.data[field].message, message);
    });
  }

  it('takes 0 as the empty number: min and max do not apply to it (core/field_number.go)', async () => {
    assert.equal((await create(name, { n: 0 })).status, 200);
  });

  it('relations: too few, too many (core/field_relation.go)', async () => {
    const a: Json = await create('cv_target', {});
    const few: Json = await create(name, { refs: [a.body.id] });
    assert.equal(few.body.data.refs.code, 'validation_not_enough_values');
    assert.equal(few.body.data.refs.message, 'Select at least 2.');
  });

  const idCases: [string, string, string, string][] = [
    ['too short', 'ab', 'validation_min_text_constraint', 'Must be at least 3 character(s).'],
    ['too long', 'a'.repeat(13), 'validation_max_text_constraint', 'Must be no more than 12 character(s).'],
    [
      'forbidden character',
      'a.b',
      'validation_forbidden_pk_character',
      "'.' is not a valid primary key character.",
    ],
    [
      'forbidden space',
      'a b c',
      'validation_forbidden_pk_character',
      "' ' is not a valid primary key character.",
    ],
    ['reserved', 'com1', 'validation_reserved_pk', "The primary key 'COM1' is reserved and cannot be used."],
  ];
  for (const [label, id, code, message] of idCases) {
    it(`a client id that is ${label}: ${code} (core/field_text.go)`, async () => {
      const res: Json = await create(customIds, { id });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.data.id?.code, code, JSON.stringify(res.body));
      assert.equal(res.body.data.id.message, message);
    });
  }
});
