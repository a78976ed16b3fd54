import {
  createTokenClient,
  type TokenClient,
  type TokenClientOptions,
} from '@tokenkeeper/auth-core'
import type { ClearIdTokenSourceSettings } from './clearid-settings.ts'
import { clearIdTokenSource } from './clearid-token-source.ts'

/**
 * Settings of {@link createClearId}: the ClearID settings (client id, client secret or private
 * key, key file, environment, URLs, account id) plus every `TokenClientOptions` field (store,
 * windows, timeouts, clock, dispatcher, logger, ...), which go to the core unchanged.
 *
 * Tokens live in memory by default, as ClearID asks ("the access token is temporary and should
 * never be stored"). Passing a persistent `store` (e.g. Redis) is your explicit choice.
 */
export interface ClearIdSettings extends ClearIdTokenSourceSettings, TokenClientOptions {}

/**
 * Creates a {@link TokenClient} for Genetec ClearID. It requests tokens from the STS with the
 * client secret (`client_credentials`) or, when a private key is configured, with an RS512 JWT
 * assertion (`urn:ietf:params:oauth:grant-type:jwt-bearer`); caches them in memory; renews them
 * in the background from half their lifetime on; and `fetch()` / `interceptor()` attach them to
 * calls to the environment's API hosts, renewing and retrying once on 401.
 *
 * Settings missing here are read from `CLEARID_*` environment variables (or the key file) at the
 * first token request; values passed here are validated now.
 *
 * @example Client secret
 * const clearId = createClearId({
 *   clientId: process.env.CLEARID_CLIENT_ID,
 *   clientSecret: process.env.CLEARID_CLIENT_SECRET,
 *   environment: 'demo',
 * })
 * const response = await clearId.fetch(identitiesUrl('my-account', 'demo'))
 *
 * @example JWT assertion from the portal's key file
 * const clearId = createClearId({ keyFile: './key-1234-reporting.json' })
 */
export function createClearId(settings: ClearIdSettings = {}): TokenClient {
  const {
    clientId,
    clientSecret,
    privateKey,
    keyFile,
    environment,
    stsUrl,
    apiUrl,
    accountId,
    env,
    // Everything else is a TokenClientOptions field (present or future) and goes to the core.
    ...clientOptions
  } = settings
  const source = clearIdTokenSource({
    clientId,
    clientSecret,
    privateKey,
    keyFile,
    environment,
    stsUrl,
    apiUrl,
    accountId,
    env,
  })
  return createTokenClient(source, clientOptions)
}
