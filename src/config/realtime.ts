/**
 * Limits of realtime streams (src/realtime/). Boot config, like admission: they protect the node's memory
 * and sockets, which depend on the machine rather than the app. docs/realtime.md lists them.
 */
export interface RealtimeConfig {
  /** Open realtime streams one client IP may hold; past this, 429. */
  realtimeMaxClientsPerIp: number;
  /** Subscriptions one stream may hold (PocketBase accepts up to 1000 per request). */
  realtimeMaxSubscriptions: number;
  /** Bytes a stream may leave unread before it is disconnected as too slow. */
  realtimeBufferBytes: number;
  /** Seconds without a message or subscription change after which a stream is closed (the SDK reconnects). */
  realtimeIdleTimeout: number;
  /** Seconds between keep-alive comments on a quiet stream. */
  realtimeHeartbeat: number;
}

export const REALTIME_KEYS: readonly (keyof RealtimeConfig)[] = [
  'realtimeMaxClientsPerIp',
  'realtimeMaxSubscriptions',
  'realtimeBufferBytes',
  'realtimeIdleTimeout',
  'realtimeHeartbeat',
];

export function realtimeEnv(env: NodeJS.ProcessEnv): Record<keyof RealtimeConfig, unknown> {
  return {
    realtimeMaxClientsPerIp: env.PLINTH_REALTIME_MAX_CLIENTS_PER_IP,
    realtimeMaxSubscriptions: env.PLINTH_REALTIME_MAX_SUBSCRIPTIONS,
    realtimeBufferBytes: env.PLINTH_REALTIME_BUFFER_BYTES,
    realtimeIdleTimeout: env.PLINTH_REALTIME_IDLE_TIMEOUT,
    realtimeHeartbeat: env.PLINTH_REALTIME_HEARTBEAT,
  };
}

/**
 * Defaults: 1,000 streams per IP (a whole office or a carrier's NAT behind one address, yet not the
 * node's every socket); PocketBase's 1,000 subscriptions; 1 MiB unread per stream; PocketBase's 5-minute
 * idle timeout; a keep-alive every 25 s, under the 30–60 s idle limits common in proxies.
 */
export function readRealtime(
  input: Partial<Record<keyof RealtimeConfig, unknown>>,
  problems: string[],
): RealtimeConfig {
  const number = (key: keyof RealtimeConfig, fallback: number, min: number, max: number) => {
    const value = Number(input[key] ?? fallback);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${key} must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  return {
    realtimeMaxClientsPerIp: number('realtimeMaxClientsPerIp', 1000, 1, 10_000_000),
    realtimeMaxSubscriptions: number('realtimeMaxSubscriptions', 1000, 1, 100_000),
    realtimeBufferBytes: number('realtimeBufferBytes', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    realtimeIdleTimeout: number('realtimeIdleTimeout', 300, 1, 86_400),
    realtimeHeartbeat: number('realtimeHeartbeat', 25, 1, 3600),
  };
}
