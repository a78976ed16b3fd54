import { createHash } from 'node:crypto'

/** The Redis names used for one cache key. None of them contains the cache key itself. */
export interface KeyNames {
  /** Short non-secret id of the cache key (a SHA-256 prefix), used in messages and events. */
  readonly id: string
  /** The hash that holds the token entry. */
  readonly entry: string
  /** The string that holds the lease owner while a token is being requested. */
  readonly lease: string
}

/**
 * Derives the Redis names for a cache key. The cache key is hashed: the core's cache keys are
 * meant to be non-secret, but they name clients and hosts, and a hash keeps names short and
 * uniform. The `{id}` hash tag keeps entry and lease in one cluster slot.
 */
export function keyNames(keyPrefix: string, cacheKey: string): KeyNames {
  const id = createHash('sha256').update(cacheKey).digest('base64url').slice(0, 22)
  return { id, entry: `${keyPrefix}{${id}}:token`, lease: `${keyPrefix}{${id}}:lease` }
}

/** The pub/sub channel on which every store with this prefix announces changes. */
export function channelName(keyPrefix: string): string {
  return `${keyPrefix}events`
}

/**
 * A fingerprint of a token value, compared by the compare-and-set scripts so that Redis never
 * needs the plaintext (which is encrypted when encryption is on).
 */
export function fingerprint(value: string): string {
  return createHash('sha256')
    .update('tokenkeeper-store-redis:fingerprint:')
    .update(value)
    .digest('base64url')
}
