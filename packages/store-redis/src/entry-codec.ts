import { ConfigurationError, type StoredToken, StoreError } from '@tokenkeeper/auth-core'
import type { EntryCipher } from './encryption.ts'
import { fingerprint } from './keys.ts'

/** How the `data` field of an entry is written. */
type EntryFormat = 'json' | 'a256gcm'

/**
 * An entry as the Redis hash holds it. Only `data` carries the token (encrypted when a key is
 * configured); the other fields are non-secret metadata the Lua scripts need for
 * compare-and-set and for deciding whether an entry is still of any use.
 */
interface EncodedEntry {
  /** Fingerprint of the token value. */
  readonly fp: string
  readonly data: string
  readonly fmt: EntryFormat
  /** `'1'` once an API rejected the token. */
  readonly rej: '0' | '1'
  /** Token expiry in epoch ms, `''` for never. */
  readonly exp: string
  /** Until when the state is useful, epoch ms; `''` for ever, `'none'` when there is no state. */
  readonly sexp: string
}

/** The hash fields read back for an entry, in this order. */
export const READ_FIELDS = ['data', 'fmt', 'rej'] as const

/**
 * Epoch ms until which an entry is of any use (its token or its state), `Infinity` for never
 * ending, or `-Infinity` for already useless. Mirrors `isSpent` of the core.
 */
export function usefulUntil(entry: StoredToken): number {
  const tokenUntil = entry.rejected
    ? Number.NEGATIVE_INFINITY
    : (entry.expiresAt ?? Number.POSITIVE_INFINITY)
  const stateUntil =
    entry.state === undefined
      ? Number.NEGATIVE_INFINITY
      : (entry.stateExpiresAt ?? Number.POSITIVE_INFINITY)
  return Math.max(tokenUntil, stateUntil)
}

/** Turns entries into hash fields and back, encrypting when a cipher is configured. */
export class EntryCodec {
  readonly #cipher: EntryCipher | undefined

  constructor(cipher: EntryCipher | undefined) {
    this.#cipher = cipher
  }

  /** @param redisKey The entry's Redis key, bound to the ciphertext. */
  encode(entry: StoredToken, redisKey: string): EncodedEntry {
    const json = JSON.stringify(plain(entry))
    return {
      fp: fingerprint(entry.value),
      data: this.#cipher ? this.#cipher.encrypt(json, redisKey) : json,
      fmt: this.#cipher ? 'a256gcm' : 'json',
      rej: entry.rejected ? '1' : '0',
      exp: entry.expiresAt === null ? '' : String(entry.expiresAt),
      sexp:
        entry.state === undefined
          ? 'none'
          : entry.stateExpiresAt == null
            ? ''
            : String(entry.stateExpiresAt),
    }
  }

  /**
   * Reads the fields of {@link READ_FIELDS}. `where` describes the entry for messages (never
   * the cache key's secret parts: callers pass the hashed id).
   */
  decode(
    fields: readonly (string | null)[],
    redisKey: string,
    where: string,
  ): StoredToken | undefined {
    const [data, format, rejected] = fields
    if (data == null) return undefined
    let json: string
    if (format === 'a256gcm') {
      if (!this.#cipher) {
        throw new ConfigurationError(
          `Redis token store: ${where} is encrypted, but this process has no encryptionKey; give every process the same key`,
          { setting: 'encryptionKey' },
        )
      }
      json = this.#cipher.decrypt(data, redisKey, where)
    } else if (format === 'json') {
      if (this.#cipher) {
        // Accepting plaintext here would let anyone with write access to Redis plant a token.
        throw new ConfigurationError(
          `Redis token store: ${where} is not encrypted, but this process has an encryptionKey; give every process the same key (or delete the entry once)`,
          { setting: 'encryptionKey' },
        )
      }
      json = data
    } else {
      throw malformed(where)
    }
    const entry = parseEntry(json, where)
    return rejected === '1' ? { ...entry, rejected: true } : entry
  }
}

/** The entry's own fields only (no `rejected`: that lives in its own hash field). */
function plain(entry: StoredToken): Omit<StoredToken, 'rejected'> {
  return {
    value: entry.value,
    type: entry.type,
    expiresAt: entry.expiresAt,
    issuedAt: entry.issuedAt,
    ...(entry.scope !== undefined ? { scope: entry.scope } : {}),
    ...(entry.state !== undefined ? { state: entry.state } : {}),
    ...(entry.stateExpiresAt !== undefined ? { stateExpiresAt: entry.stateExpiresAt } : {}),
  }
}

function parseEntry(json: string, where: string): StoredToken {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    throw malformed(where)
  }
  if (!isStoredToken(parsed)) throw malformed(where)
  return parsed
}

/** Checks the shape of an entry (from Redis, or handed to `set`). */
export function isStoredToken(value: unknown): value is StoredToken {
  if (typeof value !== 'object' || value === null) return false
  const entry = value as Record<string, unknown>
  return (
    typeof entry.value === 'string' &&
    entry.value.length > 0 &&
    typeof entry.type === 'string' &&
    (entry.expiresAt === null || Number.isFinite(entry.expiresAt)) &&
    Number.isFinite(entry.issuedAt) &&
    (entry.scope === undefined ||
      (Array.isArray(entry.scope) && entry.scope.every((item) => typeof item === 'string'))) &&
    (entry.state === undefined ||
      (typeof entry.state === 'object' && entry.state !== null && !Array.isArray(entry.state))) &&
    (entry.stateExpiresAt === undefined ||
      entry.stateExpiresAt === null ||
      Number.isFinite(entry.stateExpiresAt)) &&
    (entry.rejected === undefined || typeof entry.rejected === 'boolean')
  )
}

function malformed(where: string): StoreError {
  return new StoreError(
    `Redis token store: ${where} is malformed (written by an incompatible version?); delete it and it will be requested again`,
    { retryable: false },
  )
}
