import type { Redis } from 'ioredis';
import type { WindowCounters } from './counters.ts';

// Each script runs atomically in Redis, so two nodes counting the same key at once cannot both pass a
// check made before either counted. Windows are key expiries (ms), set when a key's first count is made.
const TAKE = `
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then ttl = tonumber(ARGV[2 * i]) end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[2 * i]) end
end
return 0`;

const GIVE_BACK = `
for _, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count > 0 then redis.call('DECR', key) end
end
return 0`;

type Scripts = Redis & {
  plinthTake(n: number, ...args: (string | number)[]): Promise<number>;
  plinthGiveBack(n: number, ...keys: string[]): Promise<number>;
};

/**
 * Counters every node shares, kept in Redis under `prefix`. While Redis cannot be reached (not connected,
 * or a command failed), each call is made on `alone` instead: the node keeps counting by itself, as a
 * single node would, rather than refusing every sign-in or letting every one through unchecked.
 */
export function createRedisCounters(redis: Redis, prefix: string, alone: WindowCounters): WindowCounters {
  redis.defineCommand('plinthTake', { lua: TAKE });
  redis.defineCommand('plinthGiveBack', { lua: GIVE_BACK });
  const scripts = redis as Scripts;
  const name = (key: string) => `${prefix}n:${key}`;
  const ready = () => redis.status === 'ready';

  return {
    async take(limits) {
      if (!limits.length) return 0;
      if (!ready()) return alone.take(limits);
      const args: (string | number)[] = limits.map((l) => name(l.key));
      for (const l of limits) args.push(l.max, Math.max(1, Math.round(l.windowSeconds * 1000)));
      try {
        const ms = Number(await scripts.plinthTake(limits.length, ...args));
        return ms > 0 ? Math.max(1, Math.ceil(ms / 1000)) : 0;
      } catch {
        return alone.take(limits);
      }
    },
    async forget(keys) {
      if (!keys.length) return;
      await alone.forget(keys);
      if (ready()) await redis.del(...keys.map(name)).catch(() => {});
    },
    async giveBack(keys) {
      if (!keys.length) return;
      await alone.giveBack(keys);
      if (ready()) await scripts.plinthGiveBack(keys.length, ...keys.map(name)).catch(() => {});
    },
  };
}
