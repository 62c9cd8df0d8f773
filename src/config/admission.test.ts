import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAdmission } from './admission.ts';
import { ConfigError, loadConfig } from './config.ts';

describe('admission config', () => {
  it('derives its defaults from the cores', () => {
    assert.deepEqual(readAdmission({}, [], 2), {
      maxInFlight: 16,
      maxQueue: 128,
      queueTimeoutMs: 5000,
      maxEventLoopDelayMs: 200,
      maxInFlightPerIp: 80,
      maxConnectionsPerIp: 256,
    });
    const one = readAdmission({ maxInFlight: 4 }, [], 8);
    assert.equal(one.maxQueue, 32, 'the queue follows maxInFlight');
    assert.equal(one.maxInFlightPerIp, 20);
  });

  it('reads PLINTH_* variables, and 0 switches the per-IP limits and the loop watch off', () => {
    const c = loadConfig(
      {},
      {
        PLINTH_MAX_IN_FLIGHT: '3',
        PLINTH_MAX_QUEUE: '0',
        PLINTH_QUEUE_TIMEOUT_MS: '250',
        PLINTH_MAX_EVENT_LOOP_DELAY_MS: '0',
        PLINTH_MAX_IN_FLIGHT_PER_IP: '0',
        PLINTH_MAX_CONNECTIONS_PER_IP: '0',
      },
    );
    assert.deepEqual(
      [
        c.maxInFlight,
        c.maxQueue,
        c.queueTimeoutMs,
        c.maxEventLoopDelayMs,
        c.maxInFlightPerIp,
        c.maxConnectionsPerIp,
      ],
      [3, 0, 250, 0, 0, 0],
    );
  });

  it('lists every bad value', () => {
    assert.throws(
      () =>
        loadConfig({ maxInFlight: 0, maxQueue: -1, queueTimeoutMs: 'soon', maxConnectionsPerIp: 1.5 }, {}),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 4,
    );
  });
});
