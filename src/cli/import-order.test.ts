import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type OrderDef, planImportOrder } from './import-order.ts';

const rel = (name: string, collectionId: string, required = false) => ({
  name,
  type: 'relation',
  collectionId,
  required,
});
const def = (name: string, ...fields: OrderDef['fields']): OrderDef => ({ id: `id_${name}`, name, fields });

describe('the order of an import of every collection', () => {
  it('puts a relation target before the collection that points at it, ties in input order', () => {
    const plan = planImportOrder([
      def('comments', rel('post', 'id_posts', true), rel('author', 'id_users')),
      def('posts', rel('author', 'id_users', true)),
      def('users'),
      def('tags'),
    ]);
    assert.deepEqual(plan.order, ['users', 'posts', 'comments', 'tags']);
    assert.equal(plan.deferred.size, 0);
  });

  it('defers a self-relation and the optional relations of a cycle to the second pass', () => {
    const plan = planImportOrder([
      def('a', rel('b', 'id_b', true)),
      def('b', rel('a', 'id_a'), rel('parent', 'id_b')),
      def('c', rel('a', 'id_a', true)),
    ]);
    assert.deepEqual(plan.order, ['b', 'a', 'c']);
    assert.deepEqual([...plan.deferred], [['b', ['a', 'parent']]]);
  });

  it('ignores relations to collections outside the import', () => {
    const plan = planImportOrder([def('posts', rel('owner', 'id__superusers', true))]);
    assert.deepEqual(plan.order, ['posts']);
  });

  it('refuses a cycle of required relations, naming its fields', () => {
    assert.throws(
      () => planImportOrder([def('a', rel('b', 'id_b', true)), def('b', rel('a', 'id_a', true)), def('z')]),
      /required relations form a cycle \(a\.b → b, b\.a → a\)/,
    );
    assert.throws(
      () => planImportOrder([def('node', rel('parent', 'id_node', true))]),
      /cycle \(node\.parent → node\)/,
    );
  });
});
