export {
  type AccessToken,
  type AccessTokenInit,
  createAccessToken,
  tokenId,
} from './access-token.ts'
export { type FetchInit, isReplayableBody } from './authenticated-fetch.ts'
export {
  type Clock,
  clampDelay,
  flushMicrotasks,
  MAX_TIMER_DELAY,
  ManualClock,
  systemClock,
  type TimerHandle,
} from './clock.ts'
export {
  ApiRequestError,
  type ApiRequestErrorOptions,
  ConfigurationError,
  InvalidTokenResponseError,
  NetworkError,
  StoreError,
  TokenEndpointError,
  type TokenEndpointErrorOptions,
  TokenKeeperError,
  type TokenKeeperErrorCode,
  type TokenKeeperErrorOptions,
  TokenTimeoutError,
} from './errors.ts'
export { TOKEN_CHANNELS, type TokenEvent } from './events.ts'
export {
  computeExpiry,
  type Exchange,
  type ExpiryOptions,
  MAX_LIFETIME_SECONDS,
  parseAbsoluteTime,
  serverSkew,
} from './expiry.ts'
export type { AuthInterceptorOptions } from './interceptor.ts'
export { isSpent, MemoryTokenStore, type MemoryTokenStoreOptions } from './memory-store.ts'
export type { Logger, TokenClientOptions } from './options.ts'
export {
  clientSecretBasic,
  excerpt,
  looksLikeJwt,
  MAX_RETRY_AFTER,
  normaliseTokenType,
  type OAuthErrorBody,
  type OAuthIssuedTokenOptions,
  type OAuthTokenResponse,
  oauthIssuedToken,
  parseJsonObject,
  parseOAuthTokenResponse,
  parseRetryAfter,
  readOAuthError,
  redactSecrets,
  type TokenEndpointErrorInput,
  tokenEndpointError,
  tryParseJsonObject,
} from './parse.ts'
export { presentedCredentials } from './presented-credentials.ts'
export { revealSecret, Secret, type SecretInput, toSecret } from './secret.ts'
export {
  loadSecret,
  loadSetting,
  optionalSecret,
  optionalSetting,
  type SettingLookup,
  type UrlSettingOptions,
  urlSetting,
} from './settings.ts'
export { createTokenClient, type GetTokenOptions, type TokenClient } from './token-client.ts'
export {
  assertSecureUrl,
  createUndiciTransport,
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_TIMEOUT,
  isLoopbackHost,
  type OwnedTransport,
  type UndiciTransportOptions,
} from './transport.ts'
export type {
  IssuedToken,
  JsonValue,
  LeaseOptions,
  MaybePromise,
  StoredToken,
  StoreSetOptions,
  TokenLease,
  TokenRequestContext,
  TokenRequestReason,
  TokenSource,
  TokenState,
  TokenStore,
  Transport,
  TransportRequest,
  TransportResponse,
} from './types.ts'
export {
  DEFAULT_CLOCK_TOLERANCE,
  DEFAULT_REFRESH_WINDOW,
  DEFAULT_REJECTION_GRACE,
  type RenewalWindowOptions,
  type RenewalWindows,
  renewalWindows,
} from './windows.ts'
