import {
  type LeaseOptions,
  MemoryTokenStore,
  type StoredToken,
  type StoreSetOptions,
  type TokenLease,
  type TokenStore,
} from '@tokenkeeper/auth-core'
import {
  type MockEndpoint,
  mockTokenEndpoint,
  type RecordedRequest,
} from '@tokenkeeper/auth-core/testing'
import type { MockAgent } from 'undici'

export const TOKEN_ORIGIN = 'https://auth.apiax.io'
export const TOKEN_PATH = '/auth/realms/apiax/protocol/openid-connect/token'
export const TOKEN_URL = `${TOKEN_ORIGIN}${TOKEN_PATH}`
export const API_ORIGIN = 'https://rule-engine.apiax.io'

/** Recognisable secrets: the sweep searches every output for the `SECRET-` prefix. */
export const USERNAME = 'acme-technical'
export const PASSWORD = 'SECRET-password-7361'
export const API_KEY = 'SECRET-apikey-5519'

/** One request the mock Keycloak received, with its grant type. */
export interface KeycloakRequest extends RecordedRequest {
  readonly grant: string | null
}

/** A canned answer that replaces the mock's normal behaviour for one request. */
export interface Answer {
  status: number
  body: unknown
  headers?: Record<string, string>
}

interface Session {
  alive: boolean
  /** The newest refresh token of the session. */
  current: string
}

/**
 * A Keycloak token endpoint on a MockAgent, with Apiax's behaviour: password and refresh_token
 * grants, a new refresh token on every refresh, and (when `singleUse`) reuse of a spent refresh
 * token kills the whole session, as Keycloak's "revoke refresh token" realm setting does.
 */
export class MockKeycloak {
  readonly passwords = new Map<string, string>([[USERNAME, PASSWORD]])
  singleUse = true
  expiresIn: number | undefined = 1800
  refreshExpiresIn = 0
  /** Sessions ended because a spent refresh token was presented again. */
  killedSessions = 0
  /** Canned answers, used in order before the normal behaviour (per grant type). */
  readonly next: { password: Answer[]; refresh_token: Answer[] } = {
    password: [],
    refresh_token: [],
  }
  readonly #endpoint: MockEndpoint
  readonly #sessions = new Map<string, Session>()
  /** refresh token → session id */
  readonly #refreshTokens = new Map<string, string>()
  #issued = 0
  #sessionCount = 0

  constructor(agent: MockAgent, url: string = TOKEN_URL) {
    this.#endpoint = mockTokenEndpoint(agent, { url }, (_index, request) =>
      this.#answer(request.form),
    )
  }

  /** Requests received, in order. */
  get requests(): KeycloakRequest[] {
    return this.#endpoint.requests.map((request) => ({
      ...request,
      grant: request.form.get('grant_type'),
    }))
  }

  /** Grant types received, in order. */
  grants(): Array<string | null> {
    return this.requests.map((request) => request.grant)
  }

  count(grant: 'password' | 'refresh_token'): number {
    return this.requests.filter((request) => request.grant === grant).length
  }

  /** Refresh tokens presented, in order. */
  presentedRefreshTokens(): Array<string | null> {
    return this.requests
      .filter((request) => request.grant === 'refresh_token')
      .map((request) => request.form.get('refresh_token'))
  }

  /** Ends every session, as an administrator or the idle timeout would. */
  endSessions(): void {
    for (const session of this.#sessions.values()) session.alive = false
  }

  #answer(form: URLSearchParams): Answer {
    const grant = form.get('grant_type')
    if (grant === 'password' || grant === 'refresh_token') {
      const canned = this.next[grant].shift()
      if (canned) return canned
    }
    if (grant === 'password') {
      const username = form.get('username') ?? ''
      if (this.passwords.get(username) !== form.get('password')) {
        return {
          status: 401,
          body: { error: 'invalid_grant', error_description: 'Invalid user credentials' },
        }
      }
      const session = `session-${++this.#sessionCount}`
      return this.#tokens(session)
    }
    if (grant === 'refresh_token') {
      const token = form.get('refresh_token') ?? ''
      const sessionId = this.#refreshTokens.get(token)
      const session = sessionId ? this.#sessions.get(sessionId) : undefined
      if (!sessionId || !session?.alive) {
        return {
          status: 400,
          body: { error: 'invalid_grant', error_description: 'Session not active' },
        }
      }
      if (this.singleUse && session.current !== token) {
        session.alive = false
        this.killedSessions++
        return {
          status: 400,
          body: {
            error: 'invalid_grant',
            error_description: 'Maximum allowed refresh token reuse exceeded',
          },
        }
      }
      return this.#tokens(sessionId)
    }
    return { status: 400, body: { error: 'unsupported_grant_type' } }
  }

  #tokens(sessionId: string): Answer {
    const number = ++this.#issued
    const refreshToken = `SECRET-refresh-${number}`
    this.#sessions.set(sessionId, { alive: true, current: refreshToken })
    this.#refreshTokens.set(refreshToken, sessionId)
    return {
      status: 200,
      body: {
        access_token: `SECRET-access-${number}`,
        ...(this.expiresIn !== undefined ? { expires_in: this.expiresIn } : {}),
        refresh_expires_in: this.refreshExpiresIn,
        refresh_token: refreshToken,
        token_type: 'bearer',
        'not-before-policy': 0,
        session_state: sessionId,
        scope: 'profile email',
      },
    }
  }
}

/**
 * A store shaped like a shared one (Redis): asynchronous, JSON round trips (state must survive
 * serialisation), `shared: true`, a lease, and no eviction of its own (so the source's own
 * 14-day tracking is what is tested).
 */
export class SharedTestStore implements TokenStore {
  readonly shared = true
  readonly entries = new Map<string, string>()
  readonly #leases: MemoryTokenStore
  leasesTaken = 0

  constructor(leases = new MemoryTokenStore()) {
    this.#leases = leases
  }

  async get(key: string): Promise<StoredToken | undefined> {
    const text = this.entries.get(key)
    return text === undefined ? undefined : (JSON.parse(text) as StoredToken)
  }

  async set(key: string, entry: StoredToken, options: StoreSetOptions = {}): Promise<boolean> {
    const current = await this.get(key)
    if (
      options.expectedValue !== undefined &&
      current !== undefined &&
      current.value !== options.expectedValue
    ) {
      return false
    }
    this.entries.set(key, JSON.stringify(entry))
    return true
  }

  async invalidate(key: string, value: string): Promise<boolean> {
    const current = await this.get(key)
    if (current === undefined || current.value !== value || current.rejected) return false
    this.entries.set(key, JSON.stringify({ ...current, rejected: true }))
    return true
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key)
  }

  async lease(key: string, options: LeaseOptions): Promise<TokenLease | null> {
    const lease = await this.#leases.lease(key, options)
    if (lease) this.leasesTaken++
    return lease
  }

  /** The only entry (tests use one key). */
  only(): StoredToken | undefined {
    const [text] = this.entries.values()
    return text === undefined ? undefined : (JSON.parse(text) as StoredToken)
  }
}

/** A logger that keeps every line. */
export function recordingLogger(): {
  lines: string[]
  logger: Record<'debug' | 'info' | 'warn' | 'error', (message: string, fields?: unknown) => void>
} {
  const lines: string[] = []
  const log = (level: string) => (message: string, fields?: unknown) => {
    lines.push(`${level} ${message} ${JSON.stringify(fields)}`)
  }
  return {
    lines,
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
  }
}

/** Lets loopback or MockAgent I/O started by a fired timer complete (macrotask turns). */
export async function settle(turns = 10): Promise<void> {
  for (let index = 0; index < turns; index++) {
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

/** Runs `body` with environment variables set, restoring them afterwards. */
export async function withEnvironment<T>(
  values: Record<string, string | undefined>,
  body: () => Promise<T> | T,
): Promise<T> {
  const saved = new Map<string, string | undefined>()
  for (const [name, value] of Object.entries(values)) {
    saved.set(name, process.env[name])
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  try {
    return await body()
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
}

/** Every APIAX_* variable unset, so the machine's environment cannot leak into a test. */
export const CLEAN_ENVIRONMENT: Record<string, undefined> = {
  APIAX_USERNAME: undefined,
  APIAX_PASSWORD: undefined,
  APIAX_API_KEY: undefined,
  APIAX_CLIENT_ID: undefined,
  APIAX_TOKEN_URL: undefined,
  APIAX_API_URL: undefined,
  APIAX_ASSERTION_PRIVATE_KEY: undefined,
  APIAX_ASSERTION_CLIENT_ID: undefined,
  APIAX_ASSERTION_KEY_ID: undefined,
}
