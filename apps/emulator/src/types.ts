import type { KeyObject } from 'node:crypto'

/** The four emulated vendors. */
export type Vendor = 'clearid' | 'clear' | 'akamai' | 'apiax'

/** Every vendor, in a stable order (for loops, listings and the admin API). */
export const VENDORS: readonly Vendor[] = ['clearid', 'clear', 'akamai', 'apiax']

/** Where a fault applies: a vendor's token endpoint, or every other route of that vendor. */
export type FaultTarget = `${Vendor}.token` | `${Vendor}.api`

/**
 * A malformed `200` body served instead of the real answer:
 * - `html`: an HTML page (a captive portal or a misrouted proxy);
 * - `truncated-json`: a token answer cut in the middle;
 * - `empty`: no body at all;
 * - `missing-token`: well-formed JSON without the token field;
 * - `expires-in-text`: the lifetime field as text (`"expires_in": "3600 seconds"`, or a
 *   `valid_till` that is not a date for Clear);
 * - `huge`: several megabytes of JSON (tests a client's body size cap).
 *
 * On `*.api` targets `missing-token` and `expires-in-text` answer `{}`.
 */
export type MalformedBody =
  | 'html'
  | 'truncated-json'
  | 'empty'
  | 'missing-token'
  | 'expires-in-text'
  | 'huge'

/**
 * A fault injected in front of a vendor endpoint. `times` is how many requests it affects
 * (default: every request until cleared); the request that consumes it is counted in
 * `faultsInjected`.
 */
export type Fault = { times?: number } & (
  | { kind: 'latency'; ms: number }
  | {
      kind: 'status'
      status: number
      /** `vendor`: the vendor's own error JSON; `html`: a gateway error page. Default: `vendor` below 502, `html` for 502 and above. */
      body?: 'vendor' | 'html'
      /** `Retry-After` in seconds, only sent when given. */
      retryAfter?: number
    }
  | { kind: 'rate-limit'; retryAfter?: number }
  | { kind: 'reset' }
  | { kind: 'body'; body: MalformedBody }
)

/** Why an API rejected a request (keys of `apiRejectedByReason`). */
export type RejectionReason = 'expired' | 'revoked' | 'invalid' | 'missing' | 'forbidden'

/** Counters every vendor keeps. */
export interface VendorCounters {
  /** Requests that reached the token endpoint, including faulted ones. */
  tokenRequests: number
  /** Tokens actually issued. */
  tokensIssued: number
  /** Token requests answered with a non-2xx status or a connection reset. */
  tokenErrors: number
  /**
   * Token requests per grant: `client_credentials`, `jwt-bearer`, `password`,
   * `refresh_token`; Clear counts its header-secret request as `client_secret`; a missing grant
   * is `none`, an unknown one `other`.
   */
  byGrant: Record<string, number>
  /** API requests answered normally. */
  apiAccepted: number
  /** API requests refused because of their credentials. */
  apiRejected: number
  /**
   * Refusals by reason. `forbidden` is a valid token that may not do this (wrong account, wrong
   * scope or customer, missing or unknown Apiax API key); it is not a token rejection.
   */
  apiRejectedByReason: Record<RejectionReason, number>
  /** Requests answered by an injected fault (any kind, latency included). */
  faultsInjected: number
}

/** ClearID counters. */
export interface ClearIdCounters extends VendorCounters {
  /** JWT-bearer assertions refused because their `jti` had been seen. */
  assertionReplays: number
}

/** Clear counters. */
export interface ClearCounters extends VendorCounters {
  /** Token requests refused with 429 by the daily quota. */
  quotaRejected: number
  /** Live tokens revoked because the same secret was used to issue a new one. */
  revokedByReissue: number
}

/** Akamai counters. */
export type AkamaiCounters = VendorCounters

/** Apiax counters. */
export interface ApiaxCounters extends VendorCounters {
  /** Sessions ended by refresh-token reuse (single-use mode) or by `apiax.killSessions()`. */
  sessionsKilled: number
  /** Refresh requests refused as reuse (`Maximum allowed refresh token reuse exceeded` or `Stale token`). */
  refreshReuseRejected: number
  /** Client assertions refused because their `jti` had been seen. */
  assertionReplays: number
}

/** A snapshot of every vendor's counters. */
export interface Counters {
  clearid: ClearIdCounters
  clear: ClearCounters
  akamai: AkamaiCounters
  apiax: ApiaxCounters
}

/** Options of {@link startEmulator}. */
export interface EmulatorOptions {
  /**
   * Loopback address to bind every port to (default `127.0.0.1`). `localhost`, `::1` and any
   * `127.x.y.z` are accepted; anything else is refused, the emulator is for local use only.
   */
  host?: string
  /** Port per server; `0` (the default) picks a free one. */
  ports?: Partial<Record<'admin' | Vendor, number>>
  /** Time source in epoch ms (default `Date.now`). Tests pass a simulated clock. */
  now?: () => number
  /** Register the demo credentials of {@link Emulator.demo} (default `true`). */
  seed?: boolean
  /**
   * Receives one line per request: vendor, method, path (never the query string), status,
   * duration and the fault if any. Never a secret or token. Default: no logging.
   */
  log?: (line: string) => void
}

/** A public key as accepted by the registration calls: a JWK, a PEM string or a `KeyObject`. */
export type PublicKeyInput = string | Record<string, unknown> | KeyObject

/** A ClearID API integration as registered by {@link ClearIdControl.registerClient}. */
export interface ClearIdClientRegistration {
  /** `<guid>:<accountId>`; generated when omitted. */
  clientId?: string
  /** Defaults to the part of `clientId` after `:`, or a new GUID. */
  accountId?: string
  /** Enables the client-secret grant. */
  clientSecret?: string
  /** Enables the JWT-bearer assertion grant (RS512). A private key is accepted; its public half is kept. */
  publicKey?: PublicKeyInput
}

/**
 * The JSON key file the ClearID portal lets an administrator download (emulated format; the
 * real field names are unpublished). See the README.
 */
export interface ClearIdKeyFile {
  type: 'clearid-api-integration'
  name: string
  systemId: string
  clientId: string
  accountId: string
  stsUrl: string
  apiUrl: string
  /** The RSA private key as a JWK (`kty, kid, alg, n, e, d, p, q, dp, dq, qi`). */
  privateKey: Record<string, unknown>
}

/** What {@link ClearIdControl.createKeyFile} returns. */
export interface ClearIdKeyFileResult {
  clientId: string
  accountId: string
  /** Suggested file name, `key-<systemId>-<name>.json`. */
  fileName: string
  keyFile: ClearIdKeyFile
  /** The same private key as PKCS#8 PEM. */
  privateKeyPem: string
  /** The same private key as a JWK (also `keyFile.privateKey`). */
  privateJwk: Record<string, unknown>
}

/** Programmatic control of the ClearID emulation. */
export interface ClearIdControl {
  /** Registers (or replaces) an API integration. */
  registerClient(registration: ClearIdClientRegistration): { clientId: string; accountId: string }
  /**
   * Generates an RSA-2048 key pair (synchronously, a fraction of a second), registers its public
   * half for a client (creating the client, or regenerating its key: the old key stops working
   * at once) and returns the key file.
   */
  createKeyFile(options?: {
    clientId?: string
    accountId?: string
    name?: string
  }): ClearIdKeyFileResult
  /** Removes a client; its live tokens stay valid until they expire, like the real STS. */
  removeClient(clientId: string): boolean
  /** Access token lifetime in seconds, 1 to 3600 (default 3600). */
  setTokenLifetime(seconds: number): void
  /** The STS signing keys as a JWKS (also served at `/.well-known/openid-configuration/jwks`). */
  jwks(): { keys: Record<string, unknown>[] }
}

/** A Clear client secret as registered by {@link ClearControl.registerSecret}. */
export interface ClearSecretRegistration {
  secret: string
  /** Token validity in seconds; `null` = "Never expires" (`valid_till: null`). Default 86400. */
  validity?: number | null
  /** Token requests allowed per UTC day (default 288). */
  quota?: number
  /** `false` simulates a caller outside the secret's IP allow-list (401). Default `true`. */
  ipAllowed?: boolean
}

/** Programmatic control of the Clear emulation. */
export interface ClearControl {
  /** Registers a secret, or updates the given fields of an existing one (its usage is kept). */
  registerSecret(registration: ClearSecretRegistration): void
  /** Deletes a secret (the API client was deleted): token requests answer 401, its token dies. */
  removeSecret(secret: string): boolean
  /** Flips the IP allow-list switch of a secret. */
  setIpAllowed(secret: string, allowed: boolean): void
  /** Token requests counted today for this secret (emulator clock, UTC day). */
  quotaUsed(secret: string): number
  /** Which field name carries the token in the answer (default `access_token`; one doc revision says `access-token`). */
  configure(options: { accessTokenField?: 'access_token' | 'access-token' }): void
}

/** An Akamai configuration client as registered by {@link AkamaiControl.registerClient}. */
export interface AkamaiClientRegistration {
  customerId: string
  clientId: string
  clientSecret: string
  /** Scopes the token policy allows, e.g. `*:webhooks/**`. */
  scopes: readonly string[]
  /** Token lifetime in seconds, 60 to 3600 (default 3600). */
  tokenLifetime?: number
}

/** Programmatic control of the Akamai emulation. */
export interface AkamaiControl {
  /** Registers (or replaces) a configuration client. */
  registerClient(registration: AkamaiClientRegistration): void
  /** Removes a configuration client. */
  removeClient(customerId: string, clientId: string): boolean
  /** Changes a client's token policy lifetime (60 to 3600 s). */
  setTokenLifetime(customerId: string, clientId: string, seconds: number): void
  /** The Webhooks v3 subscriptions stored for a customer. */
  subscriptions(customerId: string): Record<string, unknown>[]
}

/** Keycloak realm settings of the Apiax emulation. */
export interface ApiaxConfiguration {
  /** Access token lifetime, seconds (default 1800). */
  accessTokenLifespan: number
  /** Single-use refresh tokens: reusing a spent one ends the session (default `false`). */
  revokeRefreshToken: boolean
  /** With `revokeRefreshToken`, extra uses allowed per refresh token (default 0). */
  refreshTokenMaxReuse: number
  /** Session idle timeout, seconds (default 1209600, 14 days). */
  ssoSessionIdle: number
  /** Session maximum lifetime from the password login, seconds (default 1209600, 14 days). */
  ssoSessionMax: number
  /**
   * Offline-style refresh tokens: `refresh_expires_in: 0`, no `exp` in the refresh token; the
   * session still ends at idle/max ("Offline session not active"). Default `true`, as Apiax answers.
   */
  offlineRefresh: boolean
}

/** An Apiax user as registered by {@link ApiaxControl.registerUser}. */
export interface ApiaxUserRegistration {
  username: string
  password: string
  /** `false`: 400 invalid_grant "Account disabled". Default `true`. */
  enabled?: boolean
  /** `false`: 400 invalid_grant "Account is not fully set up". Default `true`. */
  setupComplete?: boolean
}

/** A Keycloak client of the Apiax realm. */
export interface ApiaxClientRegistration {
  clientId: string
  /** When given, the client authenticates with an RS256 client assertion (Apiax "2FA"). */
  publicKey?: PublicKeyInput
  /** `false`: 400 unauthorized_client "Client not allowed for direct access grants". Default `true`. */
  directAccessGrants?: boolean
}

/** Programmatic control of the Apiax emulation. */
export interface ApiaxControl {
  /** Registers (or replaces) a user. */
  registerUser(registration: ApiaxUserRegistration): void
  /** Accepts an API key on the rule engine. */
  registerApiKey(apiKey: string): void
  /** Changes realm settings; returns the full configuration now in force. */
  configure(options: Partial<ApiaxConfiguration>): ApiaxConfiguration
  /** Registers (or replaces) a client, e.g. one without direct access grants. */
  registerClient(registration: ApiaxClientRegistration): void
  /** Registers a client that must authenticate with an RS256 assertion signed by this key. */
  registerAssertionClient(registration: { clientId: string; publicKey: PublicKeyInput }): void
  /** Ends every session (refresh answers "Session not active"); returns how many ended. */
  killSessions(): number
  /** Sessions still alive. */
  activeSessions(): number
}

/** The emulator's clock: emulator time = `now()` of the options + advanced + skew. */
export interface EmulatorClock {
  /** Emulator time in epoch ms. */
  now(): number
  /** Moves emulator time forward (or back with a negative value) for good. */
  advance(ms: number): void
  /** Sets the offset of the emulator against the client's clock (replaces the previous skew). */
  setSkew(ms: number): void
  /** Total advanced so far, ms. */
  readonly advanced: number
  /** Current skew, ms. */
  readonly skew: number
}

/** Controls of fault injection. */
export interface FaultControl {
  /** Installs a fault on a target (replacing the one there). */
  set(target: FaultTarget, fault: Fault): void
  /** Removes the fault of one target, or of every target. */
  clear(target?: FaultTarget): void
  /** The faults in force, with the requests each still affects (`null` = unlimited). */
  list(): { target: FaultTarget; fault: Fault; remaining: number | null }[]
}

/** The seeded demo credentials (emulator-only values, fine to print). */
export interface DemoCredentials {
  clearid: {
    clientId: string
    accountId: string
    clientSecret: string
    keyFile: ClearIdKeyFile
    privateKeyPem: string
    privateJwk: Record<string, unknown>
  }
  clear: { clientSecret: string }
  akamai: { customerId: string; clientId: string; clientSecret: string; scope: string }
  apiax: { username: string; password: string; apiKey: string; clientId: 'integration-api' }
}

/** Every URL the emulator serves. */
export interface EmulatorUrls {
  /** Admin API origin; routes live under `/_emulator/`. */
  admin: string
  clearid: { stsUrl: string; apiUrl: string }
  clear: { baseUrl: string }
  /** `oidcUrl` is `${baseUrl}/${demo customerId}/login`. */
  akamai: { baseUrl: string; oidcUrl: string }
  /** `tokenUrl` is the full Keycloak token URL; `apiUrl` the rule engine origin. */
  apiax: { tokenUrl: string; apiUrl: string }
}

/** A running emulator. */
export interface Emulator {
  urls: EmulatorUrls
  /** Seeded credentials (present even with `seed: false`, but then not registered). */
  demo: DemoCredentials
  clock: EmulatorClock
  clearid: ClearIdControl
  clear: ClearControl
  akamai: AkamaiControl
  apiax: ApiaxControl
  /** Vendor-side revocation of every live access token of a vendor. */
  revokeTokens(vendor: Vendor): void
  /** Makes every live access token of a vendor expired now. */
  expireTokens(vendor: Vendor): void
  faults: FaultControl
  /** A deep copy of the counters. */
  counters(): Counters
  resetCounters(): void
  /** Closes every server and connection; idempotent. */
  stop(): Promise<void>
}
