/**
 * Abuse limits (OWASP API4: unrestricted resource consumption): how many web chat turns, new
 * web chat conversations and new tickets one user or one address may make in a window (a LINE
 * user's turns are counted with the conversation instead: `TurnRequest.limit`). Counted with
 * `rate-limiter-flexible`: in Redis (one atomic script per count, shared by every instance)
 * when the store is Redis, in memory otherwise. Keys are pseudonyms, never a raw user id or
 * address.
 */
import type { RedisClient } from './stores/connection.ts';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { errorFields, type Logger, pseudonym } from './log.ts';

/** A budget: `points` uses per `seconds`, counted from the first use of a window. */
export interface LimitRule {
  points: number;
  seconds: number;
}

export type LimitName = 'webchatConversation' | 'webchatAddress' | 'webchatNewConversation' | 'tickets';

export type LimitRules = Record<LimitName, LimitRule>;

/** Counts uses against the rules. */
export interface Limits {
  /** Counts one use of `key` under the rule; false when the budget of the window is spent. */
  take(name: LimitName, key: string): Promise<boolean>;
}

export interface LimitsOptions {
  rules: LimitRules;
  /** Counts are shared through this client; without one they live in this process. */
  redis?: RedisClient;
  /** Key prefix (the store's), so several bots can share a Redis. */
  prefix: string;
  log: Logger;
}

export function createLimits(opts: LimitsOptions): Limits {
  const limiters = new Map<LimitName, RateLimiterAbstract>();
  for (const [name, rule] of Object.entries(opts.rules) as [LimitName, LimitRule][]) {
    const base = { points: rule.points, duration: rule.seconds, keyPrefix: `${opts.prefix}limit:${name}` };
    limiters.set(
      name,
      opts.redis
        ? // While Redis is unreachable each process keeps counting on its own rather than letting everything through.
          new RateLimiterRedis({ ...base, storeClient: opts.redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(base) })
        : new RateLimiterMemory(base),
    );
  }
  return {
    async take(name, key) {
      const limiter = limiters.get(name);
      if (!limiter) throw new Error(`no limit named ${name}`);
      try {
        await limiter.consume(pseudonym(key));
        return true;
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          opts.log.warn('limit.reached', { limit: name, user: pseudonym(key) });
          return false;
        }
        // Neither Redis nor the fallback could count: a turn is not refused for that.
        opts.log.warn('limit.unavailable', { limit: name, ...errorFields(err) });
        return true;
      }
    },
  };
}
