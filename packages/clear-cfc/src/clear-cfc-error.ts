import {
  excerpt,
  redactSecrets,
  type SecretInput,
  type TokenEndpointError,
  type TransportResponse,
  tokenEndpointError,
  tryParseJsonObject,
} from '@tokenkeeper/auth-core'

/** Vendor id used in messages and events. */
export const VENDOR = 'clear-cfc'

/** Clear's per-secret daily limit on the token endpoint. */
export const DAILY_TOKEN_QUOTA = 288

/** One entry of Clear's `errors` array. */
export interface ClearErrorDetails {
  /** `error_code`: the rule or precondition that failed. */
  code?: string
  /** `error_message`, shortened, with any echo of the secret removed. */
  message?: string
  /** `error_id`: the reference Clear support asks for. */
  id?: string
}

/** What {@link clearTokenEndpointError} needs besides the response. */
export interface ClearErrorContext {
  /** Local epoch ms when the request was sent. */
  sentAt: number
  /** Local epoch ms when the response arrived. */
  receivedAt: number
  /** The Clear API base URL the request went to (named in hints). */
  baseUrl: string
  /**
   * Values that must never be repeated in a message even if Clear echoes them (raw, URL- or
   * form-encoded): the client secret that was sent.
   */
  secrets?: ReadonlyArray<SecretInput | undefined>
}

/**
 * Reads the first entry of Clear's error body
 * `{ "errors": [ { "error_code", "error_message", "error_source", "error_id" } ] }`.
 * Also accepts the business-API shape `{ "errorCode", "errorMessage" }`. Returns `{}` for
 * anything else (HTML pages, empty bodies). `secrets` (the values the request carried) are
 * replaced with `[redacted]` in every field, in each spelling an echo may use.
 */
export function readClearError(
  response: TransportResponse,
  secrets: ReadonlyArray<SecretInput | undefined> = [],
): ClearErrorDetails {
  const body = tryParseJsonObject(response)
  if (!body) return {}
  const first = Array.isArray(body.errors) ? body.errors.find(isObject) : undefined
  const source: Record<string, unknown> = first ?? body
  const details: ClearErrorDetails = {}
  const code = clean(source.error_code ?? source.errorCode, secrets, 64)
  const message = clean(source.error_message ?? source.errorMessage, secrets, 200)
  const id = clean(source.error_id ?? source.errorId, secrets, 64)
  if (code) details.code = code
  if (message) details.message = message
  if (id) details.id = id
  return details
}

/**
 * Maps an error answer of Clear's token endpoint to a {@link TokenEndpointError} that keeps
 * Clear's `error_code` (`vendorErrorCode`) and `error_id` (`vendorErrorId`) and says what to do:
 *
 * - 401 (secret missing, wrong, incomplete, deleted, or this machine's IP not allowed): not
 *   retryable; the message names `clientSecret` / `CLEAR_CLIENT_SECRET` and the IP allow-list.
 * - 429 (more than 288 token requests today): retryable, but not before `Retry-After` or, without
 *   it, the next 00:00 UTC on Clear's clock, when the daily count resets (`retryAt`).
 * - 5xx: retryable; quote the `error_id` to Clear support if it persists.
 */
export function clearTokenEndpointError(
  response: TransportResponse,
  context: ClearErrorContext,
): TokenEndpointError {
  const details = readClearError(response, context.secrets)
  const status = response.status
  let retryAt: number | undefined
  if (status === 429 && !response.headers['retry-after']?.trim()) {
    const reset = nextQuotaReset({
      sentAt: context.sentAt,
      receivedAt: context.receivedAt,
      ...(response.headers.date ? { date: response.headers.date } : {}),
    })
    // Only a local clock at the end of Date's range gives none; the core's Retry-After rules apply.
    if (isTime(reset)) retryAt = reset
  }
  return tokenEndpointError(response, {
    vendor: VENDOR,
    now: context.receivedAt,
    hint: hintFor(status, context.baseUrl, retryAt !== undefined),
    ...(details.code ? { vendorErrorCode: details.code } : {}),
    ...(details.message ? { description: details.message } : {}),
    ...(details.id ? { vendorErrorId: details.id } : {}),
    ...(retryAt !== undefined ? { retryAt } : {}),
    ...(context.secrets ? { secrets: context.secrets } : {}),
  })
}

/**
 * Margin added to the quota reset: a request sent a moment before Clear's midnight would be
 * refused again and push the next attempt back a whole day.
 */
export const QUOTA_RESET_MARGIN = 60_000

/**
 * The local epoch ms at which to ask again after a 429 without `Retry-After`: the next
 * 00:00 UTC on Clear's clock, when its daily count of token requests resets, plus
 * {@link QUOTA_RESET_MARGIN}. The server's `Date` header corrects for a local clock that is off;
 * of the skews the header allows, the one that puts the reset latest is taken. A `Date` whose
 * next midnight lies past the range of `Date` is ignored.
 */
export function nextQuotaReset(exchange: {
  sentAt: number
  receivedAt: number
  date?: string
}): number {
  const serverTime = exchange.date === undefined ? Number.NaN : Date.parse(exchange.date)
  // The server stamped `Date` (rounded down to the second) at some point of the exchange; the
  // smallest skew consistent with that is against the end of the exchange.
  const skew = Number.isNaN(serverTime) ? 0 : serverTime - exchange.receivedAt
  const reset = resetAfter(exchange.receivedAt, skew)
  // A `Date` whose next midnight Date cannot represent (the last day of its range) is not a
  // clock worth believing: the local clock decides instead.
  return isTime(reset) ? reset : resetAfter(exchange.receivedAt, 0)
}

/** The next 00:00 UTC on a clock `skew` ms ahead of the local one, in local ms, plus the margin. */
function resetAfter(receivedAt: number, skew: number): number {
  const serverNow = new Date(receivedAt + skew)
  const midnight = Date.UTC(
    serverNow.getUTCFullYear(),
    serverNow.getUTCMonth(),
    serverNow.getUTCDate() + 1,
  )
  return midnight - skew + QUOTA_RESET_MARGIN
}

/** A number that `Date` can represent (within ±8.64e15 ms of the epoch). */
function isTime(value: number): boolean {
  return Number.isFinite(value) && !Number.isNaN(new Date(value).getTime())
}

function hintFor(status: number, baseUrl: string, untilMidnight: boolean): string {
  if (status === 401) {
    return (
      'Clear did not accept the client secret. Check clientSecret (or CLEAR_CLIENT_SECRET): it may ' +
      `be wrong, incomplete, deleted, or made for another environment or workspace than ${baseUrl}. ` +
      "If it is right, check that this machine's public IP address is on the API client's IP " +
      'allow-list in Clear'
    )
  }
  if (status === 403) {
    return "Clear refused the token request; check the API client's product and IP restrictions in Clear"
  }
  if (status === 429) {
    return (
      `Clear allows ${DAILY_TOKEN_QUOTA} token requests per client secret per day and resets the ` +
      `count at 00:00 UTC; ${untilMidnight ? 'it sent no Retry-After, so tokens are requested again after the reset' : 'tokens are requested again after its Retry-After'}. ` +
      'Something else may be requesting tokens with the same secret (each request also revokes ' +
      'the previous token): share one client or one store per secret'
    )
  }
  if (status >= 500) {
    return 'Clear had an internal error; if it persists, quote the error_id to Clear support'
  }
  if (status >= 300 && status < 400) {
    return 'Clear redirected the token request, which is not followed; check baseUrl (CLEAR_BASE_URL) or environment (CLEAR_ENVIRONMENT)'
  }
  if (status === 404 || status === 405) {
    return 'Check baseUrl (CLEAR_BASE_URL) or environment (CLEAR_ENVIRONMENT): this is not a Clear token endpoint'
  }
  return 'Check the clientSecret and baseUrl settings'
}

function clean(
  value: unknown,
  secrets: ReadonlyArray<SecretInput | undefined>,
  max: number,
): string | undefined {
  if (typeof value === 'number') return excerpt(String(value), max)
  if (typeof value !== 'string') return undefined
  // Redact before shortening, so a cut cannot leave part of an echoed secret behind.
  return excerpt(redactSecrets(value, secrets), max)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
