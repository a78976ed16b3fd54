import { createHash } from 'node:crypto'
import {
  type Clock,
  createAccessToken,
  createTokenClient,
  DEFAULT_REJECTION_GRACE,
  MemoryTokenStore,
  type StoredToken,
  systemClock,
  TokenKeeperError,
  type TokenSource,
} from '@tokenkeeper/auth-core'
import type { ICredentialDataDecryptedObject, IDataObject, IHttpRequestOptions } from 'n8n-workflow'
import {
  readStoredToken,
  renewalTime,
  replacedRejectedToken,
  statusIsValid,
  tokenOutput,
} from './token-fields.ts'
import { type HttpRequestFunction, n8nTransport, TOKEN_REQUEST_TIMEOUT } from './transport.ts'

/**
 * What a credential type tells the lifecycle about its vendor. Everything protocol-specific
 * lives in the vendor package behind {@link CredentialVendor.createSource}.
 */
export interface CredentialVendor<Settings extends object = object> {
  /** n8n credential type name, e.g. `clearCfcApi`. */
  readonly credentialType: string
  /** Vendor name for messages, e.g. `Clear Finance Cloud`. */
  readonly displayName: string
  /**
   * Reads the credential's fields into the vendor package's settings. Every setting is passed
   * explicitly, so nothing falls back to the n8n server's environment variables. Throws a
   * `ConfigurationError` naming the field at fault.
   */
  settings(credentials: ICredentialDataDecryptedObject): Settings
  /** The vendor package's token source for these settings. */
  createSource(settings: Settings): TokenSource
  /**
   * The settings that issue tokens and are secret (client secret, private key, password). Their
   * hash is part of the credential's identity: a token is only reused by credentials that could
   * have obtained it themselves.
   */
  secrets(settings: Settings): string[]
  /**
   * A cheap authenticated call of the vendor's API without side effects. Its answer tells a
   * rejected token (the source's rejection statuses: 401, Akamai also 403) from any other
   * failure, so a request that failed for another reason does not cost a new token (for Clear:
   * does not revoke the live one). The "Get Access Token" operation also sends it, to make n8n
   * renew and persist a token.
   */
  probeRequest(settings: Settings): ProbeRequest
}

/** A cheap authenticated request (see {@link CredentialVendor.probeRequest}). */
export interface ProbeRequest {
  readonly url: string
  readonly method: 'GET' | 'POST'
  /** Encoded body, with its content type in `headers`. */
  readonly body?: string
  readonly headers?: Readonly<Record<string, string>>
}

/** The result of one decision about a credential's token. */
type Outcome =
  | { readonly kind: 'token'; readonly entry: StoredToken; readonly afterRejection: boolean }
  | { readonly kind: 'kept' }

/** A resolved credential: its source and the non-secret identity of its token. */
interface Resolved {
  readonly source: TokenSource
  /** The store key: the identity. */
  readonly key: string
  /**
   * Hash of the source's cache key (vendor, host, client) and of the secrets that issue tokens,
   * never a secret itself: stored with the token, keys the store and the single flight.
   */
  readonly identity: string
  readonly settings: object
}

/** Per-identity coordination in this process. */
interface IdentityState {
  /** The decision in progress: every concurrent caller awaits it instead of requesting. */
  flight: Promise<Outcome> | undefined
  /** The last failure: no new token request before `until`. */
  failure: { readonly error: Error; readonly until: number } | undefined
  /** The value of the last token requested because its predecessor was (taken as) rejected. */
  afterRejection: string | undefined
  /** Tokens this process replaced: a credential still holding one never seeds the store. */
  readonly replaced: Set<string>
}

/** Errors that retrying cannot fix are remembered this long, ms (the core's default). */
const NEGATIVE_CACHE_MS = 30_000
/** Other failures are remembered this long, ms, so items arriving just after one do not repeat it. */
const RETRY_DELAY_MS = 1_000
/** Most sources and identities remembered; the oldest are dropped first. */
const MAX_REMEMBERED = 500

/**
 * Module-level state, shared by every execution in this n8n process. n8n runs the items of a
 * node concurrently and nothing in n8n serialises `preAuthentication`, so without this each
 * item would request (and, for Clear, revoke) its own token.
 */
const resolvedByFingerprint = new Map<string, Resolved>()
const identities = new Map<string, IdentityState>()
let clock: Clock = systemClock
/** The newest token of each identity seen in this process (a cache of what n8n persists). */
let store = new MemoryTokenStore({ maxEntries: MAX_REMEMBERED, clock })

/**
 * Resolves a credential into its token source, memoised by a fingerprint of all its settings
 * (so the source's own memory, e.g. Apiax's refused-password guard, survives between calls, and
 * an edited credential gets a new source). The fingerprint is a hash kept in memory only.
 */
export function resolveCredential<Settings extends object>(
  vendor: CredentialVendor<Settings>,
  credentials: ICredentialDataDecryptedObject,
): Resolved & { readonly settings: Settings } {
  const settings = vendor.settings(credentials)
  const fingerprint = createHash('sha256')
    .update(`${vendor.credentialType}\0${JSON.stringify(settings)}`)
    .digest('hex')
  const known = resolvedByFingerprint.get(fingerprint)
  if (known) {
    remember(resolvedByFingerprint, fingerprint, known)
    return known as Resolved & { settings: Settings }
  }
  const vendorSource = vendor.createSource(settings)
  // The vendor's cache key names vendor, host and client; the secrets that issue tokens are added
  // as a hash, so two credentials of one client with different secrets never share a token (a
  // credential with a wrong secret must fail its test, not borrow another credential's token).
  const secrets = createHash('sha256').update(vendor.secrets(settings).join('\0')).digest('hex')
  const identity = createHash('sha256')
    .update(`n8n-nodes-tokenkeeper\0${vendorSource.cacheKey()}\0${secrets}`)
    .digest('hex')
    .slice(0, 32)
  // The core keys its store by the source's cache key: make that the identity.
  const source: TokenSource = Object.create(vendorSource, {
    cacheKey: { value: () => identity },
  })
  const resolved = { source, key: identity, identity, settings }
  remember(resolvedByFingerprint, fingerprint, resolved)
  return resolved
}

/**
 * The body of every credential type's `preAuthentication`. n8n calls it when the expirable
 * field reads `''` (no token yet, or past its renewal time) and, with the field still valid,
 * as the one retry after a failed request (the HTTP Request node does so after any error, other
 * nodes after 401 or their renewal statuses) and possibly at the start of a credential test.
 *
 * - A token that another item of this process obtained meanwhile is returned as is.
 * - Past the renewal time (or without a token) a token is requested through the vendor's
 *   `TokenSource`, with n8n's request helper as transport and the core computing its expiry.
 * - With a valid token in place, the token is first checked with a cheap authenticated call
 *   (see {@link CredentialVendor.probeRequest}) and kept unless the vendor rejects it (one of the
 *   source's rejection statuses): a request that failed for another reason, or a test, costs no
 *   token; for Clear, no revoked live token and no spent quota. A token that itself replaced a
 *   rejected one is kept during the source's rejection grace without asking.
 *
 * Concurrent calls for one credential identity share one decision (single flight). The result
 * holds the hidden token fields for n8n to persist; `{}` means "keep what is stored" (n8n then
 * saves nothing and surfaces the original error instead of retrying).
 */
export async function preAuthenticate<Settings extends object>(
  vendor: CredentialVendor<Settings>,
  httpRequest: HttpRequestFunction,
  credentials: ICredentialDataDecryptedObject,
): Promise<IDataObject> {
  const resolved = resolveCredential(vendor, credentials)
  const state = identityState(resolved.identity)
  let flight = state.flight
  if (flight === undefined) {
    flight = decide(vendor, resolved, state, httpRequest, credentials)
    state.flight = flight
    const clear = () => {
      if (state.flight === flight) state.flight = undefined
    }
    flight.then(clear, clear)
  }
  const outcome = await flight
  if (outcome.kind === 'kept') return {}
  return tokenOutput(
    outcome.entry,
    resolved.identity,
    renewalTime(outcome.entry, resolved.source),
    outcome.afterRejection,
  )
}

async function decide<Settings extends object>(
  vendor: CredentialVendor<Settings>,
  resolved: Resolved & { settings: Settings },
  state: IdentityState,
  httpRequest: HttpRequestFunction,
  credentials: ICredentialDataDecryptedObject,
): Promise<Outcome> {
  const { source, key } = resolved
  const now = () => clock.now()
  // Seeded inside the single flight: a caller that loaded the credential before the flight
  // replaced its token must not put that token back while the new one is being requested.
  const persisted = readStoredToken(credentials, resolved.identity)
  if (persisted !== undefined && !state.replaced.has(persisted.value)) seedStore(key, persisted)
  const persistedAfterRejection = persisted !== undefined && replacedRejectedToken(credentials)
  const statusValid = statusIsValid(credentials)
  const newest = store.get(key)

  // Another item (or execution) of this process already replaced the credential's token.
  if (newest && !newest.rejected && newest.value !== persisted?.value && isFresh(newest)) {
    return { kind: 'token', entry: newest, afterRejection: state.afterRejection === newest.value }
  }

  // The expirable field still reads valid, yet n8n asks: a request failed (any error for the
  // HTTP Request node, 401 or the node's renewal statuses otherwise), or a credential test
  // starts. Only the vendor can tell whether it still accepts the token, so ask it with a cheap
  // call before renewing: a request that failed for another reason, or a test, then costs no
  // token (for Clear a new token would revoke the live one and spend the daily quota).
  const rejection = statusValid && persisted !== undefined
  if (rejection) {
    // A token that itself replaced a rejected one moments ago is kept: the API refuses the
    // credential (scope, product, permission) and a token per call would not help.
    if (persistedAfterRejection && now() - persisted.issuedAt < rejectionGrace(persisted, source)) {
      return { kind: 'kept' }
    }
    if (persisted.expiresAt === null || now() < persisted.expiresAt) {
      if (!(await probeRejects(vendor, resolved, httpRequest, persisted))) {
        return { kind: 'kept' }
      }
    }
  }

  const failure = state.failure
  if (failure && now() < failure.until) throw failure.error

  const due = newest ?? persisted
  if (due !== undefined) {
    rememberReplaced(state, due.value)
    // The token is to be replaced; its vendor state (Apiax's refresh token) is still needed.
    // Marking it expired lets the client request with reason `expired`, which keeps the
    // vendor's own guards (Apiax never resends a refused password unless forced).
    store.set(key, { ...due, expiresAt: Math.min(due.expiresAt ?? Number.POSITIVE_INFINITY, 0) })
  }
  const client = createTokenClient(source, {
    store,
    transport: n8nTransport(httpRequest),
    timeout: TOKEN_REQUEST_TIMEOUT,
    clock,
  })
  try {
    await client.getToken()
  } catch (error) {
    rememberFailure(state, source, error, now())
    // eslint-disable-next-line @n8n/community-nodes/require-node-api-error -- no node here (preAuthentication); the core's typed, secret-free error is what n8n reports
    throw error
  } finally {
    await client.close()
  }
  state.failure = undefined
  const entry = store.get(key)
  if (entry === undefined || entry.rejected) {
    throw new TokenKeeperError(
      'INVALID_TOKEN_RESPONSE',
      `${vendor.displayName}: the new token could not be kept`,
    )
  }
  state.afterRejection = rejection ? entry.value : undefined
  return { kind: 'token', entry, afterRejection: rejection }

  function isFresh(entry: StoredToken): boolean {
    const renewAt = renewalTime(entry, source)
    return renewAt === null || now() < renewAt
  }
}

/**
 * How long after issue a token that replaced a rejected one is kept despite failures: the
 * source's `rejectionGrace` (Clear: 5 minutes), else the core's default of 10 s, at most a
 * tenth of the lifetime.
 */
function rejectionGrace(entry: StoredToken, source: TokenSource): number {
  if (source.rejectionGrace !== undefined) return source.rejectionGrace
  const lifetime =
    entry.expiresAt === null ? Number.POSITIVE_INFINITY : entry.expiresAt - entry.issuedAt
  return Math.min(DEFAULT_REJECTION_GRACE, lifetime / 10)
}

/** Sends the probe with the stored token; true only if the API rejects the token. */
async function probeRejects<Settings extends object>(
  vendor: CredentialVendor<Settings>,
  resolved: Resolved & { settings: Settings },
  httpRequest: HttpRequestFunction,
  persisted: StoredToken,
): Promise<boolean> {
  const { source } = resolved
  const headers = source.authHeaders(
    createAccessToken({
      value: persisted.value,
      type: persisted.type,
      expiresAt: persisted.expiresAt,
      issuedAt: persisted.issuedAt,
    }),
  )
  const probe = vendor.probeRequest(resolved.settings)
  let status: number
  try {
    const response = (await httpRequest({
      url: probe.url,
      method: probe.method,
      headers: { accept: 'application/json', ...probe.headers, ...headers },
      ...(probe.body === undefined ? {} : { body: probe.body }),
      returnFullResponse: true,
      ignoreHttpStatusErrors: true,
      disableFollowRedirect: true,
      encoding: 'text',
      json: false,
      timeout: TOKEN_REQUEST_TIMEOUT,
    })) as { statusCode?: unknown }
    status = typeof response?.statusCode === 'number' ? response.statusCode : 0
  } catch {
    // No answer: nothing says the token was rejected, and the retry would fail the same way.
    return false
  }
  return (source.rejectionStatuses ?? [401]).includes(status)
}

/**
 * The body of every credential type's `authenticate`: adds the vendor's headers for the stored
 * token (through the vendor package's `authHeaders`). A token issued for other settings (the
 * credential was edited) is not sent; the API's 401 then makes n8n renew it.
 */
export async function authenticateRequest<Settings extends object>(
  vendor: CredentialVendor<Settings>,
  credentials: ICredentialDataDecryptedObject,
  requestOptions: IHttpRequestOptions,
): Promise<IHttpRequestOptions> {
  const resolved = resolveCredential(vendor, credentials)
  const stored = readStoredToken(credentials, resolved.identity)
  if (stored === undefined) return requestOptions
  const headers = resolved.source.authHeaders(
    createAccessToken({
      value: stored.value,
      type: stored.type,
      expiresAt: stored.expiresAt,
      issuedAt: stored.issuedAt,
    }),
  )
  return { ...requestOptions, headers: { ...(requestOptions.headers ?? {}), ...headers } }
}

/**
 * The token a credential holds, if it may be used now (within its renewal time and issued for
 * the current settings). For the nodes' "Get Access Token" operation.
 */
export function usableToken<Settings extends object>(
  vendor: CredentialVendor<Settings>,
  credentials: ICredentialDataDecryptedObject,
  now: number = clock.now(),
): { token: StoredToken; headers: Record<string, string> } | undefined {
  const resolved = resolveCredential(vendor, credentials)
  const stored = readStoredToken(credentials, resolved.identity)
  if (stored === undefined || !statusIsValid(credentials)) return undefined
  if (stored.expiresAt !== null && now >= stored.expiresAt) return undefined
  const headers = resolved.source.authHeaders(
    createAccessToken({
      value: stored.value,
      type: stored.type,
      expiresAt: stored.expiresAt,
      issuedAt: stored.issuedAt,
    }),
  )
  return { token: stored, headers }
}

/** Keeps the newest of the persisted token and the one this process already has. */
function seedStore(key: string, persisted: StoredToken | undefined): void {
  if (persisted === undefined) return
  const current = store.get(key)
  if (current === undefined || persisted.issuedAt > current.issuedAt) store.set(key, persisted)
}

function identityState(identity: string): IdentityState {
  let state = identities.get(identity)
  if (state === undefined) {
    state = {
      flight: undefined,
      failure: undefined,
      afterRejection: undefined,
      replaced: new Set(),
    }
  }
  remember(identities, identity, state)
  return state
}

/**
 * Remembers a failed token request: errors that retrying cannot fix for 30 s, others for a
 * second, never shorter than the vendor's `Retry-After` or quota reset, nor than the source's
 * `minimumIssueInterval` (Clear: 5 minutes, to stay within its daily quota).
 */
function rememberFailure(
  state: IdentityState,
  source: TokenSource,
  error: unknown,
  now: number,
): void {
  const retryable = TokenKeeperError.is(error) ? error.retryable : true
  let until = now + (retryable ? RETRY_DELAY_MS : NEGATIVE_CACHE_MS)
  if (TokenKeeperError.is(error) && error.retryAt !== undefined)
    until = Math.max(until, error.retryAt)
  if (source.minimumIssueInterval !== undefined)
    until = Math.max(until, now + source.minimumIssueInterval)
  state.failure = { error: error instanceof Error ? error : new Error(String(error)), until }
}

function rememberReplaced(state: IdentityState, value: string): void {
  state.replaced.add(value)
  if (state.replaced.size > 16)
    state.replaced.delete(state.replaced.values().next().value as string)
}

/** LRU insert: re-inserting moves a key to the end; the oldest go beyond the limit. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key)
  map.set(key, value)
  while (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value as string)
}

/**
 * Forgets every token, source and failure of this process and sets the clock. For tests: the
 * real clock otherwise.
 */
export function resetCredentialState(testClock: Clock = systemClock): void {
  resolvedByFingerprint.clear()
  identities.clear()
  clock = testClock
  store = new MemoryTokenStore({ maxEntries: MAX_REMEMBERED, clock })
}
