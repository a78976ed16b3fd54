import {
  type AccessToken,
  ConfigurationError,
  InvalidTokenResponseError,
  type IssuedToken,
  MAX_LIFETIME_SECONDS,
  parseJsonObject,
  type SecretInput,
  type TokenRequestContext,
  type TokenSource,
  type TransportResponse,
} from '@tokenkeeper/auth-core'
import { clearTokenEndpointError, readClearError, VENDOR } from './clear-cfc-error.ts'
import type { ClearCfcSourceSettings } from './clear-cfc-provider.ts'
import {
  CLIENT_SECRET_HEADER,
  checkSettings,
  type ResolvedClearSettings,
  resolveSettings,
} from './clear-cfc-settings.ts'

/**
 * Least time between token requests that failed: five minutes, the average rate Clear's daily
 * quota of 288 token requests allows, so a failing endpoint cannot exhaust the quota.
 */
export const MINIMUM_ISSUE_INTERVAL = 300_000

/**
 * For this long after its issue (five minutes, the average rate Clear's daily quota of 288 token
 * requests allows), a token that an API rejects is kept rather than replaced. A token rejected
 * that young was most likely revoked by another program requesting tokens with the same secret,
 * or the API client lacks access to the product called (the token still works for the others);
 * replacing it at once would revoke the other program's token in turn, or spend the quota one
 * API call at a time.
 */
export const REJECTED_TOKEN_MIN_AGE = 300_000

/** The Clear {@link TokenSource}, plus the URL helper the client's `request()` uses. */
export interface ClearCfcTokenSource extends TokenSource {
  readonly vendor: typeof VENDOR
  readonly reissueRevokesPrevious: true
  readonly rejectionGrace: number
  readonly minimumIssueInterval: number
  /** The absolute URL of a Clear API path such as `/integration/v1/ingest/file/SALES`. */
  apiUrl(path: string): string
}

/**
 * The bare Clear Finance Cloud {@link TokenSource}: `GET {baseUrl}/integration/v1/authz/token`
 * with the `x-clear-client-secret` header, answered with `{ access_token, valid_till }`. Tokens
 * are presented in `x-cleartax-auth-token` (or `tokenHeader`) with the static `headers`.
 *
 * The source declares `reissueRevokesPrevious`: issuing a Clear token revokes the previous one,
 * so the client never renews in the background and issues under the store's lease.
 *
 * Settings passed in code are checked at once; environment variables are read on first use.
 *
 * @example
 * const client = createTokenClient(clearCfcTokenSource({ environment: 'india-production' }))
 */
export function clearCfcTokenSource(settings: ClearCfcSourceSettings = {}): ClearCfcTokenSource {
  checkSettings(settings)
  let resolved: ResolvedClearSettings | undefined
  // Memoised on success only, so a variable set after a failed attempt is picked up.
  const current = () => {
    resolved ??= resolveSettings(settings)
    return resolved
  }

  return {
    vendor: VENDOR,
    reissueRevokesPrevious: true,
    // A portal token (accessToken mode) is never reissued: a rejection means it is dead, and
    // the source says so at once instead of keeping it.
    get rejectionGrace() {
      return current().credential.kind === 'accessToken' ? 0 : REJECTED_TOKEN_MIN_AGE
    },
    minimumIssueInterval: MINIMUM_ISSUE_INTERVAL,
    cacheKey: () => current().cacheKey,
    requestToken: async (context) => requestToken(current(), context),
    authHeaders: (token: AccessToken) => {
      const { headers, tokenHeader } = current()
      return { ...headers, [tokenHeader]: token.value }
    },
    origins: () => {
      try {
        return [new URL(current().baseUrl).origin]
      } catch {
        // Settings are incomplete: no token can be had either, and getToken() reports why.
        return []
      }
    },
    apiUrl: (path: string) => {
      if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//')) {
        throw new ConfigurationError(
          `${VENDOR}: request() takes a path of the Clear API starting with /, not a URL; use fetch() for absolute URLs`,
          { setting: 'path' },
        )
      }
      return `${current().baseUrl}${path}`
    },
  }
}

async function requestToken(
  settings: ResolvedClearSettings,
  context: TokenRequestContext,
): Promise<IssuedToken> {
  const { credential } = settings
  if (credential.kind === 'accessToken') {
    if (context.reason === 'rejected') {
      throw new ConfigurationError(
        `${VENDOR}: Clear rejected the token from the accessToken setting (or CLEAR_ACCESS_TOKEN); it has expired or was revoked. Generate a new one in the Clear portal, or use clientSecret so that tokens are renewed`,
        { setting: 'accessToken' },
      )
    }
    return { value: credential.token.reveal(), neverExpires: true }
  }

  const secret = credential.secret.reveal()
  const sentAt = context.now()
  const response = await context.transport({
    url: settings.tokenUrl,
    method: 'GET',
    headers: { accept: 'application/json', [CLIENT_SECRET_HEADER]: secret },
    signal: context.signal,
  })
  const receivedAt = context.now()
  if (response.status < 200 || response.status > 299) {
    throw clearTokenEndpointError(response, {
      sentAt,
      receivedAt,
      baseUrl: settings.baseUrl,
      secrets: [secret],
    })
  }
  return parseClearTokenResponse(response, { now: receivedAt, secrets: [secret] })
}

/** Options of {@link parseClearTokenResponse}. */
export interface ParseClearTokenOptions {
  /**
   * Local epoch ms of the answer. When given, a `valid_till` more than 400 days away counts as
   * "does not expire" (rather than an implausible expiry that would throw the new token away
   * and cost another request, which revokes it).
   */
  now?: number
  /**
   * Values the request carried (the client secret): a 2xx whose `errors[]` echo one has it
   * replaced with `[redacted]` in the error message.
   */
  secrets?: ReadonlyArray<SecretInput | undefined>
}

/**
 * Parses a successful answer of Clear's token endpoint into the token the core stores:
 * `access_token` (or the `access-token` spelling of one doc revision) must be a non-empty
 * string; `valid_till` is an ISO 8601 date-time (UTC when it has no offset), and `null` or
 * absent means the token never expires. Throws {@link InvalidTokenResponseError} otherwise,
 * naming the field and never quoting the body.
 */
export function parseClearTokenResponse(
  response: TransportResponse,
  options: ParseClearTokenOptions = {},
): IssuedToken {
  const body = parseJsonObject(response, VENDOR)
  const invalid = (what: string) =>
    new InvalidTokenResponseError(`${VENDOR}: token response ${what}`, { status: response.status })

  const value = body.access_token ?? body['access-token']
  if (value === undefined || value === null) {
    const error = readClearError(response, options.secrets)
    if (error.code || error.message || error.id) {
      throw invalid(
        `has errors instead of an access_token (${[error.code, error.message].filter(Boolean).join(': ')}${error.id ? ` [error_id ${error.id}]` : ''})`,
      )
    }
    throw invalid('has no access_token')
  }
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw invalid('has an access_token that is not a non-empty string')
  }

  // Absent is read like null: serialisers that drop null fields turn "never expires" into absent.
  const validTill = body.valid_till
  if (validTill === undefined || validTill === null) return { value, neverExpires: true }
  if (typeof validTill !== 'string') {
    throw invalid('has a valid_till that is neither an ISO 8601 date-time nor null')
  }
  const expiresAt = normaliseValidTill(validTill)
  if (expiresAt === undefined) {
    throw invalid('has a valid_till that is not an ISO 8601 date-time (YYYY-MM-DDTHH:MM:SS+00:00)')
  }
  if (
    options.now !== undefined &&
    Date.parse(expiresAt) - options.now > MAX_LIFETIME_SECONDS * 1000
  ) {
    return { value, neverExpires: true }
  }
  return { value, expiresAt }
}

const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$/

/**
 * Checks an ISO 8601 date-time strictly (real calendar date, hours 00-23) and returns it in the
 * form `Date.parse` reads everywhere: `YYYY-MM-DDTHH:MM:SS.mmm` plus `Z` or `±HH:MM`. A value
 * without an offset is UTC, as Clear documents.
 */
export function normaliseValidTill(text: string): string | undefined {
  const match = ISO_DATE_TIME.exec(text.trim())
  if (!match) return undefined
  const [, year, month, day, hour, minute, second = '00', fraction = '', offset = 'Z'] = match
  const numbers = [year, month, day, hour, minute, second].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  const [y, mo, d, h, mi, s] = numbers
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate()
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || s > 59) {
    return undefined
  }
  let zone = 'Z'
  if (offset.toUpperCase() !== 'Z') {
    const digits = offset.slice(1).replace(':', '')
    const offsetHours = Number(digits.slice(0, 2))
    const offsetMinutes = Number(digits.slice(2) || '0')
    if (offsetHours > 23 || offsetMinutes > 59) return undefined
    zone = `${offset[0]}${digits.slice(0, 2)}:${String(offsetMinutes).padStart(2, '0')}`
  }
  const millis = fraction.padEnd(3, '0').slice(0, 3)
  return `${year}-${month}-${day}T${hour}:${minute}:${second}.${millis}${zone}`
}
