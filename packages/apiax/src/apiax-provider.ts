import type { KeyObject } from 'node:crypto'
import {
  createTokenClient,
  type SecretInput,
  type TokenClient,
  type TokenClientOptions,
} from '@tokenkeeper/auth-core'
import type { JWK } from 'jose'
import { apiaxTokenSource } from './apiax-token-source.ts'

/**
 * The optional "2FA" mode of Apiax: every token request also carries a self-signed RS256 JWT
 * (`client_assertion`, RFC 7523) that proves possession of a private key whose public half was
 * given to Apiax.
 */
export interface ApiaxClientAssertion {
  /**
   * The RSA private key that signs the assertion: PEM (PKCS#8 `BEGIN PRIVATE KEY` or PKCS#1
   * `BEGIN RSA PRIVATE KEY`, unencrypted), a private JWK (object or JSON text), or a Node
   * `KeyObject`. At least 2048 bits. Environment variable: `APIAX_ASSERTION_PRIVATE_KEY`.
   */
  privateKey?: SecretInput | JWK | KeyObject
  /**
   * The client id Apiax assigned for the key pair; it becomes the assertion's `iss` and `sub`
   * and the request's `client_id`. Environment variable: `APIAX_ASSERTION_CLIENT_ID`; falls back
   * to an explicitly configured `clientId`.
   */
  clientId?: string
  /** Optional `kid` header (a JWK's own `kid` is used when this is not given). */
  keyId?: string
}

/**
 * Settings of {@link createApiax} and {@link apiaxTokenSource}. Every option falls back to an
 * environment variable, read when the first token is requested. Every {@link TokenClientOptions}
 * field (store, clock, windows, timeouts, dispatcher, logger...) is accepted too.
 */
export interface ApiaxSettings extends TokenClientOptions {
  /** Technical or group account name issued by Apiax support. Env: `APIAX_USERNAME`. */
  username?: string
  /**
   * The account's password. Repeated wrong passwords lock the account, so a rejected password is
   * never sent again automatically. Env: `APIAX_PASSWORD`.
   */
  password?: SecretInput
  /**
   * API key sent as the `Apikey` header on API calls next to the bearer token; it selects the
   * test or production rule sets. Not needed to obtain tokens. Env: `APIAX_API_KEY`.
   */
  apiKey?: SecretInput
  /** OAuth client id of the password and refresh grants. Default `integration-api`. Env: `APIAX_CLIENT_ID`. */
  clientId?: string
  /**
   * Keycloak token endpoint. Default
   * `https://auth.apiax.io/auth/realms/apiax/protocol/openid-connect/token`. Env: `APIAX_TOKEN_URL`.
   */
  tokenUrl?: string
  /** Rule engine base URL; the only origin that receives the token. Default `https://rule-engine.apiax.io`. Env: `APIAX_API_URL`. */
  apiUrl?: string
  /** Optional 2FA client assertion; also enabled by `APIAX_ASSERTION_PRIVATE_KEY`. */
  clientAssertion?: ApiaxClientAssertion
  /**
   * How long after a password login its refresh tokens are used, in seconds. Apiax allows
   * 14 days (the default); a shorter value is fine, a longer one only earns `invalid_grant`.
   */
  refreshTokenMaxAge?: number
  /**
   * Where the `APIAX_*` fallbacks are read; default `process.env`. Pass `{}` to turn them off
   * wherever settings come from someone else (n8n credentials), so that a blank field never
   * picks up the server's own password and sends it to a token URL the user chose.
   */
  env?: Readonly<Record<string, string | undefined>>
}

/** Apiax's production Keycloak token endpoint. */
export const APIAX_TOKEN_URL =
  'https://auth.apiax.io/auth/realms/apiax/protocol/openid-connect/token'

/** Apiax's rule engine. */
export const APIAX_API_URL = 'https://rule-engine.apiax.io'

/** The client id Apiax documents for integrations. */
export const APIAX_CLIENT_ID = 'integration-api'

/** Apiax honours a refresh token for 14 days after the password login. */
export const APIAX_REFRESH_TOKEN_MAX_AGE = 14 * 24 * 3600

/** Settings that belong to the Apiax source; everything else goes to the core. */
const SOURCE_SETTINGS = [
  'username',
  'password',
  'apiKey',
  'clientId',
  'tokenUrl',
  'apiUrl',
  'clientAssertion',
  'refreshTokenMaxAge',
  'env',
] as const satisfies ReadonlyArray<keyof ApiaxSettings>

/** API base URL of each client made by {@link createApiax}, for `apiaxRules(client)`. */
const apiUrls = new WeakMap<TokenClient, () => string>()

/**
 * Creates a {@link TokenClient} for Apiax: logs in with the password grant, renews with the
 * newest refresh token for up to 14 days, and presents `Authorization: Bearer` plus `Apikey`.
 *
 * @example
 * const apiax = createApiax({ username: 'acme-tech', password: process.env.APIAX_PASSWORD, apiKey })
 * const response = await apiax.fetch('https://rule-engine.apiax.io/api/v3/rules/eval', {
 *   method: 'POST',
 *   headers: { 'content-type': 'application/json' },
 *   body: JSON.stringify(request),
 * })
 */
export function createApiax(settings: ApiaxSettings = {}): TokenClient {
  const source = apiaxTokenSource(settings)
  const options: Record<string, unknown> = { ...settings }
  for (const name of SOURCE_SETTINGS) delete options[name]
  const client = createTokenClient(source, options as TokenClientOptions)
  apiUrls.set(client, () => source.apiUrl())
  return client
}

/** The rule engine URL of a client made by {@link createApiax}, if it is one. @internal */
export function apiUrlOf(client: TokenClient): (() => string) | undefined {
  return apiUrls.get(client)
}
