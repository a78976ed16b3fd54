import {
  createTokenClient,
  type TokenClient,
  type TokenClientOptions,
} from '@tokenkeeper/auth-core'
import type { AkamaiIdentityTokenSourceSettings } from './akamai-identity-settings.ts'
import { akamaiIdentityTokenSource } from './akamai-identity-token-source.ts'

/**
 * Settings of {@link createAkamaiIdentity}: the vendor settings (customer, configuration client,
 * scope, location) plus every `TokenClientOptions` field (store, windows, timeouts, clock,
 * dispatcher, logger, ...), which go to the core unchanged.
 */
export interface AkamaiIdentitySettings
  extends AkamaiIdentityTokenSourceSettings,
    TokenClientOptions {}

/**
 * Creates a {@link TokenClient} for Akamai Identity Cloud configuration-client tokens (the tokens
 * that Webhooks v3 and the configuration APIs take). Tokens are cached per customer, client and
 * scope, renewed ahead of expiry, and `fetch()` / `interceptor()` renew and retry once when an
 * API answers 401 or 403.
 *
 * Settings missing here are read from `AKAMAI_IDENTITY_*` environment variables at the first
 * token request; explicitly passed values are validated now.
 *
 * @example
 * const akamai = createAkamaiIdentity({
 *   oidcUrl: 'https://v1.api.us.janrain.com/00000000-0000-0000-0000-000000000000/login',
 *   clientId: process.env.AKAMAI_CLIENT_ID,
 *   clientSecret: process.env.AKAMAI_CLIENT_SECRET,
 * })
 * const response = await akamai.fetch(
 *   'https://v1.api.us.janrain.com/00000000-0000-0000-0000-000000000000/webhooks/subscriptions',
 * )
 */
export function createAkamaiIdentity(settings: AkamaiIdentitySettings = {}): TokenClient {
  const {
    customerId,
    clientId,
    clientSecret,
    scope,
    region,
    baseUrl,
    oidcUrl,
    env,
    // Everything else is a TokenClientOptions field (present or future) and goes to the core.
    ...clientOptions
  } = settings
  const source = akamaiIdentityTokenSource({
    customerId,
    clientId,
    clientSecret,
    scope,
    region,
    baseUrl,
    oidcUrl,
    env,
  })
  return createTokenClient(source, clientOptions)
}
