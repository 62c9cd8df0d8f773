import { availableParallelism } from 'node:os';

/**
 * How much work the HTTP server takes on at once (src/http/admission.ts). Boot config rather than runtime
 * settings: the right figures follow the machine (cores, database pool), not the app.
 */
export interface AdmissionConfig {
  /** Requests handled at once; more wait in the queue. */
  maxInFlight: number;
  /** Requests that may wait for a slot; past this a new one is answered 503 at once. 0: no queue. */
  maxQueue: number;
  /** Longest wait in the queue before a 503, in milliseconds. */
  queueTimeoutMs: number;
  /** Past this long in one turn of the event loop, new requests are answered 503 (ms). 0: never. */
  maxEventLoopDelayMs: number;
  /** Requests one client IP may have running or queued; past this, 429. 0: no limit. */
  maxInFlightPerIp: number;
  /** Open connections one client IP may hold; past this, 503 and the connection is closed. 0: no limit. */
  maxConnectionsPerIp: number;
}

/** The `PLINTH_*` variable of each option. */
/** Admission's keys in a config file. */
export const ADMISSION_KEYS: readonly (keyof AdmissionConfig)[] = [
  'maxInFlight',
  'maxQueue',
  'queueTimeoutMs',
  'maxEventLoopDelayMs',
  'maxInFlightPerIp',
  'maxConnectionsPerIp',
];

export function admissionEnv(env: NodeJS.ProcessEnv): Record<keyof AdmissionConfig, unknown> {
  return {
    maxInFlight: env.PLINTH_MAX_IN_FLIGHT,
    maxQueue: env.PLINTH_MAX_QUEUE,
    queueTimeoutMs: env.PLINTH_QUEUE_TIMEOUT_MS,
    maxEventLoopDelayMs: env.PLINTH_MAX_EVENT_LOOP_DELAY_MS,
    maxInFlightPerIp: env.PLINTH_MAX_IN_FLIGHT_PER_IP,
    maxConnectionsPerIp: env.PLINTH_MAX_CONNECTIONS_PER_IP,
  };
}

/**
 * Defaults scale with the cores. 8 requests in flight per core (2 cores: 16) keep the database and the
 * event loop busy: measured on a heavy list at 4× saturation, 64 in flight served no more than 8 or 16
 * but had a p99 five times longer. A queue of 8× that absorbs bursts (128). One IP may take every running
 * slot and half the queue (80), so others still get in. A turn of the event loop may run 200 ms before
 * new requests are shed, so that a health probe still answers well within a second.
 */
export function readAdmission(
  input: Partial<Record<keyof AdmissionConfig, unknown>>,
  problems: string[],
  cores = availableParallelism(),
): AdmissionConfig {
  const number = (key: keyof AdmissionConfig, fallback: number, min: number) => {
    const value = Number(input[key] ?? fallback);
    if (!Number.isInteger(value) || value < min || value > 10_000_000) {
      problems.push(`${key} must be a whole number ≥ ${min}`);
      return fallback;
    }
    return value;
  };
  const maxInFlight = number('maxInFlight', 8 * Math.max(1, cores), 1);
  const maxQueue = number('maxQueue', 8 * maxInFlight, 0);
  return {
    maxInFlight,
    maxQueue,
    queueTimeoutMs: number('queueTimeoutMs', 5000, 1),
    maxEventLoopDelayMs: number('maxEventLoopDelayMs', 200, 0),
    maxInFlightPerIp: number('maxInFlightPerIp', maxInFlight + Math.floor(maxQueue / 2), 0),
    maxConnectionsPerIp: number('maxConnectionsPerIp', 256, 0),
  };
}
