import type { AccessToken } from './access-token.ts'

/** A value or a promise of it. Stores answer synchronously when they can (hot path). */
export type MaybePromise<T> = T | Promise<T>

/** JSON-serialisable data (refresh state kept with a token in a store). */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue }

/** Vendor state kept with a token, e.g. Apiax's refresh token. JSON only: stores serialise it. */
export type TokenState = { [key: string]: JsonValue }

// ---------------------------------------------------------------------------------------------
// Transport: how a TokenSource reaches the token endpoint.
// ---------------------------------------------------------------------------------------------

/** One HTTP request to a token endpoint. */
export interface TransportRequest {
  /** Absolute URL. */
  readonly url: string
  readonly method: 'GET' | 'POST'
  readonly headers: Readonly<Record<string, string>>
  /** Request body, already encoded (form or JSON). */
  readonly body?: string
  readonly signal?: AbortSignal
}

/** The answer to a {@link TransportRequest}; the body is read in full (up to a size cap). */
export interface TransportResponse {
  readonly status: number
  /** Header names in lower case; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/**
 * Sends one HTTP request and reads the whole answer. It must not follow redirects and must not
 * throw for HTTP error statuses (the source maps them). The core's default is undici over a
 * private Agent; the n8n package passes n8n's own request helper.
 */
export type Transport = (request: TransportRequest) => Promise<TransportResponse>

// ---------------------------------------------------------------------------------------------
// TokenSource: the seam a vendor package fills.
// ---------------------------------------------------------------------------------------------

/** Why a token is being requested. */
export type TokenRequestReason =
  /** No token in the store. */
  | 'initial'
  /** The current token is expired or inside the mandatory window. */
  | 'expired'
  /** Background renewal inside the advisory window. */
  | 'renewal'
  /** An API rejected the current token. */
  | 'rejected'
  /** The caller asked with `forceRefresh`. */
  | 'forced'

/** What the core hands a source for one token request. */
export interface TokenRequestContext {
  /** Sends HTTP. Refuses insecure URLs, caps bodies, times out; use it for every request. */
  readonly transport: Transport
  /** Aborted when the client closes or the request times out. */
  readonly signal: AbortSignal
  /** The client's clock (epoch ms). Use it for JWT `iat`/`exp` and refresh-state expiry. */
  readonly now: () => number
  /**
   * The entry currently in the store, if any: possibly expired or rejected, but carrying the
   * vendor state (e.g. a refresh token) of the last issuance. Stores drop entries whose token and
   * state are both spent, so a rejected token without state may arrive here as `undefined`.
   */
  readonly previous: StoredToken | undefined
  readonly reason: TokenRequestReason
}

/**
 * What a source returns for a successful token request. The core turns it into an
 * {@link AccessToken}, computing the expiry conservatively:
 *
 * - `expiresIn` counts from the moment the request was sent;
 * - `expiresAt` (and a JWT's `exp` when `jwt` is true) are absolute server times, corrected by
 *   the skew between the response's `Date` header and the local clock;
 * - when several are given the earliest wins; when none is given the client's
 *   `defaultLifetime` applies; `neverExpires` means `expiresAt: null`.
 */
export interface IssuedToken {
  readonly value: string
  /** Token scheme as the client should present it; default `'Bearer'`. */
  readonly type?: string
  /** Seconds of validity counted from when the request was sent. */
  readonly expiresIn?: number
  /** Absolute expiry on the server's clock: epoch seconds, epoch ms, or an ISO 8601 string. */
  readonly expiresAt?: number | string
  /** The vendor says the token does not expire (e.g. Clear's `valid_till: null`). */
  readonly neverExpires?: boolean
  /** The value is a JWT whose `exp` is an expiry signal. Opaque tokens must leave this unset. */
  readonly jwt?: boolean
  readonly scope?: readonly string[]
  /** Vendor state to keep with the token (e.g. a refresh token); replaces the previous state. */
  readonly state?: TokenState
  /** Epoch ms (local clock) until which `state` stays useful, e.g. a refresh token's end. */
  readonly stateExpiresAt?: number | null
}

/**
 * A vendor protocol: how to obtain a token and how to present it. Vendor packages implement
 * this; the core knows nothing about any vendor.
 */
export interface TokenSource {
  /** Short vendor id used in events and messages, e.g. `'clear-cfc'`. */
  readonly vendor: string
  /**
   * A stable, non-secret cache key for this credential (e.g. vendor, host, client id and scope;
   * hash anything secret). Called lazily, so settings read from the environment can fail here
   * with a {@link ConfigurationError}.
   */
  cacheKey(): string
  /** Requests a token through `context.transport` and parses the answer. */
  requestToken(context: TokenRequestContext): Promise<IssuedToken>
  /** Headers that present a token to the vendor's APIs (not always `Authorization: Bearer`). */
  authHeaders(token: AccessToken): Record<string, string>
  /** API statuses that mean "token rejected". Default `[401]`; Akamai adds 403. */
  readonly rejectionStatuses?: readonly number[]
  /**
   * Issuing a new token revokes the previous one (Clear). The client then never renews
   * speculatively and issues under the store's lease when there is one.
   */
  readonly reissueRevokesPrevious?: boolean
  /**
   * Issuing must be coordinated across every user of the credential even though a reissue does
   * not revoke (e.g. single-use rotating refresh tokens): leases are requested as `exclusive`.
   * Implied by `reissueRevokesPrevious`.
   */
  readonly exclusiveIssue?: boolean
  /**
   * Start background renewal no later than this fraction of the lifetime before expiry
   * (ClearID: `0.5`, renewal at half-life). Widens, never narrows, the advisory window.
   */
  readonly refreshWindowRatio?: number
  /**
   * Milliseconds after issue during which an API's rejection of a token does not renew it: the
   * API is refusing the credential (scope, product, permission), and a new token would not help
   * but would spend quota (and, for revoke-on-reissue vendors, revoke other callers' token).
   * Default: 10 s, and only for a token that itself replaced a rejected one.
   */
  readonly rejectionGrace?: number
  /**
   * Least time in ms between failed token requests, whatever the backoff or negative cache says
   * (e.g. Clear: 5 minutes keeps failures within its 288 tokens a day).
   */
  readonly minimumIssueInterval?: number
  /**
   * API origins the token belongs to (e.g. `['https://identityservice.clearid.io']`), used as
   * the default allow-list of `interceptor()` and `fetch()`.
   */
  origins?(): string[]
}

// ---------------------------------------------------------------------------------------------
// TokenStore: where tokens live between calls and, with a shared store, between processes.
// ---------------------------------------------------------------------------------------------

/** A token as a store keeps it. Plain, JSON-serialisable data. */
export interface StoredToken {
  readonly value: string
  readonly type: string
  /** Epoch ms (local clock of the writer); `null`: never expires. */
  readonly expiresAt: number | null
  readonly issuedAt: number
  readonly scope?: readonly string[]
  /** Vendor state (e.g. a refresh token) kept with the token. */
  readonly state?: TokenState
  /** Epoch ms until which `state` stays useful; the store keeps the entry at least this long. */
  readonly stateExpiresAt?: number | null
  /** An API rejected this token; it must not be served, but its `state` may still be used. */
  readonly rejected?: boolean
}

/** Options of {@link TokenStore.set}. */
export interface StoreSetOptions {
  /**
   * Compare-and-set: write only if the store is empty or still holds the entry whose value is
   * this (the entry the writer read before requesting a new token). `undefined` writes always.
   */
  readonly expectedValue?: string | null
}

/** A held lease on a key: only its holder requests a token for that key. */
export interface TokenLease {
  /** Releases the lease if this holder still owns it (fenced compare-and-delete). */
  release(): Promise<void>
}

/** Options of {@link TokenStore.lease}. */
export interface LeaseOptions {
  /** How long the lease lives if its holder dies, in ms. Holders renew it while they work. */
  readonly ttl: number
  /** How long to wait for another holder before giving up with a `TIMEOUT` error, in ms. */
  readonly waitTimeout: number
  readonly signal?: AbortSignal
  /**
   * Only one caller across every user of the credential may issue (the source revokes on
   * reissue or rotates single-use state). A store that can degrade to a per-process fallback
   * must fail instead of granting a local lease for such a key.
   */
  readonly exclusive?: boolean
}

/**
 * Where tokens are kept. {@link MemoryTokenStore} is the default; `@tokenkeeper/store-redis`
 * shares tokens between processes and machines.
 *
 * Methods may answer synchronously (the hot path then never awaits).
 */
export interface TokenStore {
  /** The entry for `key`, or `undefined`. May return expired or rejected entries (for state). */
  get(key: string): MaybePromise<StoredToken | undefined>
  /** Writes an entry; with `expectedValue`, only if nobody wrote a newer one. True if written. */
  set(key: string, entry: StoredToken, options?: StoreSetOptions): MaybePromise<boolean>
  /**
   * Compare-and-invalidate: marks the entry `rejected` if its value is still `value` (keeping its
   * state). True if it was current. Shared stores propagate this to other processes.
   */
  invalidate(key: string, value: string): MaybePromise<boolean>
  /** Removes the entry for `key`. */
  delete(key: string): MaybePromise<void>
  /**
   * Takes the lease on `key`. Resolves to a {@link TokenLease} if this caller now holds it, or to
   * `null` once another holder released it (or it expired): the caller should then re-read the
   * store, where the other holder's token usually is. Stores without cross-caller coordination
   * may omit this.
   */
  lease?(key: string, options: LeaseOptions): Promise<TokenLease | null>
  /**
   * Calls `listener` whenever the entry for `key` may have changed (written, invalidated or
   * deleted, by this or another client or process). Returns an unsubscribe function.
   *
   * Optional, but it is what lets a client answer `getToken()` from memory without reading the
   * store on every call; without it the client reads the store each time. A store that cannot
   * currently guarantee notifications (e.g. its subscription is down) must call the listener
   * when it loses that guarantee.
   */
  watch?(key: string, listener: () => void): () => void
  /** True when the store is shared across processes. */
  readonly shared?: boolean
  /** Releases connections and timers. */
  close?(): MaybePromise<void>
}
