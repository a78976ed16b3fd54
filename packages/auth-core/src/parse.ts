import { InvalidTokenResponseError, TokenEndpointError } from './errors.ts'
import { revealSecret, type SecretInput } from './secret.ts'
import type { IssuedToken, TransportResponse } from './types.ts'

type JsonObject = Record<string, unknown>

/** Describes a body that is not JSON without quoting it (it could echo a secret). */
function describeBody(body: string, contentType: string | undefined): string {
  const start = body.trimStart().slice(0, 64).toLowerCase()
  if (start.length === 0) return 'an empty body'
  if (
    start.startsWith('<!doctype html') ||
    start.startsWith('<html') ||
    contentType?.includes('html')
  ) {
    return 'an HTML page (a proxy, gateway or login page?)'
  }
  if (start.startsWith('{') || start.startsWith('[')) return 'malformed or truncated JSON'
  return `a non-JSON body${contentType ? ` (${contentType.split(';')[0]})` : ''}`
}

/**
 * Parses a token endpoint answer as a JSON object. Throws {@link InvalidTokenResponseError}
 * naming what came instead (HTML page, empty body, truncated JSON), never quoting the body.
 */
export function parseJsonObject(response: TransportResponse, vendor: string): JsonObject {
  let parsed: unknown
  try {
    parsed = JSON.parse(response.body)
  } catch {
    throw new InvalidTokenResponseError(
      `${vendor}: token endpoint answered HTTP ${response.status} with ${describeBody(response.body, response.headers['content-type'])}, expected JSON`,
      { status: response.status },
    )
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidTokenResponseError(
      `${vendor}: token endpoint answered HTTP ${response.status} with JSON that is not an object`,
      { status: response.status },
    )
  }
  return parsed as JsonObject
}

/** Like {@link parseJsonObject} but returns `undefined` instead of throwing (for error bodies). */
export function tryParseJsonObject(response: TransportResponse): JsonObject | undefined {
  try {
    const parsed: unknown = JSON.parse(response.body)
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as JsonObject)
      : undefined
  } catch {
    return undefined
  }
}

/**
 * Reads `Retry-After` (delay-seconds or an HTTP date, RFC 9110 §10.2.3) into epoch ms on the
 * local clock, or `undefined` if absent or unreadable.
 */
export function parseRetryAfter(
  headers: Readonly<Record<string, string>>,
  now: number,
): number | undefined {
  const value = headers['retry-after']?.trim()
  if (!value) return undefined
  let at: number
  if (/^\d+$/.test(value)) at = now + Number(value) * 1000
  else {
    const date = Date.parse(value)
    if (Number.isNaN(date)) return undefined
    at = Math.max(now, date)
  }
  // A wait longer than a week is not a rate limit but a broken header: cap it.
  return Math.min(at, now + MAX_RETRY_AFTER)
}

/** Longest wait accepted from `Retry-After`: 7 days, in ms. */
export const MAX_RETRY_AFTER = 7 * 24 * 3600 * 1000

/**
 * Replaces every occurrence of the given secrets in `text` with `[redacted]`: the raw value and
 * its URL-encoded and form-encoded spellings (a server that echoes a request body echoes those).
 * Values shorter than 4 characters are left alone (they would match everywhere).
 */
export function redactSecrets(
  text: string,
  secrets: ReadonlyArray<SecretInput | undefined>,
): string {
  let clean = text
  for (const secret of secrets) {
    if (secret === undefined) continue
    const value = revealSecret(secret)
    if (value.length < 4) continue
    const spellings = new Set([
      value,
      encodeURIComponent(value),
      new URLSearchParams({ v: value }).toString().slice(2),
    ])
    for (const spelling of spellings) clean = clean.split(spelling).join('[redacted]')
  }
  return clean
}

/** A short, printable excerpt of a vendor-supplied description (never the request). */
export function excerpt(value: unknown, max = 200): string | undefined {
  if (typeof value !== 'string') return undefined
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const clean = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()
  if (clean.length === 0) return undefined
  return clean.length > max ? `${clean.slice(0, max)}…` : clean
}

/** Fields of an OAuth 2.0 error response (RFC 6749 §5.2). */
export interface OAuthErrorBody {
  error?: string
  errorDescription?: string
}

/**
 * Reads `error` and `error_description` from an error response, if it is OAuth-shaped JSON,
 * redacting `secrets` (every spelling) before shortening them.
 */
export function readOAuthError(
  response: TransportResponse,
  options: { secrets?: ReadonlyArray<SecretInput | undefined> } = {},
): OAuthErrorBody {
  const body = tryParseJsonObject(response)
  if (!body) return {}
  // Redact before shortening, so that a secret cut in two by the excerpt cannot survive in part.
  const clean = (value: unknown) =>
    typeof value === 'string' && options.secrets ? redactSecrets(value, options.secrets) : value
  const result: OAuthErrorBody = {}
  const error = excerpt(clean(body.error), 64)
  if (error) result.error = error
  const description = excerpt(clean(body.error_description))
  if (description) result.errorDescription = description
  return result
}

/** Options of {@link tokenEndpointError}. */
export interface TokenEndpointErrorInput {
  vendor: string
  /** Local epoch ms, for `Retry-After`. */
  now: number
  /** What to tell the user after the status line (which setting to check, what to do). */
  hint?: string
  oauthError?: string
  description?: string
  vendorErrorCode?: string
  vendorErrorId?: string
  /** Overrides the `Retry-After`-derived time (e.g. a daily quota resetting at midnight). */
  retryAt?: number
  /** Values the request carried (secret, password, assertion): redacted if the answer echoes them. */
  secrets?: ReadonlyArray<SecretInput | undefined>
}

/**
 * Builds the {@link TokenEndpointError} for an error answer: status, OAuth or vendor error code,
 * retryability (429, 5xx, 408), `Retry-After`, and a message that says what to do.
 */
export function tokenEndpointError(
  response: TransportResponse,
  input: TokenEndpointErrorInput,
): TokenEndpointError {
  const retryAt = input.retryAt ?? parseRetryAfter(response.headers, input.now)
  const clean = (value: string | undefined) =>
    value === undefined || input.secrets === undefined ? value : redactSecrets(value, input.secrets)
  const oauthError = clean(input.oauthError)
  const description = clean(input.description)
  const vendorErrorCode = clean(input.vendorErrorCode)
  const vendorErrorId = clean(input.vendorErrorId)
  const parts = [`${input.vendor}: token endpoint answered HTTP ${response.status}`]
  const detail = [oauthError ?? vendorErrorCode, description].filter(Boolean).join(': ')
  if (detail) parts.push(` (${detail})`)
  if (vendorErrorId) parts.push(` [error_id ${vendorErrorId}]`)
  if (input.hint) parts.push(`. ${input.hint}`)
  if (retryAt !== undefined && response.status === 429) {
    parts.push(`. Not retrying before ${new Date(retryAt).toISOString()}`)
  }
  return new TokenEndpointError(parts.join(''), {
    status: response.status,
    ...(retryAt !== undefined ? { retryAt } : {}),
    ...(oauthError ? { oauthError } : {}),
    ...(vendorErrorCode ? { vendorErrorCode } : {}),
    ...(vendorErrorId ? { vendorErrorId } : {}),
  })
}

/** A parsed OAuth 2.0 token response (RFC 6749 §5.1), plus Keycloak's refresh expiry. */
export interface OAuthTokenResponse {
  accessToken: string
  tokenType?: string
  expiresIn?: number
  refreshToken?: string
  /** Keycloak: seconds the refresh token stays usable; `0` means no fixed limit (not forever). */
  refreshExpiresIn?: number
  scope?: string[]
  /** The whole JSON body, for vendor-specific fields. */
  body: Record<string, unknown>
}

/**
 * Validates a successful (2xx) OAuth 2.0 token response: `access_token` a non-empty string,
 * `expires_in` a number (or a string of digits), `token_type`, `scope`, `refresh_token` of the
 * right types. Throws {@link InvalidTokenResponseError} naming the field at fault.
 */
export function parseOAuthTokenResponse(
  response: TransportResponse,
  vendor: string,
): OAuthTokenResponse {
  const body = parseJsonObject(response, vendor)
  const invalid = (what: string) =>
    new InvalidTokenResponseError(`${vendor}: token response ${what}`, { status: response.status })

  const accessToken = body.access_token
  if (accessToken === undefined) throw invalid('has no access_token')
  if (typeof accessToken !== 'string' || accessToken.trim().length === 0) {
    throw invalid('has an access_token that is not a non-empty string')
  }
  const result: OAuthTokenResponse = { accessToken, body }

  if (body.token_type !== undefined && body.token_type !== null) {
    if (typeof body.token_type !== 'string') throw invalid('has a token_type that is not a string')
    result.tokenType = body.token_type
  }
  const expiresIn = readSeconds(body.expires_in)
  if (expiresIn === 'invalid') throw invalid('has an expires_in that is not a number of seconds')
  if (expiresIn !== undefined) result.expiresIn = expiresIn

  if (body.refresh_token !== undefined && body.refresh_token !== null) {
    if (typeof body.refresh_token !== 'string' || body.refresh_token.length === 0) {
      throw invalid('has a refresh_token that is not a non-empty string')
    }
    result.refreshToken = body.refresh_token
  }
  const refreshExpiresIn = readSeconds(body.refresh_expires_in)
  if (refreshExpiresIn === 'invalid')
    throw invalid('has a refresh_expires_in that is not a number of seconds')
  if (refreshExpiresIn !== undefined) result.refreshExpiresIn = refreshExpiresIn

  if (body.scope !== undefined && body.scope !== null) {
    if (typeof body.scope === 'string') result.scope = body.scope.split(' ').filter(Boolean)
    else if (Array.isArray(body.scope) && body.scope.every((item) => typeof item === 'string')) {
      result.scope = body.scope as string[]
    } else throw invalid('has a scope that is neither a string nor a list of strings')
  }
  return result
}

function readSeconds(value: unknown): number | undefined | 'invalid' {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'number') return Number.isFinite(value) ? value : 'invalid'
  if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value)
  return 'invalid'
}

/**
 * True if `value` has the shape of a compact JWS (three base64url parts). With `jwt: 'auto'` such
 * a token's `exp` counts, and one that then cannot be decoded is an invalid response.
 */
export function looksLikeJwt(value: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(value)
}

/** Options of {@link oauthIssuedToken}. */
export interface OAuthIssuedTokenOptions {
  /**
   * The access token is a JWT whose `exp` counts too. `'auto'`: if it has the shape of one (for
   * vendors whose tokens are documented as JWTs). Leave unset for opaque tokens.
   */
  jwt?: boolean | 'auto'
  /** Present the token with this scheme instead of the server's `token_type`. */
  type?: string
}

/** Turns a parsed OAuth token response into the {@link IssuedToken} the core consumes. */
export function oauthIssuedToken(
  parsed: OAuthTokenResponse,
  options: OAuthIssuedTokenOptions = {},
): IssuedToken {
  return {
    value: parsed.accessToken,
    type: options.type ?? normaliseTokenType(parsed.tokenType),
    ...(parsed.expiresIn !== undefined ? { expiresIn: parsed.expiresIn } : {}),
    ...(parsed.scope ? { scope: parsed.scope } : {}),
    ...(options.jwt === true || (options.jwt === 'auto' && looksLikeJwt(parsed.accessToken))
      ? { jwt: true }
      : {}),
  }
}

/** `bearer` (Keycloak), `BEARER`, missing → `Bearer`; other schemes kept as sent. */
export function normaliseTokenType(type: string | undefined): string {
  if (type === undefined || type.toLowerCase() === 'bearer') return 'Bearer'
  return type
}

/**
 * The `Authorization` value for `client_secret_basic` (RFC 6749 §2.3.1): client id and secret are
 * each form-urlencoded, joined with `:`, then Base64-encoded, so ids and secrets containing `:`,
 * `%`, `+`, spaces or non-ASCII characters survive the round trip.
 */
export function clientSecretBasic(clientId: string, clientSecret: SecretInput): string {
  const pair = `${encodeURIComponent(clientId)}:${encodeURIComponent(revealSecret(clientSecret))}`
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`
}
