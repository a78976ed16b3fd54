/**
 * Stable error codes. `switch (error.code)` narrows; codes never change meaning between versions.
 *
 * - `CONFIGURATION_INVALID`: a setting is missing or wrong; fix the setting.
 * - `INSECURE_TRANSPORT`: a secret would travel over plain HTTP to a non-loopback host.
 * - `ORIGIN_NOT_ALLOWED`: a request targets an origin outside the configured allow-list.
 * - `TOKEN_ENDPOINT_REJECTED`: the token endpoint refused the credentials or request (4xx).
 * - `TOKEN_ENDPOINT_RATE_LIMITED`: the token endpoint answered 429.
 * - `TOKEN_ENDPOINT_UNAVAILABLE`: the token endpoint answered 5xx or another unexpected status.
 * - `INVALID_TOKEN_RESPONSE`: the token endpoint answered 2xx with a body we cannot use.
 * - `NETWORK_ERROR`: the connection failed (refused, reset, DNS).
 * - `TIMEOUT`: the token request (or a wait for another process's request) took too long.
 * - `STORE_UNAVAILABLE`: the token store cannot be reached.
 * - `API_REQUEST_FAILED`: a vendor API called by a helper (not the token endpoint) answered an error.
 * - `CLIENT_CLOSED`: `close()` was called.
 */
export type TokenKeeperErrorCode =
  | 'CONFIGURATION_INVALID'
  | 'INSECURE_TRANSPORT'
  | 'ORIGIN_NOT_ALLOWED'
  | 'TOKEN_ENDPOINT_REJECTED'
  | 'TOKEN_ENDPOINT_RATE_LIMITED'
  | 'TOKEN_ENDPOINT_UNAVAILABLE'
  | 'INVALID_TOKEN_RESPONSE'
  | 'NETWORK_ERROR'
  | 'TIMEOUT'
  | 'STORE_UNAVAILABLE'
  | 'API_REQUEST_FAILED'
  | 'CLIENT_CLOSED'

const brand = Symbol.for('@tokenkeeper/auth-core.TokenKeeperError')

/** Options shared by every {@link TokenKeeperError}. */
export interface TokenKeeperErrorOptions {
  /** Whether repeating the same request later may succeed. */
  retryable?: boolean
  /** HTTP status involved, if any. */
  status?: number
  /** Epoch ms before which a new attempt is pointless (from `Retry-After` or a vendor quota). */
  retryAt?: number
  /** The underlying error. Never a value that contains a secret. */
  cause?: unknown
}

/**
 * Base class of every error tokenkeeper throws. Messages say what happened and what to do, and
 * never contain secrets (client secrets, passwords, assertions, refresh or access tokens).
 *
 * Recognisable across two copies of the package: use {@link TokenKeeperError.is} rather than
 * `instanceof` when several versions may be installed.
 */
export class TokenKeeperError extends Error {
  override name = 'TokenKeeperError'
  readonly code: TokenKeeperErrorCode
  readonly retryable: boolean
  readonly status?: number
  readonly retryAt?: number

  constructor(code: TokenKeeperErrorCode, message: string, options: TokenKeeperErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.retryable = options.retryable ?? false
    if (options.status !== undefined) this.status = options.status
    if (options.retryAt !== undefined) this.retryAt = options.retryAt
    Object.defineProperty(this, brand, { value: true })
  }

  /** True for any tokenkeeper error, even one thrown by another copy of this package. */
  static is(value: unknown): value is TokenKeeperError {
    return typeof value === 'object' && value !== null && brand in value
  }
}

/** A setting is missing, malformed, or points somewhere it must not. Not retryable. */
export class ConfigurationError extends TokenKeeperError {
  override name = 'ConfigurationError'
  /** The option at fault, e.g. `clientSecret`. */
  readonly setting?: string

  constructor(
    message: string,
    options: {
      setting?: string
      code?: 'CONFIGURATION_INVALID' | 'INSECURE_TRANSPORT' | 'ORIGIN_NOT_ALLOWED'
      cause?: unknown
    } = {},
  ) {
    super(options.code ?? 'CONFIGURATION_INVALID', message, { cause: options.cause })
    if (options.setting !== undefined) this.setting = options.setting
  }
}

/** Options of a {@link TokenEndpointError}. */
export interface TokenEndpointErrorOptions extends TokenKeeperErrorOptions {
  status: number
  /** OAuth 2.0 `error` value (RFC 6749 §5.2), e.g. `invalid_client`. */
  oauthError?: string
  /** The vendor's own error code, e.g. Clear's `error_code`. */
  vendorErrorCode?: string
  /** The vendor's error reference that its support asks for, e.g. Clear's `error_id`. */
  vendorErrorId?: string
}

/** The token endpoint answered with an error status. */
export class TokenEndpointError extends TokenKeeperError {
  override name = 'TokenEndpointError'
  declare readonly status: number
  readonly oauthError?: string
  readonly vendorErrorCode?: string
  readonly vendorErrorId?: string

  constructor(message: string, options: TokenEndpointErrorOptions) {
    const code: TokenKeeperErrorCode =
      options.status === 429
        ? 'TOKEN_ENDPOINT_RATE_LIMITED'
        : // 4xx, and 3xx: a redirect from a token endpoint means a wrong URL setting.
          options.status >= 300 && options.status < 500 && options.status !== 408
          ? 'TOKEN_ENDPOINT_REJECTED'
          : 'TOKEN_ENDPOINT_UNAVAILABLE'
    super(code, message, { retryable: code !== 'TOKEN_ENDPOINT_REJECTED', ...options })
    if (options.oauthError !== undefined) this.oauthError = options.oauthError
    if (options.vendorErrorCode !== undefined) this.vendorErrorCode = options.vendorErrorCode
    if (options.vendorErrorId !== undefined) this.vendorErrorId = options.vendorErrorId
  }
}

/** The token endpoint answered 2xx, but the body is not a usable token response. */
export class InvalidTokenResponseError extends TokenKeeperError {
  override name = 'InvalidTokenResponseError'

  constructor(message: string, options: Omit<TokenKeeperErrorOptions, 'retryable'> = {}) {
    // A vendor that answers garbage once (a proxy's HTML page, a truncated body) may answer
    // properly a moment later, so these are retried with backoff.
    super('INVALID_TOKEN_RESPONSE', message, { ...options, retryable: true })
  }
}

/** A token request, or a wait for one, did not finish in time. Retryable. */
export class TokenTimeoutError extends TokenKeeperError {
  override name = 'TokenTimeoutError'

  constructor(message: string, options: Omit<TokenKeeperErrorOptions, 'retryable'> = {}) {
    super('TIMEOUT', message, { ...options, retryable: true })
  }
}

/** The connection to the token endpoint failed (refused, reset, DNS). Retryable. */
export class NetworkError extends TokenKeeperError {
  override name = 'NetworkError'

  constructor(message: string, options: Omit<TokenKeeperErrorOptions, 'retryable'> = {}) {
    super('NETWORK_ERROR', message, { ...options, retryable: true })
  }
}

/** The token store (e.g. Redis) cannot be reached or answered unexpectedly. */
export class StoreError extends TokenKeeperError {
  override name = 'StoreError'

  constructor(message: string, options: TokenKeeperErrorOptions = {}) {
    super('STORE_UNAVAILABLE', message, { retryable: true, ...options })
  }
}

/** Options of an {@link ApiRequestError}. */
export interface ApiRequestErrorOptions extends TokenKeeperErrorOptions {
  status: number
  /** The vendor's own error code from the body, if any. */
  vendorErrorCode?: string
}

/**
 * A vendor API called through a helper of a vendor package (e.g. a Webhooks or rules call)
 * answered with an error status. 429 and 5xx are retryable. The message never quotes a body.
 */
export class ApiRequestError extends TokenKeeperError {
  override name = 'ApiRequestError'
  declare readonly status: number
  readonly vendorErrorCode?: string

  constructor(message: string, options: ApiRequestErrorOptions) {
    super('API_REQUEST_FAILED', message, {
      retryable: options.status === 429 || options.status >= 500,
      ...options,
    })
    if (options.vendorErrorCode !== undefined) this.vendorErrorCode = options.vendorErrorCode
  }
}
