// Realtime differential test (security reference, test class A): a subscriber receives exactly the
// events for records it could read through the records API at that moment, each exactly as the records
// API would show it to that subscriber (same fields, same hidden values left out, same private emails,
// same expand, same `fields`), and nothing else.
//
// Random rules (from a pool that reads the record, its relations and the caller) are set on two
// collections; four subscribers (a guest, two users and a moderator whose hidden role a rule reads) hold
// collection and record subscriptions with random options; then a random sequence of creates, updates
// and deletes runs. For each write, the expected events are what the records API answers each
// subscriber: a list query `id = X && (filter)` for collection topics, a view for record topics, asked
// after a create or update and before a delete. A marker record every subscriber also watches proves that
// nothing else arrived (events reach a client in order).
//
// PLINTH_RT_LEAK_SEED fixes the seed; PLINTH_RT_LEAK_WRITES is the number of writes per round (long
// mode: set it to a few thousand; CI runs the default).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventSource } from 'eventsource';
import type PocketBase from 'pocketbase';
import { startServer, type TestServer } from './helpers/server.ts';

(globalThis as { EventSource?: unknown }).EventSource ??= EventSource;

const SEED = Number(process.env.PLINTH_RT_LEAK_SEED ?? 20261205);
const WRITES = Number(process.env.PLINTH_RT_LEAK_WRITES ?? 60);
const ROUNDS = 3;

// biome-ignore lint/suspicious/noExplicitAny: record JSON is arbitrary.
type Json = any;
type Event = { action: string; record: Json };

/** A small seeded PRNG (mulberry32): the same seed gives the same run. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T };
}

const POST_RULES = [
  '',
  null,
  'owner = @request.auth.id',
  'status = "pub" || owner = @request.auth.id',
  '@request.auth.id != "" && n > 5',
  'owner.name ~ "ann"',
  '@request.auth.role = "mod" || status = "pub"',
  'secret != "top"',
  'flag = true && meta.level > 2',
  'tags ?= "x" || when > "2024-01-01"',
  'meta.tag = "a" || n = "7"',
];
const NOTE_RULES = [
  '',
  null,
  'post.owner = @request.auth.id',
  'post.status = "pub"',
  '@request.auth.id != ""',
];
const USER_RULES = ['', 'id = @request.auth.id', '@request.auth.id != ""', null];
const MANAGE_RULES = [null, '@request.auth.role = "mod"', 'id = @request.auth.id'];
const POST_OPTIONS: Record<string, string>[] = [
  {},
  { filter: 'n > 3' },
  { filter: 'status = "pub"' },
  { expand: 'owner' },
  { fields: 'id,title,secret,owner' },
  { expand: 'owner', fields: 'id,status,expand.owner.email,expand.owner.name' },
];
const NOTE_OPTIONS: Record<string, string>[] = [{}, { expand: 'post' }, { expand: 'post.owner' }];

interface Subscriber {
  name: string;
  token?: string;
  pb: PocketBase;
  /** Events received, per subscription key. */
  got: Map<string, Event[]>;
  subs: { key: string; collection: string; topic: string; options: Record<string, string> }[];
}

describe('realtime sends each subscriber exactly what the records API would show it', () => {
  let server: TestServer;
  const users: Record<string, { id: string; token: string }> = {};

  before(async () => {
    server = await startServer();
    const pb = server.admin;
    await pb.collections.update('users', {
      listRule: '',
      viewRule: '',
      fields: [
        ...(await pb.collections.getOne('users')).fields,
        { name: 'role', type: 'text', hidden: true },
      ],
    });
    const usersId = (await pb.collections.getOne('users')).id;
    await pb.collections.create({ name: 'lk_marks', type: 'base', listRule: '', viewRule: '' });
    await pb.collections.create({
      name: 'lk_posts',
      type: 'base',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'status', type: 'text' },
        { name: 'n', type: 'number' },
        { name: 'secret', type: 'text', hidden: true },
        { name: 'owner', type: 'relation', collectionId: usersId, maxSelect: 1 },
        { name: 'flag', type: 'bool' },
        { name: 'meta', type: 'json' },
        { name: 'when', type: 'date' },
        { name: 'tags', type: 'select', values: ['x', 'y', 'z'], maxSelect: 3 },
      ],
    });
    const postsId = (await pb.collections.getOne('lk_posts')).id;
    await pb.collections.create({
      name: 'lk_notes',
      type: 'base',
      fields: [
        { name: 'body', type: 'text' },
        { name: 'post', type: 'relation', collectionId: postsId, maxSelect: 1, cascadeDelete: true },
      ],
    });
    for (const [name, extra] of [
      ['ann', { name: 'Ann' }],
      ['bob', { name: 'Bob', emailVisibility: true }],
      ['mod', { name: 'Mo', role: 'mod' }],
    ] as const) {
      const email = `${name}@example.com`;
      const record = await pb
        .collection('users')
        .create({ email, password: 'password-123', passwordConfirm: 'password-123', ...extra });
      const auth = await server.client().collection('users').authWithPassword(email, 'password-123');
      users[name] = { id: record.id, token: auth.token };
    }
  });
  after(() => server.close());

  for (let round = 0; round < ROUNDS; round++) {
    it(`round ${round + 1} (seed ${SEED + round}, ${WRITES} writes)`, async () => {
      await runRound(SEED + round);
    });
  }

  async function runRound(seed: number) {
    const rnd = random(seed);
    const admin = server.admin;
    const postRules = { listRule: rnd.pick(POST_RULES), viewRule: rnd.pick(POST_RULES) };
    const noteRules = { listRule: rnd.pick(NOTE_RULES), viewRule: rnd.pick(NOTE_RULES) };
    await admin.collections.update('lk_posts', postRules);
    await admin.collections.update('lk_notes', noteRules);
    const userRules = {
      listRule: rnd.pick(USER_RULES),
      viewRule: rnd.pick(USER_RULES),
      manageRule: rnd.pick(MANAGE_RULES),
    };
    await admin.collections.update('users', userRules);
    const posts: string[] = [];
    const notes: string[] = [];
    for (let i = 0; i < 3; i++) posts.push((await createPost()).id);

    const subscribers: Subscriber[] = [];
    for (const name of ['guest', 'ann', 'bob', 'mod']) {
      const pb = server.client();
      const token = users[name]?.token;
      if (token) pb.authStore.save(token, null);
      const s: Subscriber = { name, token, pb, got: new Map(), subs: [] };
      const add = async (collection: string, topic: string, options: Record<string, string>) => {
        const key = `${collection}/${topic} ${JSON.stringify(options)}`;
        if (s.got.has(key)) return;
        s.got.set(key, []);
        s.subs.push({ key, collection, topic, options });
        await pb.collection(collection).subscribe(topic, (e: Event) => s.got.get(key)?.push(e), options);
      };
      await add('lk_posts', '*', rnd.pick(POST_OPTIONS));
      await add('lk_posts', '*', rnd.pick(POST_OPTIONS));
      await add('lk_posts', rnd.pick(posts), rnd.pick<Record<string, string>>([{}, { expand: 'owner' }]));
      await add('lk_notes', '*', rnd.pick(NOTE_OPTIONS));
      await add('users', '*', rnd.pick<Record<string, string>>([{}, { fields: 'id,email,name' }]));
      await add('lk_marks', '*', {});
      subscribers.push(s);
    }

    const context = `rules ${JSON.stringify({ postRules, noteRules, userRules })}`;
    try {
      for (let w = 0; w < WRITES; w++) {
        const kind = rnd.next();
        const expected = new Map<Subscriber, Map<string, Event[]>>();
        let label: string;
        if (kind < 0.35 || posts.length === 0) {
          const post = await createPost();
          posts.push(post.id);
          label = `create post ${post.id}`;
          await expectAll(subscribers, expected, 'create', 'lk_posts', post.id);
        } else if (kind < 0.55) {
          const id = rnd.pick(posts);
          await admin.collection('lk_posts').update(id, postValues());
          label = `update post ${id}`;
          await expectAll(subscribers, expected, 'update', 'lk_posts', id);
        } else if (kind < 0.7) {
          const note = await admin
            .collection('lk_notes')
            .create({ body: `note ${w}`, post: rnd.pick(posts) });
          notes.push(note.id);
          label = `create note ${note.id}`;
          await expectAll(subscribers, expected, 'create', 'lk_notes', note.id);
        } else if (kind < 0.78) {
          const name = rnd.pick(['ann', 'bob', 'mod']);
          const id = users[name]?.id as string;
          await admin
            .collection('users')
            .update(id, { name: `${name}${w}`, emailVisibility: rnd.next() < 0.3 });
          label = `update user ${name}`;
          await expectAll(subscribers, expected, 'update', 'users', id);
        } else if (kind < 0.88 && notes.length) {
          const id = rnd.pick(notes);
          notes.splice(notes.indexOf(id), 1);
          label = `delete note ${id}`;
          await expectAll(subscribers, expected, 'delete', 'lk_notes', id);
          await admin.collection('lk_notes').delete(id);
        } else {
          const id = rnd.pick(posts);
          posts.splice(posts.indexOf(id), 1);
          label = `delete post ${id} (its notes cascade)`;
          // The cascade deletes its notes too: each of them is an event as well, after the post's.
          const cascaded = (await admin.collection('lk_notes').getFullList({ filter: `post = "${id}"` })).map(
            (n) => n.id,
          );
          await expectAll(subscribers, expected, 'delete', 'lk_posts', id);
          for (const noteId of cascaded) {
            notes.splice(notes.indexOf(noteId), 1);
            await expectAll(subscribers, expected, 'delete', 'lk_notes', noteId);
          }
          await admin.collection('lk_posts').delete(id);
        }
        await settle(subscribers);
        for (const s of subscribers) {
          for (const sub of s.subs) {
            if (sub.collection === 'lk_marks') continue;
            const want = expected.get(s)?.get(sub.key) ?? [];
            const got = s.got.get(sub.key) ?? [];
            assert.deepEqual(
              got,
              want,
              `write ${w} (${label}), subscriber ${s.name}, subscription ${sub.key}; ${context}`,
            );
            got.length = 0;
          }
        }
      }
    } finally {
      for (const s of subscribers) await s.pb.realtime.unsubscribe();
    }

    function postValues() {
      return {
        title: `t${Math.floor(rnd.next() * 1000)}`,
        status: rnd.pick(['pub', 'draft']),
        n: Math.floor(rnd.next() * 10),
        secret: rnd.pick(['top', 'low']),
        owner: rnd.pick([users.ann?.id, users.bob?.id, users.mod?.id, '']),
        flag: rnd.next() < 0.5,
        meta: rnd.pick([null, { level: Math.floor(rnd.next() * 5), tag: rnd.pick(['a', 'b']) }, 5, 'a', [1]]),
        when: rnd.pick(['', '2023-05-01 10:00:00.000Z', '2025-02-03 00:00:00.000Z']),
        tags: rnd.pick([[], ['x'], ['y', 'z'], ['x', 'z']]),
      };
    }
    function createPost() {
      return admin.collection('lk_posts').create(postValues());
    }
  }

  /** What each subscriber should receive for this event, asked of the records API as that subscriber. */
  async function expectAll(
    subscribers: Subscriber[],
    expected: Map<Subscriber, Map<string, Event[]>>,
    action: string,
    collection: string,
    id: string,
  ) {
    for (const s of subscribers) {
      for (const sub of s.subs) {
        if (sub.collection !== collection) continue;
        if (sub.topic !== '*' && sub.topic !== id) continue;
        const record = await readAs(s, collection, sub.topic === '*' ? 'list' : 'view', id, sub.options);
        if (record === undefined) continue;
        let byKey = expected.get(s);
        if (!byKey) {
          byKey = new Map();
          expected.set(s, byKey);
        }
        const list = byKey.get(sub.key) ?? [];
        list.push({ action, record });
        byKey.set(sub.key, list);
      }
    }
  }

  async function readAs(
    s: Subscriber,
    collection: string,
    how: 'list' | 'view',
    id: string,
    options: Record<string, string>,
  ): Promise<Json | undefined> {
    const query = new URLSearchParams();
    if (options.expand) query.set('expand', options.expand);
    if (options.fields) query.set('fields', options.fields);
    if (how === 'view') {
      const res = await server.request('GET', `/api/collections/${collection}/records/${id}?${query}`, {
        token: s.token,
      });
      return res.status === 200 ? res.body : undefined;
    }
    query.set('filter', options.filter ? `id = "${id}" && (${options.filter})` : `id = "${id}"`);
    const res = await server.request('GET', `/api/collections/${collection}/records?${query}`, {
      token: s.token,
    });
    return res.status === 200 ? res.body.items[0] : undefined;
  }

  /** A marker everyone watches: once each subscriber has it, everything sent before it has arrived. */
  async function settle(subscribers: Subscriber[]) {
    const mark = await server.admin.collection('lk_marks').create({});
    const deadline = Date.now() + 10_000;
    for (const s of subscribers) {
      const key = `lk_marks/* ${JSON.stringify({})}`;
      while (!s.got.get(key)?.some((e) => e.record.id === mark.id)) {
        if (Date.now() > deadline) throw new Error(`the marker did not reach ${s.name}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      (s.got.get(key) as Event[]).length = 0;
    }
  }
});
