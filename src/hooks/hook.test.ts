import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hook } from './hook.ts';

describe('Hook', () => {
  it('runs handlers by priority around the action', async () => {
    const hook = new Hook<{ log: string[] }>();
    hook.bind(
      async (e, next) => {
        e.log.push('b');
        await next();
        e.log.push('b-after');
      },
      { priority: 2 },
    );
    hook.bind(
      async (e, next) => {
        e.log.push('a');
        await next();
      },
      { priority: 1 },
    );
    const event = { log: [] as string[] };
    await hook.trigger(event, (e) => {
      e.log.push('action');
    });
    assert.deepEqual(event.log, ['a', 'b', 'action', 'b-after']);
  });

  it('stops the chain when a handler does not call next, and unbinds by id', async () => {
    const hook = new Hook<{ ran: boolean }>();
    const id = hook.bind(() => {});
    const event = { ran: false };
    await hook.trigger(event, (e) => {
      e.ran = true;
    });
    assert.equal(event.ran, false);
    hook.unbind(id);
    await hook.trigger(event, (e) => {
      e.ran = true;
    });
    assert.equal(event.ran, true);
  });

  it('propagates a handler error (so an in-transaction hook rolls the write back)', async () => {
    const hook = new Hook<object>();
    hook.bind(() => {
      throw new Error('no');
    });
    await assert.rejects(
      hook.trigger({}, () => {}),
      /no/,
    );
  });
});
