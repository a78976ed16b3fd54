import {
  clientSecretBasic,
  type IssuedToken,
  oauthIssuedToken,
  parseOAuthTokenResponse,
  type TokenSource,
  type TransportRequest,
  type TransportResponse,
} from '@tokenkeeper/auth-core'
import { akamaiIdentityTokenError } from './akamai-identity-error.ts'
import {
  type AkamaiIdentityTokenSourceSettings,
  createSettingsResolver,
  type ResolvedAkamaiIdentitySettings,
  VENDOR,
} from './akamai-identity-settings.ts'

/**
 * API statuses that mean "token rejected". Akamai's Webhooks v3 and configuration APIs answer an
 * expired or invalid token with 403 (`{"errors": "Forbidden"}`), not only 401.
 */
export const AKAMAI_IDENTITY_REJECTION_STATUSES: readonly number[] = Object.freeze([401, 403])

/**
 * Builds the client-credentials token request:
 * `POST {baseUrl}/{customerId}/login/token`, HTTP Basic with the configuration client, form body
 * `grant_type=client_credentials&scope=...`.
 */
export function buildAkamaiIdentityTokenRequest(
  settings: ResolvedAkamaiIdentitySettings,
  signal?: AbortSignal,
): TransportRequest {
  return {
    url: settings.tokenUrl,
    method: 'POST',
    headers: {
      authorization: clientSecretBasic(settings.clientId, settings.clientSecret),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: settings.scope,
    }).toString(),
    ...(signal ? { signal } : {}),
  }
}

/**
 * Turns the token endpoint's answer into an {@link IssuedToken}, or throws the mapped error.
 * The access token is opaque: `expires_in` is its only expiry signal (never parsed as a JWT).
 */
export function processAkamaiIdentityTokenResponse(
  response: TransportResponse,
  settings: ResolvedAkamaiIdentitySettings,
  now: number,
): IssuedToken {
  if (response.status < 200 || response.status >= 300) {
    throw akamaiIdentityTokenError(response, {
      now,
      scope: settings.scope,
      origin: settings.origin,
      // The secret, and the Basic credential that carried it (an echoed Authorization header).
      redact: [
        settings.clientSecret,
        clientSecretBasic(settings.clientId, settings.clientSecret).replace(/^Basic /, ''),
      ],
    })
  }
  // The APIs take `Authorization: Bearer`, whatever case token_type comes in.
  return oauthIssuedToken(parseOAuthTokenResponse(response, VENDOR), { type: 'Bearer' })
}

/**
 * The Akamai Identity Cloud {@link TokenSource}: configuration-client tokens from
 * `/{customerId}/login/token` (client credentials), one cache entry per customer, client and
 * scope, renewed when an API answers 401 or 403.
 *
 * Use it with `createTokenClient` or n8n; {@link createAkamaiIdentity} wraps it in a client.
 *
 * @example
 * const source = akamaiIdentityTokenSource({ region: 'eu', customerId, clientId, clientSecret })
 * const client = createTokenClient(source)
 */
export function akamaiIdentityTokenSource(
  settings: AkamaiIdentityTokenSourceSettings = {},
): TokenSource {
  const resolver = createSettingsResolver(settings)
  return {
    vendor: VENDOR,
    rejectionStatuses: AKAMAI_IDENTITY_REJECTION_STATUSES,
    cacheKey: () => resolver.resolve().cacheKey,
    origins: () => [resolver.location().origin],
    async requestToken(context) {
      const resolved = resolver.resolve()
      const response = await context.transport(
        buildAkamaiIdentityTokenRequest(resolved, context.signal),
      )
      return processAkamaiIdentityTokenResponse(response, resolved, context.now())
    },
    authHeaders: (token) => ({ authorization: `Bearer ${token.value}` }),
  }
}
