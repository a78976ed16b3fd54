import { channel } from 'node:diagnostics_channel'

/**
 * `node:diagnostics_channel` channel names. Messages carry the cache key, vendor, reason,
 * durations and error codes, never a token or secret value.
 *
 * @example
 * import { subscribe } from 'node:diagnostics_channel'
 * subscribe(TOKEN_CHANNELS.failed, (event) => console.warn(event))
 */
export const TOKEN_CHANNELS = {
  requested: 'tokenkeeper:token:requested',
  issued: 'tokenkeeper:token:issued',
  renewed: 'tokenkeeper:token:renewed',
  failed: 'tokenkeeper:token:failed',
  servedStale: 'tokenkeeper:token:served-stale',
  invalidated: 'tokenkeeper:token:invalidated',
} as const

/** Fields of every token event. */
export interface TokenEvent {
  /** The source's cache key (non-secret). */
  key: string
  vendor: string
  /** Why the token was requested, or why an event happened. */
  reason?: string
  /** Duration of the token request, in ms. */
  durationMs?: number
  /** Non-secret id of the token concerned (hash prefix). */
  tokenId?: string
  /** Epoch ms, or `null` for never. */
  expiresAt?: number | null
  /** For failures: error code, message and whether it will be retried. */
  error?: { code: string; message: string; retryable: boolean }
  /** For failures in the background: when the next attempt is due (epoch ms). */
  retryAt?: number
}

const channels = {
  requested: channel(TOKEN_CHANNELS.requested),
  issued: channel(TOKEN_CHANNELS.issued),
  renewed: channel(TOKEN_CHANNELS.renewed),
  failed: channel(TOKEN_CHANNELS.failed),
  servedStale: channel(TOKEN_CHANNELS.servedStale),
  invalidated: channel(TOKEN_CHANNELS.invalidated),
}

/** Publishes an event if anyone listens (cheap otherwise). */
export function publish(name: keyof typeof TOKEN_CHANNELS, event: TokenEvent): void {
  const target = channels[name]
  if (target.hasSubscribers) target.publish(event)
}
