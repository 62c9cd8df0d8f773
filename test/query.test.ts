import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ClientResponseError } from 'pocketbase';
import { startServer, type TestServer } from './helpers/server.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked field by field.
type Json = any;

let srv: TestServer;
const OPEN = { listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '' };
const ids: Record<string, string> = {};

/** authors ← books (author), books.tags (multi relation → tags); `secret` (view rule null) behind books.hiddenRef. */
before(async () => {
  srv = await startServer();
  const pb = srv.admin;
  const secret = await pb.collections.create({
    name: 'secrets',
    type: 'base',
    fields: [{ name: 'code', type: 'text' }],
  });
  const tags = await pb.collections.create({
    name: 'tags',
    type: 'base',
    ...OPEN,
    fields: [{ name: 'label', type: 'text' }],
  });
  const authors = await pb.collections.create({
    name: 'authors',
    type: 'base',
    ...OPEN,
    fields: [
      { name: 'name', type: 'text' },
      { name: 'salary', type: 'number', hidden: true },
    ],
  });
  await pb.collections.create({
    name: 'books',
    type: 'base',
    ...OPEN,
    fields: [
      { name: 'title', type: 'text' },
      { name: 'year', type: 'number' },
      { name: 'author', type: 'relation', collectionId: authors.id, maxSelect: 1 },
      { name: 'tags', type: 'relation', collectionId: tags.id, maxSelect: 5 },
      { name: 'secret', type: 'relation', collectionId: secret.id, maxSelect: 1 },
      { name: 'body', type: 'editor' },
    ],
    indexes: ['CREATE INDEX idx_books_year ON books (year)'],
  });
  ids.s1 = (await pb.collection('secrets').create({ code: 'xyz' })).id;
  ids.t1 = (await pb.collection('tags').create({ label: 'news' })).id;
  ids.t2 = (await pb.collection('tags').create({ label: 'tech' })).id;
  ids.ann = (await pb.collection('authors').create({ name: 'Ann', salary: 100 })).id;
  ids.bob = (await pb.collection('authors').create({ name: 'Bob', salary: 50 })).id;
  for (let i = 0; i < 45; i++) {
    await pb.collection('books').create({
      title: `Book ${String(i).padStart(2, '0')}`,
      year: 1980 + (i % 30),
      author: i % 3 === 0 ? ids.bob : ids.ann,
      tags: i % 2 ? [ids.t1, ids.t2] : [ids.t1],
      secret: ids.s1,
      body: `<p>Chapter <b>${i}</b>   begins here</p>`,
    });
  }
});

after(async () => {
  await srv?.close();
});

const guest = () => srv.client();

describe('filter, sort and paging through the SDK', () => {
  test('getList filters on an indexed field, sorts on several keys, counts the total', async () => {
    const res = await guest()
      .collection('books')
      .getList(1, 10, { filter: 'year >= 1990 && year < 2000', sort: '-year,title' });
    assert.equal(res.totalItems, 15);
    assert.equal(res.totalPages, 2);
    assert.equal(res.items.length, 10);
    const keys = res.items.map((b) => [b.year, b.title]);
    const sorted = [...keys].sort((x, y) => y[0] - x[0] || (x[1] < y[1] ? -1 : 1));
    assert.deepEqual(keys, sorted);
  });

  test('skipTotal answers -1 and a short page gives the exact total', async () => {
    const skipped = await guest()
      .collection('books')
      .getList(1, 10, { filter: 'year > 1990', skipTotal: true });
    assert.equal(skipped.totalItems, -1);
    assert.equal(skipped.totalPages, -1);
    const last = await guest().collection('books').getList(2, 40, { filter: 'year >= 1980' });
    assert.equal(last.totalItems, 45);
    assert.equal(last.items.length, 5);
    const beyond = await guest().collection('books').getList(9, 40, { filter: 'year >= 1980' });
    assert.equal(beyond.totalItems, 45);
    assert.equal(beyond.items.length, 0);
  });

  test('getFullList pages through a filtered list and getFirstListItem finds one', async () => {
    const all = await guest()
      .collection('books')
      .getFullList({ filter: "author.name = 'Bob'", sort: 'title', batch: 4 });
    assert.equal(all.length, 15);
    const first = await guest()
      .collection('books')
      .getFirstListItem(guest().filter('title = {:t}', { t: 'Book 07' }));
    assert.equal(first.title, 'Book 07');
  });

  test('relation paths: multi relations match every item without ?, one with ?', async () => {
    const all = await guest().collection('books').getList(1, 100, { filter: "tags.label = 'news'" });
    const any = await guest().collection('books').getList(1, 100, { filter: "tags.label ?= 'tech'" });
    assert.equal(all.totalItems, 23); // only the books whose tags are all 'news'
    assert.equal(any.totalItems, 22);
    assert.equal(new Set(any.items.map((b) => b.id)).size, any.items.length, 'no duplicated records');
  });

  test('? comparisons on one path share the related record, as in PocketBase', async () => {
    // Every book has the tag `news`; odd books also `tech`. One tag cannot be both.
    const both = await guest()
      .collection('books')
      .getList(1, 100, { filter: "tags.label ?= 'news' && tags.label ?= 'tech'" });
    assert.equal(both.totalItems, 0);
    const same = await guest()
      .collection('books')
      .getList(1, 100, { filter: "tags.label ?= 'tech' && tags.id ?= {:t}".replace('{:t}', `'${ids.t2}'`) });
    assert.equal(same.totalItems, 22);
    const mismatch = await guest()
      .collection('books')
      .getList(1, 100, { filter: "tags.label ?= 'tech' && tags.id ?= {:t}".replace('{:t}', `'${ids.t1}'`) });
    assert.equal(mismatch.totalItems, 0);
    const anyPair = await guest()
      .collection('books')
      .getList(1, 100, { filter: 'tags.label ?!= tags.label' });
    assert.equal(anyPair.totalItems, 0, 'both sides read the same tag');
    // Without ?, each comparison looks at all the items on its own.
    const all = await guest()
      .collection('books')
      .getList(1, 100, { filter: "tags.label ?= 'tech' && tags.label != 'sport'" });
    assert.equal(all.totalItems, 22);
  });

  test('back-relations filter and sort by a relation path', async () => {
    const res = await guest()
      .collection('authors')
      .getList(1, 10, { filter: 'books_via_author.year ?= 1983', sort: 'name' });
    // 1983 is the year of books 3 and 33, both by Bob.
    assert.deepEqual(
      res.items.map((a) => a.name),
      ['Bob'],
    );
    const sorted = await guest().collection('books').getList(1, 45, { sort: '-author.name,title' });
    assert.equal(sorted.items[0]?.author, ids.bob);
    assert.equal(sorted.items.at(-1)?.author, ids.ann);
  });

  test('a hidden field cannot be used by a guest, whatever its value; a superuser may', async () => {
    for (const filter of ['salary > 0', 'salary = 100', 'name != "" && salary < 0']) {
      await assert.rejects(
        guest().collection('authors').getList(1, 10, { filter }),
        (e: ClientResponseError) => {
          assert.equal(e.status, 400);
          return true;
        },
      );
    }
    await assert.rejects(guest().collection('authors').getList(1, 10, { sort: 'salary' }), { status: 400 });
    await assert.rejects(guest().collection('books').getList(1, 10, { filter: 'author.salary > 60' }), {
      status: 400,
    });
    const su = await srv.admin.collection('authors').getList(1, 10, { filter: 'salary > 60' });
    assert.deepEqual(
      su.items.map((a) => a.name),
      ['Ann'],
    );
  });

  test('syntax errors and limits are 400s naming the problem', async () => {
    const cases: Array<[string, RegExp]> = [
      ["title = 'x' &&", /end of filter/],
      ['title = = 1', /character 9/],
      ['(((title = 1', /"\)"/],
      ['nope = 1', /unknown field "nope"/],
      [`${'('.repeat(40)}title = 1${')'.repeat(40)}`, /nested parentheses/],
      [Array.from({ length: 201 }, () => 'year = 1').join(' || '), /comparisons/],
      [`title = '${'x'.repeat(3500)}'`, /longer than 3500/],
      ['author.author.author.author.author.author.author.x = 1', /not a relation|unknown field|more than 6/],
    ];
    for (const [filter, message] of cases) {
      const res = await srv.request(
        'GET',
        `/api/collections/books/records?filter=${encodeURIComponent(filter)}`,
      );
      assert.equal(res.status, 400, filter.slice(0, 50));
      assert.match(res.body.message, message);
      assert.deepEqual(res.body.data, {});
    }
    const sort = await srv.request('GET', `/api/collections/books/records?sort=${'title,'.repeat(9)}`);
    assert.equal(sort.status, 400);
    const multiSort = await srv.request('GET', '/api/collections/books/records?sort=tags.label');
    assert.equal(multiSort.status, 400);
  });
});

describe('expand', () => {
  test('single and multi relations, nested, back-relations', async () => {
    const book = await guest()
      .collection('books')
      .getFirstListItem("title = 'Book 01'", { expand: 'author,tags' });
    assert.equal(book.expand?.author.name, 'Ann');
    assert.equal(book.expand?.author.salary, undefined, 'hidden fields stay hidden inside expand');
    assert.deepEqual(
      book.expand?.tags.map((t: Json) => t.label),
      ['news', 'tech'],
    );
    const author = await guest()
      .collection('authors')
      .getOne(String(ids.bob), { expand: 'books_via_author.tags' });
    assert.equal(author.expand?.books_via_author.length, 15);
    assert.ok(author.expand?.books_via_author.every((b: Json) => b.expand.tags[0].label === 'news'));
  });

  test('a target the caller may not view is left out; the superuser sees it', async () => {
    const asGuest = await guest()
      .collection('books')
      .getFirstListItem("title = 'Book 02'", { expand: 'secret' });
    assert.equal(asGuest.expand?.secret, undefined);
    const asAdmin = await srv.admin
      .collection('books')
      .getFirstListItem("title = 'Book 02'", { expand: 'secret' });
    assert.equal(asAdmin.expand?.secret.code, 'xyz');
  });

  test('names that are not relations are ignored, as in PocketBase; levels past 6 are left out', async () => {
    for (const expand of ['title', 'nope', 'x_via_y', 'a.b.c.d.e.f.g']) {
      const res = await srv.request('GET', `/api/collections/books/records?expand=${expand}`);
      assert.equal(res.status, 200, expand);
      assert.equal(res.body.items[0].expand, undefined, expand);
    }
    const res = await srv.request('POST', '/api/collections/books/records?expand=nope,author', {
      body: { title: 'Ignored expand', author: ids.ann },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body.expand), ['author']);
    await srv.request('DELETE', `/api/collections/books/records/${res.body.id}`);
  });

  test('create and update answer with expand and fields applied', async () => {
    const created = await guest()
      .collection('books')
      .create({ title: 'Fresh', author: ids.ann }, { expand: 'author', fields: 'title,expand.author.name' });
    assert.deepEqual(created, { title: 'Fresh', expand: { author: { name: 'Ann' } } });
  });
});

describe('fields', () => {
  test('picks keys, nested expand keys, * and :excerpt', async () => {
    const res = await guest().collection('books').getList(1, 2, {
      sort: 'title',
      fields: 'id,body:excerpt(12,true),expand.author.name',
      expand: 'author',
    });
    assert.deepEqual(Object.keys(res.items[0] ?? {}).sort(), ['body', 'expand', 'id']);
    assert.equal(res.items[0]?.body, 'Chapter 0 be...');
    assert.deepEqual(res.items[0]?.expand, { author: { name: 'Bob' } });
    const star = await guest()
      .collection('books')
      .getList(1, 1, { sort: 'title', fields: '*,expand.author.name', expand: 'author' });
    assert.equal(star.items[0]?.title, 'Book 00');
    assert.deepEqual(star.items[0]?.expand, { author: { name: 'Bob' } });
    const view = await guest().collection('books').getOne(String(res.items[0]?.id), { fields: 'title' });
    assert.deepEqual(view, { title: 'Book 00' });
  });
});

describe('cost limits', () => {
  test('lists on both sides of a comparison are capped, single-sided deep paths are not', async () => {
    const pb = srv.admin;
    const nodes = await pb.collections.create({
      name: 'nodes',
      type: 'base',
      listRule: '',
      fields: [{ name: 'name', type: 'text' }],
    });
    await pb.collections.update('nodes', {
      fields: [...nodes.fields, { name: 'parents', type: 'relation', collectionId: nodes.id, maxSelect: 3 }],
    });
    const path = (n: number) => `${Array(n).fill('parents').join('.')}.name`;
    const ok = await srv.request(
      'GET',
      `/api/collections/nodes/records?filter=${encodeURIComponent(`${path(2)} ?= ${path(2)}`)}`,
    );
    assert.equal(ok.status, 200);
    const deep = await srv.request(
      'GET',
      `/api/collections/nodes/records?filter=${encodeURIComponent(`${path(6)} ?= 'x'`)}`,
    );
    assert.equal(deep.status, 200);
    const cross = await srv.request(
      'GET',
      `/api/collections/nodes/records?filter=${encodeURIComponent(`${path(3)} ?= ${path(2)}`)}`,
    );
    assert.equal(cross.status, 400);
    assert.match(cross.body.message, /at most 4 multi-valued relations/);
    const many = Array.from({ length: 5 }, () => `${path(5)} ?= 'x'`).join(' || ');
    const budget = await srv.request(
      'GET',
      `/api/collections/nodes/records?filter=${encodeURIComponent(many)}`,
    );
    assert.equal(budget.status, 400);
    assert.match(budget.body.message, /more than 24 multi-valued relations/);
  });
});

describe('auth records', () => {
  test('a guest filter sees an email only where emailVisibility is on', async () => {
    const pb = srv.admin;
    await pb.collections.create({ name: 'members', type: 'auth', listRule: '', viewRule: '', fields: [] });
    await pb.collection('members').create({
      email: 'public@example.com',
      emailVisibility: true,
      password: 'pass-word-1',
      passwordConfirm: 'pass-word-1',
    });
    await pb.collection('members').create({
      email: 'hidden@example.com',
      emailVisibility: false,
      password: 'pass-word-1',
      passwordConfirm: 'pass-word-1',
    });
    const count = async (client: ReturnType<typeof guest>, filter: string) =>
      (await client.collection('members').getList(1, 10, { filter })).totalItems;
    assert.equal(await count(guest(), "email ~ 'hidden'"), 0);
    assert.equal(await count(guest(), "email:lower = 'hidden@example.com'"), 0);
    assert.equal(
      await count(guest(), "email != 'x@example.com'"),
      2,
      'a hidden email is null, not its value',
    );
    assert.equal(await count(guest(), "email ~ 'public'"), 1);
    assert.equal(await count(srv.admin, "email ~ 'hidden'"), 1);
  });
});
