import {
  ConfigurationError,
  createTokenClient,
  type FetchInit,
  type SecretInput,
  type TokenClient,
  type TokenClientOptions,
} from '@tokenkeeper/auth-core'
import type { ClearCfcEnvironment } from './clear-cfc-environments.ts'
import { VENDOR } from './clear-cfc-error.ts'
import { type ClearCfcTokenSource, clearCfcTokenSource } from './clear-cfc-token-source.ts'

/**
 * The Clear settings of {@link clearCfcTokenSource}. Every setting falls back to an environment
 * variable, read when the first token is requested (not at import or when the client is made).
 */
export interface ClearCfcSourceSettings {
  /**
   * The API client secret created by a Clear admin (Settings → API clients). Tied to one
   * environment and workspace. Sent only to `{baseUrl}/integration/v1/authz/token`.
   * Environment variable: `CLEAR_CLIENT_SECRET`. Required unless `accessToken` is given.
   */
  clientSecret?: SecretInput
  /**
   * A long-lived token generated in the Clear portal. With it the client never calls the token
   * endpoint: the token is used as is and never expires on our side.
   * Environment variable: `CLEAR_ACCESS_TOKEN`. Give either this or `clientSecret`, not both.
   */
  accessToken?: SecretInput
  /**
   * Which Clear environment the secret belongs to: `india-sandbox`, `india-production`, `eu` or
   * `malaysia-sandbox`. Required unless `baseUrl` is given: a secret works in one environment
   * only, and guessing would send it to a host it does not belong to.
   * Environment variable: `CLEAR_ENVIRONMENT`.
   */
  environment?: ClearCfcEnvironment
  /**
   * Base URL of the Clear API, e.g. `https://api-sandbox.clear.in`, for environments without a
   * name here (or the emulator). Give either this or `environment`.
   * Environment variable: `CLEAR_BASE_URL`.
   */
  baseUrl?: string
  /**
   * Header that carries the token to Clear's business APIs. Default `x-cleartax-auth-token`
   * (some Malaysia pages say `x-clear-auth-token`). Environment variable: `CLEAR_TOKEN_HEADER`.
   */
  tokenHeader?: string
  /**
   * Static headers that many Clear products need on every call, e.g. `x-workspace-id`,
   * `x-cleartax-product`, `gstin`, `x-clear-tin`. Added by `getAuthHeaders()`, `fetch()` and the
   * interceptor next to the token.
   */
  headers?: Readonly<Record<string, string>>
  /**
   * Where the `CLEAR_*` fallbacks are read. Default `process.env`; `{}` turns the fallbacks off,
   * which a host running other people's settings (n8n) should do, so that a blank secret next to
   * a user-chosen `baseUrl` never picks up the server's own `CLEAR_CLIENT_SECRET`.
   */
  env?: Readonly<Record<string, string | undefined>>
}

/**
 * Settings of {@link createClearCfc}: the Clear settings plus every {@link TokenClientOptions}
 * field (store, clock, windows, timeouts, dispatcher, logger...).
 *
 * While the token endpoint keeps failing, the source's `minimumIssueInterval` (5 minutes) keeps
 * attempts within the daily quota of 288 token requests, whatever the backoff settings.
 */
export interface ClearCfcSettings extends ClearCfcSourceSettings, TokenClientOptions {}

/** A {@link TokenClient} for Clear with a helper for Clear's business APIs. */
export interface ClearCfcClient extends TokenClient {
  /**
   * `fetch()` for a path of the Clear API: `request('/integration/v1/generatePreSign/sales?fileName=a.csv')`
   * calls `{baseUrl}/integration/v1/...` with the token and the static `headers`, renewing the
   * token once if Clear rejects it (only if it is still the current one).
   */
  request(path: string, init?: FetchInit): ReturnType<TokenClient['fetch']>
}

/**
 * Creates a token client for Clear Finance Cloud. Nothing is requested until the first
 * `getToken()`, `getAuthHeaders()`, `fetch()` or `request()`.
 *
 * Issuing a Clear token revokes the previous one, and a client secret may issue only 288 tokens
 * per day: create one client per secret and share it (or share its `store`) between everything
 * that uses the secret. See the README.
 *
 * @example
 * const clear = createClearCfc({ environment: 'india-sandbox' }) // secret from CLEAR_CLIENT_SECRET
 * const response = await clear.request('/integration/v1/generatePreSign/sales?fileName=sales.csv')
 */
export function createClearCfc(settings: ClearCfcSettings = {}): ClearCfcClient {
  if (typeof settings !== 'object' || settings === null) {
    throw new ConfigurationError(`${VENDOR}: settings must be an object`, { setting: 'settings' })
  }
  const {
    clientSecret,
    accessToken,
    environment,
    baseUrl,
    tokenHeader,
    headers,
    env,
    ...clientOptions
  } = settings
  const source: ClearCfcTokenSource = clearCfcTokenSource({
    ...(clientSecret !== undefined ? { clientSecret } : {}),
    ...(accessToken !== undefined ? { accessToken } : {}),
    ...(environment !== undefined ? { environment } : {}),
    ...(baseUrl !== undefined ? { baseUrl } : {}),
    ...(tokenHeader !== undefined ? { tokenHeader } : {}),
    ...(headers !== undefined ? { headers } : {}),
    ...(env !== undefined ? { env } : {}),
  })
  const client = createTokenClient(source, clientOptions)
  return {
    getToken: (options) => client.getToken(options),
    getAuthHeaders: (options) => client.getAuthHeaders(options),
    invalidate: (token) => client.invalidate(token),
    fetch: (input, init) => client.fetch(input, init),
    interceptor: (options) => client.interceptor(options),
    close: () => client.close(),
    request: async (path, init) => client.fetch(source.apiUrl(path), init),
  }
}
