import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createdDates, entryRows, FIELDS, idBefore, orderedIds } from './entry-rows.js';

/** One request entry's slots, as writer.ts `addRequest` stores them. */
const facts = (over: Record<number, unknown> = {}): unknown[] => {
  const slots: unknown[] = [
    1_700_000_000_123,
    200,
    1.25,
    'get',
    '/api/collections/notes/records?filter=%22a%20b%22',
    'https://app.example/',
    'curl/8',
    'users',
    '',
    '10.0.0.1',
    '127.0.0.1',
    undefined,
  ];
  for (const [at, value] of Object.entries(over)) slots[Number(at)] = value;
  assert.equal(slots.length, FIELDS);
  return slots;
};

describe('request log rows from raw facts', () => {
  const queuedEntry = entryRows();

  it("makes PocketBase's request entry: level, message with the URL decoded, data in PocketBase's keys", () => {
    const [time, level, message, data] = queuedEntry(facts());
    assert.equal(time, 1_700_000_000_123);
    assert.equal(level, 0);
    assert.equal(message, 'GET /api/collections/notes/records?filter="a b"');
    assert.deepEqual(JSON.parse(data), {
      type: 'request',
      execTime: 1.25,
      url: '/api/collections/notes/records?filter=%22a%20b%22',
      method: 'GET',
      status: 200,
      referer: 'https://app.example/',
      userAgent: 'curl/8',
      auth: 'users',
      userIP: '10.0.0.1',
      remoteIP: '127.0.0.1',
    });
  });

  it('adds the error and the auth id when given, leaves the addresses out when not logged', () => {
    const error = `"error":"Missing \\"x\\".","details":{"x":{"code":"validation_required"}}`;
    const slots = facts({ 1: 400, 8: 'user0000000001', 9: undefined, 10: undefined, 11: error });
    const [, level, , data] = queuedEntry(slots);
    assert.equal(level, 8);
    const parsed = JSON.parse(data);
    assert.equal(parsed.error, 'Missing "x".');
    assert.deepEqual(parsed.details, { x: { code: 'validation_required' } });
    assert.equal(parsed.authId, 'user0000000001');
    assert.equal('userIP' in parsed || 'remoteIP' in parsed, false);
  });

  it('keeps file tokens out, cuts long values, and survives odd input (no header, a bad %, NaN)', () => {
    const slots = facts({
      2: Number.NaN,
      4: `/api/files/a/b/c.png?token=secret&thumb=1&x=%E0%A4%A`,
      5: undefined,
      6: 'u'.repeat(2500),
    });
    const [, , message, data] = queuedEntry(slots);
    const parsed = JSON.parse(data);
    assert.equal(parsed.url, '/api/files/a/b/c.png?token=***&thumb=1&x=%E0%A4%A');
    assert.equal(message, `GET ${parsed.url}`);
    assert.equal(parsed.execTime, 0);
    assert.equal(parsed.referer, '');
    assert.equal(parsed.userAgent, `${'u'.repeat(2000)}...`);
    assert.ok(!data.includes('secret'));
  });

  it("never lends an entry the last one's texts: each value is its own", () => {
    const rowOf = entryRows();
    const first = JSON.parse(rowOf(facts({ 6: 'agent-a', 7: 'users' }))[3]);
    const second = JSON.parse(rowOf(facts({ 6: 'agent-b', 7: '' }))[3]);
    const third = JSON.parse(rowOf(facts({ 6: 'agent-b', 7: 'users', 9: undefined }))[3]);
    assert.deepEqual([first.userAgent, first.auth], ['agent-a', 'users']);
    assert.deepEqual([second.userAgent, second.auth, second.userIP], ['agent-b', '', '10.0.0.1']);
    assert.deepEqual([third.userAgent, third.auth, third.userIP], ['agent-b', 'users', undefined]);
  });

  it('leaves out a message its data makes (SQLite makes it when read), never a decoded one', () => {
    const rowOf = entryRows({ messageFromData: true });
    const [, , plain, data] = rowOf(facts({ 4: '/api/x?a=1' }));
    assert.equal(plain, null);
    assert.equal(`${JSON.parse(data).method} ${JSON.parse(data).url}`, 'GET /api/x?a=1');
    assert.equal(rowOf(facts())[2], 'GET /api/collections/notes/records?filter="a b"');
    const other = [5, -1, 4, 'a warning', '{"a":1}', ...new Array(FIELDS - 5)];
    assert.equal(rowOf(other)[2], 'a warning');
  });

  it('passes other entries through: level, message and data as given', () => {
    const slots = [5, -1, 4, 'a warning', '{"a":1}', ...new Array(FIELDS - 5)];
    assert.deepEqual(queuedEntry(slots), [5, 4, 'a warning', '{"a":1}']);
  });

  it('makes ids of 15 characters that sort as they were made, after every id made before idBefore(time)', () => {
    const idOf = orderedIds();
    const times = [
      1_700_000_000_000, 1_700_000_000_000, 1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000,
    ];
    const ids = times.map(idOf);
    for (const id of ids) assert.match(id, /^[a-z0-9]{15}$/);
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.slice(0, 4).every((id) => id < idBefore(1_700_000_000_002)));
    assert.ok((ids[4] as string) > idBefore(1_700_000_000_002));
    assert.ok((ids[3] as string) > idBefore(1_700_000_000_001));
  });

  it("dates entries in PocketBase's format, the same millisecond twice as well", () => {
    const createdOf = createdDates();
    assert.equal(createdOf(1_700_000_000_123), '2023-11-14 22:13:20.123Z');
    assert.equal(createdOf(1_700_000_000_123), '2023-11-14 22:13:20.123Z');
    assert.equal(createdOf(0), '1970-01-01 00:00:00.000Z');
  });
});
