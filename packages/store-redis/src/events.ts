import { channel } from 'node:diagnostics_channel'

/**
 * `node:diagnostics_channel` channel on which the Redis store reports what it does. Messages
 * carry hashed key ids and reasons, never a cache key, token or secret.
 *
 * @example
 * import { subscribe } from 'node:diagnostics_channel'
 * subscribe(STORE_REDIS_CHANNEL, (event) => console.log(event))
 */
export const STORE_REDIS_CHANNEL = 'tokenkeeper:store-redis'

/** A message on {@link STORE_REDIS_CHANNEL}. */
export interface RedisStoreEvent {
  /**
   * - `remote-change`: another store wrote, invalidated or deleted an entry; the local copy was dropped.
   * - `subscription-up` / `subscription-down`: the local layer is trusted again / no longer.
   * - `fallback-started` / `fallback-ended`: serving from process memory while Redis is down (opt-in).
   * - `lease-lost`: a held lease expired or was taken before its holder released it.
   */
  readonly type:
    | 'remote-change'
    | 'subscription-up'
    | 'subscription-down'
    | 'fallback-started'
    | 'fallback-ended'
    | 'lease-lost'
  /** Hashed, non-secret id of the cache key concerned (as in the Redis key names). */
  readonly keyId?: string
  /** For `remote-change`: what happened to the entry. */
  readonly action?: 'write' | 'invalidate' | 'delete'
  /** A short non-secret explanation. */
  readonly reason?: string
}

const storeChannel = channel(STORE_REDIS_CHANNEL)

/** Publishes an event if anyone listens (cheap otherwise). */
export function publishStoreEvent(event: RedisStoreEvent): void {
  if (storeChannel.hasSubscribers) storeChannel.publish(event)
}
