import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep, setImmediate as turn } from 'node:timers/promises';
import { AdmissionGate, type GateLimits, newWaiter, type Waiter } from './admission-gate.ts';

const limits = (over: Partial<GateLimits> = {}): GateLimits => ({
  maxInFlight: 2,
  maxQueue: 2,
  queueTimeoutMs: 10_000,
  maxInFlightPerIp: 0,
  ...over,
});

/** A waiter that records what happened to it. */
const waiter = (ip: string, log: string[], name: string): Waiter =>
  newWaiter(
    ip,
    () => log.push(`run ${name}`),
    () => log.push(`expire ${name}`),
  );

describe('the admission gate', () => {
  it('runs up to maxInFlight, queues up to maxQueue, then answers busy', () => {
    const gate = new AdmissionGate(limits());
    assert.deepEqual(
      ['a', 'b', 'c', 'd', 'e'].map((ip) => {
        const verdict = gate.enter(ip);
        if (verdict === 'queue') gate.wait(waiter(ip, [], ip));
        return verdict;
      }),
      ['run', 'run', 'queue', 'queue', 'busy'],
    );
    assert.equal(gate.inFlight, 2);
    assert.equal(gate.queued, 2);
    gate.close();
  });

  it('hands freed slots to waiters first come, first served, after the current turn', async () => {
    const gate = new AdmissionGate(limits({ maxInFlight: 1, maxQueue: 5 }));
    const log: string[] = [];
    assert.equal(gate.enter('a'), 'run');
    for (const name of ['w1', 'w2', 'w3']) {
      assert.equal(gate.enter(name), 'queue');
      gate.wait(waiter(name, log, name));
    }
    gate.leave('a');
    assert.deepEqual(log, [], 'the hand-over is deferred');
    // A newcomer does not jump the queue even though a slot is free for a moment.
    assert.equal(gate.enter('late'), 'queue');
    gate.wait(waiter('late', log, 'late'));
    await turn(); // after the gate's deferred hand-over
    assert.deepEqual(log, ['run w1']);
    gate.leave('w1');
    await turn();
    assert.deepEqual(log, ['run w1', 'run w2']);
    gate.close();
  });

  it('lets requests parked on the sync of their write leave their slots, up to 4 × maxInFlight', async () => {
    const gate = new AdmissionGate(limits({ maxInFlight: 1, maxQueue: 10 }));
    const log: string[] = [];
    assert.equal(gate.enter('a'), 'run');
    assert.equal(gate.enter('b'), 'queue');
    gate.wait(waiter('b', log, 'b'));
    // a's write is committed and waits for its sync: its slot goes to the queue, after this turn.
    gate.parked(1);
    assert.deepEqual(log, []);
    await turn();
    assert.deepEqual(log, ['run b']);
    // Parked writes beyond four times maxInFlight keep their slots.
    gate.parked(10);
    for (const ip of ['c', 'd', 'e']) assert.equal(gate.enter(ip), 'run');
    assert.equal(gate.enter('f'), 'queue');
    gate.wait(waiter('f', log, 'f'));
    assert.equal(gate.inFlight, 5);
    // The sync is done: the parked requests hold their slots again until they answer.
    gate.parked(0);
    for (const ip of ['a', 'b', 'c', 'd']) gate.leave(ip);
    await turn();
    assert.deepEqual(log, ['run b'], 'e still runs: no slot is free');
    gate.leave('e');
    await turn();
    assert.deepEqual(log, ['run b', 'run f']);
    gate.close();
  });

  it('goes round the waiting IPs, so a flood from one address does not hold back another', async () => {
    const gate = new AdmissionGate(limits({ maxInFlight: 1, maxQueue: 20 }));
    const log: string[] = [];
    assert.equal(gate.enter('flood'), 'run');
    for (let i = 1; i <= 5; i++) gate.wait(waiter('flood', log, `f${i}`));
    gate.wait(waiter('calm', log, 'c1'));
    gate.wait(waiter('other', log, 'o1'));
    gate.wait(waiter('calm', log, 'c2'));
    for (let i = 0; i < 7; i++) {
      gate.leave('any'); // no per-IP limit here, so which IP leaves does not matter
      await turn();
    }
    // Oldest first within an IP; an IP just served waits for the others' turn.
    assert.deepEqual(log, ['run f1', 'run c1', 'run o1', 'run f2', 'run c2', 'run f3', 'run f4']);
    gate.close();
  });

  it('keeps the round right when waiters leave from the middle of an IP queue', async () => {
    const gate = new AdmissionGate(limits({ maxInFlight: 1, maxQueue: 20 }));
    const log: string[] = [];
    gate.enter('a');
    const ws = ['a1', 'a2', 'a3'].map((n) => waiter('a', log, n));
    for (const w of ws) gate.wait(w);
    const b1 = waiter('b', log, 'b1');
    gate.wait(b1);
    gate.cancel(ws[1] as Waiter);
    gate.cancel(b1);
    assert.equal(gate.queued, 2);
    for (let i = 0; i < 3; i++) {
      gate.leave('a');
      await turn();
    }
    assert.deepEqual(log, ['run a1', 'run a3']);
    assert.equal(gate.queued, 0);
    gate.close();
  });

  it('drops a cancelled waiter without running it', async () => {
    const gate = new AdmissionGate(limits({ maxInFlight: 1 }));
    const log: string[] = [];
    gate.enter('a');
    gate.enter('b');
    const gone = waiter('b', log, 'gone');
    gate.wait(gone);
    gate.enter('c');
    gate.wait(waiter('c', log, 'kept'));
    gate.cancel(gone);
    assert.equal(gate.queued, 1);
    gate.leave('a');
    await turn();
    assert.deepEqual(log, ['run kept']);
    gate.close();
  });

  it('expires waiters after queueTimeoutMs and frees their place', async () => {
    const gate = new AdmissionGate(limits({ maxInFlight: 1, maxQueue: 1, queueTimeoutMs: 40 }));
    const log: string[] = [];
    gate.enter('a');
    gate.enter('b');
    gate.wait(waiter('b', log, 'b'));
    assert.equal(gate.enter('c'), 'busy');
    await sleep(150);
    assert.deepEqual(log, ['expire b']);
    assert.equal(gate.queued, 0);
    assert.equal(gate.enter('c'), 'queue');
    gate.close();
  });

  it('limits the requests of one IP, running and queued together', () => {
    const gate = new AdmissionGate(limits({ maxInFlight: 1, maxQueue: 5, maxInFlightPerIp: 2 }));
    assert.equal(gate.enter('x'), 'run');
    assert.equal(gate.enter('x'), 'queue');
    gate.wait(waiter('x', [], 'x2'));
    assert.equal(gate.enter('x'), 'ip');
    assert.equal(gate.enter('y'), 'queue', 'another IP still gets in');
    gate.wait(waiter('y', [], 'y'));
    gate.leave('x');
    assert.equal(gate.enter('x'), 'queue', 'a finished request gives the IP its place back');
    gate.close();
  });

  it('keeps an orphaned slot until the request finishes, or until the grace ends', async () => {
    const gate = new AdmissionGate(limits({ maxInFlight: 1, orphanGraceMs: 60 }));
    const first = {};
    gate.enter('a');
    gate.orphan(first, 'a');
    assert.equal(gate.enter('b'), 'queue', 'the work still runs, so the slot is still taken');
    gate.wait(waiter('b', [], 'b'));
    gate.finish(first);
    assert.equal(gate.inFlight, 0);
    gate.finish(first);
    assert.equal(gate.inFlight, 0, 'finishing twice frees once');
    await turn();
    const second = {};
    gate.orphan(second, 'b');
    await sleep(400);
    assert.equal(gate.inFlight, 0, 'a request that never finishes loses its slot after the grace');
    gate.close();
  });
});
