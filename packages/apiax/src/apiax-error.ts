import {
  ApiRequestError,
  excerpt,
  readOAuthError,
  redactSecrets,
  type SecretInput,
  type TokenEndpointError,
  type TransportResponse,
  tokenEndpointError,
  tryParseJsonObject,
} from '@tokenkeeper/auth-core'
import { APIAX_ENVIRONMENT, VENDOR } from './apiax-settings.ts'

/** The two grants Apiax's Keycloak is asked for. */
export type ApiaxGrant = 'password' | 'refresh_token'

/** What the error mapping needs to know about the request that failed. */
export interface ApiaxErrorContext {
  readonly grant: ApiaxGrant
  /** Local epoch ms, for `Retry-After`. */
  readonly now: number
  /** The `client_id` that was sent. */
  readonly clientId: string
  /** Whether a 2FA client assertion was sent. */
  readonly assertion: boolean
  /**
   * Values that were sent (password, refresh token, client assertion): replaced with
   * `[redacted]` if the server echoes them, raw, URL- or form-encoded.
   */
  readonly secrets?: ReadonlyArray<SecretInput | undefined>
}

const credentials = `username / ${APIAX_ENVIRONMENT.username} and password / ${APIAX_ENVIRONMENT.password}`

/**
 * True when Keycloak refused a refresh token (`invalid_grant`: expired, session ended, reused,
 * stale). The remedy is one password login, not an error.
 */
export function isRefreshTokenRejected(response: TransportResponse): boolean {
  return (
    (response.status === 400 || response.status === 401) &&
    readOAuthError(response).error === 'invalid_grant'
  )
}

/**
 * True when Keycloak refused the password login itself (`invalid_grant`: wrong user name or
 * password, account disabled, locked or not fully set up). Sending the same password again can
 * only make things worse: Keycloak counts failed logins and locks the account.
 */
export function isLoginRefused(response: TransportResponse): boolean {
  return (
    response.status >= 400 &&
    response.status < 500 &&
    readOAuthError(response).error === 'invalid_grant'
  )
}

/**
 * Maps an error answer of Apiax's Keycloak token endpoint to a {@link TokenEndpointError} whose
 * message says which setting to check. 429 and 5xx stay retryable (the core backs off); the
 * other answers are not. Never quotes the request or the raw body.
 */
export function apiaxTokenError(
  response: TransportResponse,
  context: ApiaxErrorContext,
): TokenEndpointError {
  const secrets = context.secrets ?? []
  // Keycloak does not echo credentials, but a proxy in front of it might. Redacted in the body
  // first: the fields are shortened when read, and a cut through an echoed secret would leave a
  // piece that no longer matches it.
  const oauth = readOAuthError({ ...response, body: redactSecrets(response.body, secrets) })
  return tokenEndpointError(response, {
    vendor: VENDOR,
    now: context.now,
    ...(oauth.error ? { oauthError: oauth.error } : {}),
    ...(oauth.errorDescription ? { description: oauth.errorDescription } : {}),
    hint: hint(response.status, oauth.error, oauth.errorDescription, context),
    // Again after parsing, for spellings only JSON unescaping reveals.
    secrets,
  })
}

function hint(
  status: number,
  error: string | undefined,
  description: string | undefined,
  context: ApiaxErrorContext,
): string {
  const { grant, clientId } = context
  const wrongPassword = status === 401 || /invalid user credentials/i.test(description ?? '')
  if (status === 429) return 'Apiax is rate limiting logins; backing off before the next attempt'
  if (status >= 500 || status === 408) {
    return 'Apiax login service is unavailable; retrying with backoff'
  }
  switch (error) {
    case 'invalid_grant':
      if (grant === 'refresh_token') {
        return 'The refresh token is no longer valid; the next attempt logs in with the password'
      }
      if (wrongPassword) {
        return `The user name or password is wrong. Not retrying automatically: repeated failed logins can lock the Apiax account out. Check ${credentials}, then create a new client (getToken({ forceRefresh: true }) tries once more after negativeCacheTtl)`
      }
      return `The account cannot log in: it is disabled, temporarily locked, or not fully set up (for example a pending password change). Not retrying automatically; ask Apiax support, then create a new client`
    case 'unauthorized_client':
      return `Client ${clientId} may not use the ${grant} grant; check clientId / ${APIAX_ENVIRONMENT.clientId} (Apiax documents integration-api)`
    case 'invalid_client':
      return context.assertion
        ? `The client assertion was rejected; check that clientAssertion.privateKey matches the public key registered with Apiax, that clientAssertion.clientId is the id Apiax assigned, and that this machine's clock is right`
        : `Client ${clientId} is unknown or must authenticate; check clientId / ${APIAX_ENVIRONMENT.clientId}, or configure clientAssertion if Apiax set up 2FA for this account`
    case 'unsupported_grant_type':
    case 'invalid_request':
    case 'invalid_scope':
      return `The token endpoint refused the request; check tokenUrl / ${APIAX_ENVIRONMENT.tokenUrl}`
    default:
      if (status === 404 || status === 405) {
        return `There is no token endpoint at this address; check tokenUrl / ${APIAX_ENVIRONMENT.tokenUrl}`
      }
      if (status === 401 || status === 403) {
        return `Check ${credentials}; if they are right, check tokenUrl / ${APIAX_ENVIRONMENT.tokenUrl} (a proxy may be answering)`
      }
      return `Check tokenUrl / ${APIAX_ENVIRONMENT.tokenUrl} and the other settings`
  }
}

/** Options of {@link ApiaxApiError}. */
export interface ApiaxApiErrorOptions {
  status: number
  /** Request path, e.g. `/api/v3/rules/eval`. */
  path: string
  /** The parsed JSON error body, when there is one, with the credentials that were sent redacted. */
  details?: Record<string, unknown>
}

/**
 * The rule engine answered a call of the `apiaxRules` helper with an error status (after one
 * retry with a renewed token for 401): core's `ApiRequestError` (code `API_REQUEST_FAILED`,
 * `status`, `retryable` for 429/5xx) plus the path and the parsed error body as `details`. The
 * token and API key that were sent are replaced with `[redacted]` in the message and in
 * `details`, wherever the answer echoes them.
 */
export class ApiaxApiError extends ApiRequestError {
  override name = 'ApiaxApiError'
  readonly path: string
  readonly details?: Record<string, unknown>

  constructor(message: string, options: ApiaxApiErrorOptions) {
    super(message, { status: options.status })
    this.path = options.path
    if (options.details !== undefined) this.details = options.details
  }
}

/**
 * Builds the {@link ApiaxApiError} for a rule engine answer, naming what to check. `secrets` are
 * the credentials the request carried (token, API key); when they are not known, the answer is
 * neither quoted nor kept, as it may echo them.
 */
export function apiaxApiError(
  status: number,
  path: string,
  body: string,
  secrets: ReadonlyArray<SecretInput | undefined> | undefined,
): ApiaxApiError {
  const parsed =
    secrets === undefined ? undefined : tryParseJsonObject({ status, headers: {}, body })
  const details = parsed && (redactJson(parsed, secrets ?? [], 0) as Record<string, unknown>)
  const said = excerpt(details?.message) ?? excerpt(details?.error) ?? excerpt(details?.title)
  const advice =
    status === 401
      ? `; the token was renewed and still refused: check the account's access with Apiax support`
      : status === 403
        ? `; check apiKey / ${APIAX_ENVIRONMENT.apiKey} (it selects the test or production rule sets)`
        : ''
  return new ApiaxApiError(
    `${VENDOR}: POST ${path} answered HTTP ${status}${said ? ` (${said})` : ''}${advice}`,
    { status, path, ...(details ? { details } : {}) },
  )
}

/** Nesting kept in `details`; deeper values are replaced (an error body is not that deep). */
const MAX_DETAILS_DEPTH = 16

/** A copy of parsed JSON with `secrets` redacted from every string, keys included. */
function redactJson(
  value: unknown,
  secrets: ReadonlyArray<SecretInput | undefined>,
  depth: number,
): unknown {
  if (typeof value === 'string') return redactSecrets(value, secrets)
  if (typeof value !== 'object' || value === null) return value
  if (depth >= MAX_DETAILS_DEPTH) return '[too deep]'
  if (Array.isArray(value)) return value.map((item) => redactJson(item, secrets, depth + 1))
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      redactSecrets(key, secrets),
      redactJson(item, secrets, depth + 1),
    ]),
  )
}
