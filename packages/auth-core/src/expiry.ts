import { decodeJwt } from 'jose'
import { InvalidTokenResponseError } from './errors.ts'
import type { IssuedToken } from './types.ts'

/** Longest token lifetime accepted from a vendor: 400 days. Longer values are treated as bogus. */
export const MAX_LIFETIME_SECONDS = 400 * 24 * 3600

/** The timing of the HTTP exchange that produced a token. */
export interface Exchange {
  /** Local epoch ms when the request was sent. */
  sentAt: number
  /** Local epoch ms when the response arrived. */
  receivedAt: number
  /** The response's `Date` header, if any. */
  date?: string
}

/** Options of {@link computeExpiry}. */
export interface ExpiryOptions {
  /** Lifetime in seconds when the vendor gives no expiry at all. */
  defaultLifetime: number
  /** Longest plausible lifetime in seconds; longer is an invalid response. */
  maxLifetime?: number
  /** Name used in messages, e.g. `'clearid'`. */
  vendor: string
}

/**
 * Computes the local expiry (epoch ms, or `null` for never) of an issued token:
 * `expiresIn` from the send time; absolute times corrected by server clock skew; the earliest
 * wins; the default lifetime when nothing is given. Throws {@link InvalidTokenResponseError} for
 * negative, absurd or already-past expiries.
 */
export function computeExpiry(
  issued: IssuedToken,
  exchange: Exchange,
  options: ExpiryOptions,
): number | null {
  const maxLifetime = options.maxLifetime ?? MAX_LIFETIME_SECONDS
  const candidates: number[] = []

  if (issued.expiresIn !== undefined) {
    const seconds = issued.expiresIn
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > maxLifetime) {
      throw new InvalidTokenResponseError(
        `${options.vendor}: token lifetime (expires_in) must be between 1 and ${maxLifetime} seconds, got ${describeNumber(seconds)}`,
      )
    }
    candidates.push(exchange.sentAt + seconds * 1000)
  }

  const skew = serverSkew(exchange)
  if (issued.expiresAt !== undefined) {
    candidates.push(parseAbsoluteTime(issued.expiresAt, options.vendor, 'expiry') - skew)
  }
  if (issued.jwt) {
    const exp = jwtExpiry(issued.value, options.vendor)
    if (exp !== undefined) candidates.push(exp - skew)
  }

  if (candidates.length === 0) {
    if (issued.neverExpires) return null
    candidates.push(exchange.sentAt + options.defaultLifetime * 1000)
  }
  const expiresAt = Math.min(...candidates)
  if (expiresAt <= exchange.receivedAt) {
    throw new InvalidTokenResponseError(
      `${options.vendor}: the token endpoint returned a token that is already expired; check the server and local clocks`,
    )
  }
  if (expiresAt - exchange.sentAt > maxLifetime * 1000) {
    throw new InvalidTokenResponseError(
      `${options.vendor}: token expiry is more than ${maxLifetime} seconds away, which is not plausible`,
    )
  }
  return expiresAt
}

/**
 * How far the server's clock is ahead of ours, in ms, from its `Date` header. The server stamped
 * the header somewhere between our send and our receipt, floored to the second, so the true skew
 * lies in `[date - receivedAt, date + 1000 - sentAt]`. If that interval holds zero we assume no
 * skew; otherwise we take its upper end, which yields the earlier (conservative) local expiry.
 */
export function serverSkew(exchange: Exchange): number {
  if (!exchange.date) return 0
  const serverTime = Date.parse(exchange.date)
  if (Number.isNaN(serverTime)) return 0
  const low = serverTime - exchange.receivedAt
  const high = serverTime + 1000 - exchange.sentAt
  if (low <= 0 && high >= 0) return 0
  return high
}

/**
 * Parses an absolute time: epoch seconds, epoch ms (numbers of 1e11 and more), or an ISO 8601
 * string (a string without an offset is taken as UTC). Returns epoch ms.
 */
export function parseAbsoluteTime(value: number | string, vendor: string, what = 'time'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) {
      throw new InvalidTokenResponseError(
        `${vendor}: ${what} is not a valid timestamp (${describeNumber(value)})`,
      )
    }
    return value >= 1e11 ? value : value * 1000
  }
  if (typeof value === 'string') {
    const text = value.trim()
    if (/^\d+(\.\d+)?$/.test(text)) return parseAbsoluteTime(Number(text), vendor, what)
    const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text) ? `${text}Z` : text
    if (/^\d{4}-\d{2}-\d{2}T/.test(iso)) {
      const parsed = Date.parse(iso)
      if (!Number.isNaN(parsed)) return parsed
    }
  }
  throw new InvalidTokenResponseError(
    `${vendor}: ${what} is not an ISO 8601 date or epoch timestamp`,
  )
}

/** The `exp` of a JWT in epoch ms, `undefined` when it has none. Invalid JWTs are an error. */
function jwtExpiry(value: string, vendor: string): number | undefined {
  let exp: unknown
  try {
    exp = decodeJwt(value).exp
  } catch {
    throw new InvalidTokenResponseError(
      `${vendor}: the access token should be a JWT but cannot be decoded`,
    )
  }
  if (exp === undefined) return undefined
  if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    throw new InvalidTokenResponseError(
      `${vendor}: the access token JWT has a non-numeric exp claim`,
    )
  }
  return exp * 1000
}

function describeNumber(value: unknown): string {
  return typeof value === 'number' ? String(value) : typeof value
}
