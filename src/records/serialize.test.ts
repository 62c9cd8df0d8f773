import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blankCollection, field } from '../schema/index.ts';
import { createShape } from './serialize.ts';
import type { AuthContext } from './types.ts';

const guest = { isSuperuser: false } as AuthContext;
const superuser = { isSuperuser: true } as AuthContext;

describe('record shapes', () => {
  const posts = blankCollection('base', {
    id: 'pbc_posts',
    name: 'posts',
    fields: [
      field('text', 'id', { system: true }),
      field('text', 'title'),
      field('text', 'secret', { hidden: true }),
      field('bool', 'done'),
      field('number', 'n'),
    ],
  });
  const shape = createShape(posts);
  const row = { id: 'r1', title: 'Hello', secret: 's', done: 1, n: 7, extra: 'not a field' };

  it('reads a row into values of the fields only, converted from what the database stores', () => {
    const values = shape.fromRow(row);
    assert.deepEqual(values, { id: 'r1', title: 'Hello', secret: 's', done: true, n: 7 });
  });

  it('answers the collection, then the fields in their order; hidden ones to superusers only', () => {
    const values = shape.fromRow(row);
    const json = shape.toJson(values, guest);
    assert.deepEqual(Object.keys(json), ['collectionId', 'collectionName', 'id', 'title', 'done', 'n']);
    assert.deepEqual(json, {
      collectionId: 'pbc_posts',
      collectionName: 'posts',
      id: 'r1',
      title: 'Hello',
      done: true,
      n: 7,
    });
    assert.deepEqual(Object.keys(shape.toJson(values, superuser)), [
      'collectionId',
      'collectionName',
      'id',
      'title',
      'secret',
      'done',
      'n',
    ]);
  });

  it('makes a new object each time: changing one answer leaves the next alone', () => {
    const values = shape.fromRow(row);
    const first = shape.toJson(values, guest);
    first.title = 'changed';
    assert.equal(shape.toJson(values, guest).title, 'Hello');
    assert.equal(values.title, 'Hello');
  });

  describe('auth collections', () => {
    const users = blankCollection('auth', {
      id: 'pbc_users',
      name: 'users',
      fields: [
        field('text', 'id', { system: true }),
        field('password', 'password', { system: true, hidden: true }),
        field('text', 'tokenKey', { system: true, hidden: true }),
        field('email', 'email', { system: true }),
        field('bool', 'emailVisibility', { system: true }),
        field('text', 'name'),
      ],
    });
    const shape = createShape(users);
    const row = {
      id: 'u1',
      password: 'hash',
      tokenKey: 'key',
      email: 'a@b.co',
      emailVisibility: 0,
      name: 'A',
    };
    const owner = { isSuperuser: false, collection: users, record: { id: 'u1' } } as unknown as AuthContext;

    it('keeps the password hash in the values, and never sends it or the token key, even to superusers', () => {
      const values = shape.fromRow(row);
      assert.equal(values.password, 'hash');
      for (const auth of [guest, superuser, owner]) {
        const json = shape.toJson(values, auth, true);
        assert.equal('password' in json, false);
        assert.equal('tokenKey' in json, false);
      }
    });

    it('hides the email from others unless it is visible, or the caller may see it', () => {
      const values = shape.fromRow(row);
      assert.equal('email' in shape.toJson(values, guest), false);
      assert.equal(shape.toJson(values, owner).email, 'a@b.co');
      assert.equal(shape.toJson(values, superuser).email, 'a@b.co');
      assert.equal(shape.toJson(values, guest, true).email, 'a@b.co');
      assert.equal(shape.toJson(shape.fromRow({ ...row, emailVisibility: 1 }), guest).email, 'a@b.co');
      // The password hash defaults to '' when the row has none.
      assert.equal(shape.fromRow({ ...row, password: undefined }).password, '');
    });
  });
});
