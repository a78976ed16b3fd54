import {
  type AccessToken,
  type IssuedToken,
  oauthIssuedToken,
  parseOAuthTokenResponse,
  type StoredToken,
  type TokenEndpointError,
  type TokenRequestContext,
  type TokenSource,
  type TransportResponse,
} from '@tokenkeeper/auth-core'
import { CLIENT_ASSERTION_TYPE, signClientAssertion } from './apiax-client-assertion.ts'
import {
  type ApiaxGrant,
  apiaxTokenError,
  isLoginRefused,
  isRefreshTokenRejected,
} from './apiax-error.ts'
import type { ApiaxSettings } from './apiax-provider.ts'
import {
  fingerprint,
  type ResolvedApiaxSettings,
  resolveApiUrl,
  resolveSettings,
  VENDOR,
  validateExplicitSettings,
} from './apiax-settings.ts'

/** The vendor id used in cache keys and events. */
export const APIAX_VENDOR = 'apiax'

/**
 * A refresh token is not used when less than this remains of its (locally tracked) life: a
 * password login is cheaper than a request that is bound to fail.
 */
const REFRESH_MARGIN_MS = 60_000

/** How many spent refresh tokens (their fingerprints) a source remembers. */
const SPENT_MEMORY = 64

/**
 * The refresh state kept in the store entry with the access token (JSON: stores serialise it).
 * Only the newest refresh token is kept; `loginAt` is the local time of the password login that
 * started the session, from which Apiax's 14-day limit counts.
 */
export interface ApiaxRefreshState {
  readonly refreshToken: string
  /** Local epoch ms of the password login. */
  readonly loginAt: number
}

/** The Apiax {@link TokenSource}, plus the rule engine URL it was configured with. */
export interface ApiaxTokenSource extends TokenSource {
  /** The rule engine base URL (setting, `APIAX_API_URL`, or the default). */
  apiUrl(): string
}

/**
 * The bare Apiax {@link TokenSource}, for `createTokenClient` or another host (n8n):
 *
 * - logs in with the password grant (`client_id=integration-api`, `username`, `password`);
 * - renews with the refresh_token grant while the newest refresh token is usable (14 days from
 *   the login, tracked locally, bounded by a non-zero `refresh_expires_in`), keeping the refresh
 *   token in the store entry's state;
 * - on `invalid_grant` from a refresh, drops the refresh token and logs in with the password
 *   once, in the same request;
 * - once Keycloak refuses the password login, never sends that password again on its own
 *   (Keycloak locks accounts after repeated failures); only `getToken({ forceRefresh: true })`
 *   or a new client tries again;
 * - with `clientAssertion`, signs a fresh RS256 client assertion for every request (2FA).
 *
 * Settings are read lazily, on the first `cacheKey()` or `requestToken()`.
 */
export function apiaxTokenSource(settings: ApiaxSettings = {}): ApiaxTokenSource {
  validateExplicitSettings(settings)
  let resolved: ResolvedApiaxSettings | undefined
  const resolve = (): ResolvedApiaxSettings => {
    resolved ??= resolveSettings(settings)
    return resolved
  }
  /** Set when Keycloak refused the password login; cleared by a successful one. */
  let refusal: TokenEndpointError | undefined
  /**
   * Fingerprints of refresh tokens that were sent (and answered) or are being sent. Keycloak may
   * treat refresh tokens as single-use and end the session when one is reused, so a token in
   * this set is never sent again, whatever a store hands back.
   */
  const spent = new Set<string>()
  const remember = (refreshToken: string) => {
    spent.add(fingerprint(refreshToken))
    if (spent.size > SPENT_MEMORY) spent.delete(spent.values().next().value as string)
  }

  /** Sends a token request; returns the answer and the client assertion it carried, if any. */
  async function send(
    context: TokenRequestContext,
    config: ResolvedApiaxSettings,
    grant: ApiaxGrant,
    fields: Record<string, string>,
  ): Promise<{ response: TransportResponse; assertion?: string }> {
    const form = new URLSearchParams({ client_id: config.clientId, grant_type: grant, ...fields })
    let assertion: string | undefined
    if (config.assertion) {
      assertion = await signClientAssertion(config.assertion, config.tokenUrl, context.now())
      form.set('client_assertion_type', CLIENT_ASSERTION_TYPE)
      form.set('client_assertion', assertion)
    }
    const response = await context.transport({
      url: config.tokenUrl,
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: form.toString(),
      signal: context.signal,
    })
    return { response, ...(assertion ? { assertion } : {}) }
  }

  function issue(
    response: TransportResponse,
    config: ResolvedApiaxSettings,
    loginAt: number,
    sentAt: number,
  ): IssuedToken {
    const parsed = parseOAuthTokenResponse(response, VENDOR)
    // Keycloak says `bearer`; Apiax's APIs are called with `Bearer`. Its access tokens are JWTs
    // whose `exp` is whole seconds after a fractional issue time, up to a second before
    // `expires_in` says: the earlier of the two counts.
    const token = oauthIssuedToken(parsed, { type: 'Bearer', jwt: 'auto' })
    if (parsed.refreshToken === undefined) return token
    // `refresh_expires_in: 0` means "no fixed limit", not "forever": the 14 days still apply.
    const ends = [loginAt + config.refreshTokenMaxAge]
    if (parsed.refreshExpiresIn !== undefined && parsed.refreshExpiresIn > 0) {
      ends.push(sentAt + parsed.refreshExpiresIn * 1000)
    }
    const state: ApiaxRefreshState = { refreshToken: parsed.refreshToken, loginAt }
    return { ...token, state: { ...state }, stateExpiresAt: Math.min(...ends) }
  }

  /** Refresh grant; `undefined` when Keycloak refused the refresh token (log in instead). */
  async function refresh(
    context: TokenRequestContext,
    config: ResolvedApiaxSettings,
    state: ApiaxRefreshState,
  ): Promise<IssuedToken | undefined> {
    const id = fingerprint(state.refreshToken)
    // Claimed before sending, so that no other request of this source can reuse it meanwhile.
    remember(state.refreshToken)
    const sentAt = context.now()
    let sent: Awaited<ReturnType<typeof send>>
    try {
      sent = await send(context, config, 'refresh_token', { refresh_token: state.refreshToken })
    } catch (error) {
      // No answer: the token may still be unused, so a later attempt may send it again.
      spent.delete(id)
      throw error
    }
    const { response, assertion } = sent
    // Any success spends the token (Keycloak rotated it), even if the body turns out unusable.
    if (response.status >= 200 && response.status < 300) {
      return issue(response, config, state.loginAt, sentAt)
    }
    if (isRefreshTokenRejected(response)) return undefined
    // Keycloak refused the request without judging the token (5xx, 429, client errors): it was
    // not rotated, so a later attempt may still use it.
    spent.delete(id)
    throw apiaxTokenError(response, {
      grant: 'refresh_token',
      now: context.now(),
      clientId: config.clientId,
      assertion: config.assertion !== undefined,
      secrets: [state.refreshToken, config.password, assertion],
    })
  }

  async function login(
    context: TokenRequestContext,
    config: ResolvedApiaxSettings,
  ): Promise<IssuedToken> {
    if (refusal !== undefined && context.reason !== 'forced') throw refusal
    const loginAt = context.now()
    const { response, assertion } = await send(context, config, 'password', {
      username: config.username,
      password: config.password.reveal(),
    })
    if (response.status >= 200 && response.status < 300) {
      refusal = undefined
      return issue(response, config, loginAt, loginAt)
    }
    const error = apiaxTokenError(response, {
      grant: 'password',
      now: context.now(),
      clientId: config.clientId,
      assertion: config.assertion !== undefined,
      secrets: [config.password, assertion],
    })
    if (isLoginRefused(response)) refusal = error
    throw error
  }

  const apiUrl = (): string => resolved?.apiUrl ?? resolveApiUrl(settings)

  return {
    vendor: APIAX_VENDOR,
    // Refresh tokens may be single-use: one refresh at a time across every process sharing the
    // store, and never a per-process fallback while the store is down.
    exclusiveIssue: true,

    cacheKey() {
      const config = resolve()
      const url = new URL(config.tokenUrl)
      // The user name is not a secret, but it is personal: keep only a fingerprint.
      return `${APIAX_VENDOR}:${url.host}${url.pathname}:${config.clientId}:${fingerprint(config.username)}`
    },

    async requestToken(context) {
      const config = resolve()
      const state = usableRefreshState(context.previous, context.now(), config, spent)
      if (state !== undefined) {
        const refreshed = await refresh(context, config, state)
        if (refreshed !== undefined) return refreshed
        // The refresh token is dead (expired, session ended, reused): one password login.
      }
      return login(context, config)
    },

    authHeaders(token: AccessToken) {
      const headers: Record<string, string> = { Authorization: `Bearer ${token.value}` }
      const apiKey = resolve().apiKey
      if (apiKey !== undefined) headers.Apikey = apiKey.reveal()
      return headers
    },

    origins() {
      return [apiUrl()]
    },

    apiUrl,
  }
}

/**
 * The refresh state of the previous store entry, if its refresh token may still be used: well
 * formed, not spent, and not at the end of its life (the 14 days from the login, or Keycloak's
 * `refresh_expires_in`). Works on expired and rejected entries alike.
 */
export function usableRefreshState(
  previous: StoredToken | undefined,
  now: number,
  config: Pick<ResolvedApiaxSettings, 'refreshTokenMaxAge'>,
  spent: ReadonlySet<string> = new Set(),
): ApiaxRefreshState | undefined {
  const state = previous?.state
  if (state === undefined) return undefined
  const { refreshToken, loginAt } = state
  if (typeof refreshToken !== 'string' || refreshToken.length === 0) return undefined
  if (typeof loginAt !== 'number' || !Number.isFinite(loginAt)) return undefined
  if (now >= loginAt + config.refreshTokenMaxAge - REFRESH_MARGIN_MS) return undefined
  const stateExpiresAt = previous?.stateExpiresAt
  if (typeof stateExpiresAt === 'number' && now >= stateExpiresAt - REFRESH_MARGIN_MS) {
    return undefined
  }
  if (spent.has(fingerprint(refreshToken))) return undefined
  return { refreshToken, loginAt }
}
