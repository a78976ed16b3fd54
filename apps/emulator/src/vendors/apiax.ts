import { type KeyObject, randomBytes } from 'node:crypto'
import { decodeJwt, errors as joseErrors, jwtVerify, SignJWT } from 'jose'
import { epochSeconds } from '../clock.ts'
import type { CounterStore } from '../counters.ts'
import { guid, importPublicKey, processKeyPair, ReplayCache, randomToken } from '../crypto.ts'
import { assertInteger, assertText, EmulatorError } from '../errors.ts'
import { fakeTokenValue } from '../faults.ts'
import type { EmulatorRequest, Reply } from '../http.ts'
import type { VendorService } from '../pipeline.ts'
import type {
  ApiaxClientRegistration,
  ApiaxConfiguration,
  ApiaxControl,
  ApiaxUserRegistration,
  EmulatorClock,
  RejectionReason,
} from '../types.ts'
import { describeJoseError, issuedInFuture } from './shared.ts'

/** The public client Apiax integrations log in with. */
export const APIAX_CLIENT_ID = 'integration-api'
/** Path of the realm (Keycloak's legacy `/auth` prefix, as Apiax serves it). */
export const APIAX_REALM_PATH = '/auth/realms/apiax'
/** Path of the realm's token endpoint. */
export const APIAX_TOKEN_PATH = `${APIAX_REALM_PATH}/protocol/openid-connect/token`
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
/** Leeway on client assertion times, seconds. */
const ASSERTION_TOLERANCE = 10
/** A client assertion may expire at most this far ahead, seconds (Keycloak refuses long `exp`). */
export const APIAX_ASSERTION_MAX_LIFETIME = 600
const RULES = /^\/api\/v3\/rules\/(eval|inspect)$/
const TOKEN_SCOPE = 'profile email'
const CHECKED_FOR_DUPLICATES = [
  'grant_type',
  'client_id',
  'username',
  'password',
  'refresh_token',
  'client_assertion',
  'client_assertion_type',
]

/** Defaults of the realm: as Apiax answers (30-minute tokens, offline-style 14-day refresh). */
export const APIAX_DEFAULT_CONFIGURATION: ApiaxConfiguration = {
  accessTokenLifespan: 1800,
  revokeRefreshToken: false,
  refreshTokenMaxReuse: 0,
  ssoSessionIdle: 14 * 86_400,
  ssoSessionMax: 14 * 86_400,
  offlineRefresh: true,
}

interface User {
  id: string
  username: string
  password: string
  enabled: boolean
  setupComplete: boolean
}

interface Client {
  clientId: string
  publicKey?: KeyObject
  directAccessGrants: boolean
}

interface Session {
  id: string
  userKey: string
  clientId: string
  offline: boolean
  startedAt: number
  lastRefreshAt: number
  alive: boolean
  /** Keycloak's "current refresh token": the one used most recently, and how often. */
  currentRefreshJti?: string
  currentUses: number
  /** Sequence number of the newest refresh token issued for the session. */
  newestSequence: number
}

interface RefreshRecord {
  sessionId: string
  sequence: number
}

interface AccessRecord {
  expiresAt: number
  revoked: boolean
}

class OAuthError {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {}
}

/**
 * Apiax: the Keycloak realm `apiax` (password and refresh_token grants, rotating refresh tokens,
 * optional RS256 client assertion) and the rule engine (`POST /api/v3/rules/eval|inspect`,
 * which needs both the bearer token and `Apikey`).
 */
export class ApiaxService implements VendorService {
  readonly vendor = 'apiax' as const
  origin = ''
  readonly #clock: EmulatorClock
  readonly #counters: CounterStore
  readonly #signing: { privateKey: KeyObject; publicKey: KeyObject; kid: string }
  readonly #refreshSecret = randomBytes(64)
  readonly #users = new Map<string, User>()
  readonly #clients = new Map<string, Client>()
  readonly #apiKeys = new Set<string>()
  readonly #sessions = new Map<string, Session>()
  readonly #refreshTokens = new Map<string, RefreshRecord>()
  readonly #accessTokens = new Map<string, AccessRecord>()
  readonly #replays = new ReplayCache()
  #config: ApiaxConfiguration = { ...APIAX_DEFAULT_CONFIGURATION }
  #sequence = 0

  private constructor(
    clock: EmulatorClock,
    counters: CounterStore,
    signing: { privateKey: KeyObject; publicKey: KeyObject; kid: string },
  ) {
    this.#clock = clock
    this.#counters = counters
    this.#signing = signing
    this.#clients.set(APIAX_CLIENT_ID, { clientId: APIAX_CLIENT_ID, directAccessGrants: true })
  }

  static async create(clock: EmulatorClock, counters: CounterStore): Promise<ApiaxService> {
    const pair = await processKeyPair('apiax-signing')
    return new ApiaxService(clock, counters, { ...pair, kid: randomToken(12) })
  }

  get #issuer(): string {
    return `${this.origin}${APIAX_REALM_PATH}`
  }

  get tokenUrl(): string {
    return `${this.origin}${APIAX_TOKEN_PATH}`
  }

  // --- control --------------------------------------------------------------------------

  control(): ApiaxControl {
    return {
      registerUser: (registration) => this.registerUser(registration),
      registerApiKey: (apiKey) => {
        this.#apiKeys.add(assertText(apiKey, 'apiax apiKey'))
      },
      configure: (options) => this.configure(options),
      registerClient: (registration) => this.registerClient(registration),
      registerAssertionClient: (registration) => {
        if (registration?.publicKey === undefined) {
          throw new EmulatorError(
            'INVALID_OPTION',
            'apiax.registerAssertionClient needs a publicKey',
          )
        }
        this.registerClient({ ...registration, directAccessGrants: true })
      },
      killSessions: () => this.killSessions(),
      activeSessions: () => {
        const now = this.#clock.now()
        return [...this.#sessions.values()].filter((session) => this.#sessionAlive(session, now))
          .length
      },
    }
  }

  registerUser(registration: ApiaxUserRegistration): void {
    if (typeof registration !== 'object' || registration === null) {
      throw new EmulatorError('INVALID_OPTION', 'apiax.registerUser needs an object')
    }
    const username = assertText(registration.username, 'apiax username').toLowerCase()
    const password = assertText(registration.password, 'apiax password')
    const existing = this.#users.get(username)
    this.#users.set(username, {
      id: existing?.id ?? guid(),
      username,
      password,
      enabled: registration.enabled ?? true,
      setupComplete: registration.setupComplete ?? true,
    })
  }

  registerClient(registration: ApiaxClientRegistration): void {
    if (typeof registration !== 'object' || registration === null) {
      throw new EmulatorError('INVALID_OPTION', 'apiax.registerClient needs an object')
    }
    const clientId = assertText(registration.clientId, 'apiax clientId')
    const client: Client = {
      clientId,
      directAccessGrants: registration.directAccessGrants ?? true,
    }
    if (registration.publicKey !== undefined) {
      client.publicKey = importPublicKey(registration.publicKey, 'apiax client publicKey')
    }
    this.#clients.set(clientId, client)
  }

  configure(options: Partial<ApiaxConfiguration>): ApiaxConfiguration {
    if (typeof options !== 'object' || options === null) {
      throw new EmulatorError('INVALID_OPTION', 'apiax.configure needs an object')
    }
    const next = { ...this.#config }
    const seconds = (name: 'accessTokenLifespan' | 'ssoSessionIdle' | 'ssoSessionMax') => {
      if (options[name] !== undefined) {
        next[name] = assertInteger(options[name], `apiax ${name} (seconds)`, 1, 10 * 365 * 86_400)
      }
    }
    seconds('accessTokenLifespan')
    seconds('ssoSessionIdle')
    seconds('ssoSessionMax')
    if (options.refreshTokenMaxReuse !== undefined) {
      next.refreshTokenMaxReuse = assertInteger(
        options.refreshTokenMaxReuse,
        'apiax refreshTokenMaxReuse',
        0,
        1000,
      )
    }
    for (const name of ['revokeRefreshToken', 'offlineRefresh'] as const) {
      if (options[name] !== undefined) {
        if (typeof options[name] !== 'boolean') {
          throw new EmulatorError('INVALID_OPTION', `apiax ${name} must be a boolean`)
        }
        next[name] = options[name]
      }
    }
    this.#config = next
    return { ...next }
  }

  killSessions(): number {
    let killed = 0
    for (const session of this.#sessions.values()) {
      if (session.alive) {
        session.alive = false
        killed += 1
      }
    }
    this.#counters.of('apiax').sessionsKilled += killed
    return killed
  }

  jwks(): { keys: Record<string, unknown>[] } {
    const jwk = this.#signing.publicKey.export({ format: 'jwk' }) as Record<string, unknown>
    return { keys: [{ ...jwk, kid: this.#signing.kid, alg: 'RS256', use: 'sig' }] }
  }

  revokeTokens(): void {
    for (const token of this.#accessTokens.values()) token.revoked = true
  }

  expireTokens(): void {
    const now = this.#clock.now()
    for (const token of this.#accessTokens.values())
      token.expiresAt = Math.min(token.expiresAt, now)
  }

  // --- pipeline hooks -------------------------------------------------------------------

  targetOf(pathname: string): 'token' | 'api' {
    return pathname === APIAX_TOKEN_PATH ? 'token' : 'api'
  }

  grantOf(request: EmulatorRequest): string | undefined {
    return request.form()?.get('grant_type') ?? undefined
  }

  errorBody(target: 'token' | 'api', status: number): unknown {
    if (target === 'token') {
      return status === 429
        ? { error: 'too_many_requests', error_description: 'Too many requests' }
        : {
            error: 'unknown_error',
            error_description: 'For more on this error consult the server log.',
          }
    }
    return {
      timestamp: new Date(this.#clock.now()).toISOString(),
      status,
      error: status === 429 ? 'Too Many Requests' : 'Internal Server Error',
    }
  }

  tokenAnswer(variant: 'normal' | 'missing-token' | 'expires-in-text'): Record<string, unknown> {
    const answer: Record<string, unknown> = {
      access_token: fakeTokenValue(),
      expires_in: variant === 'expires-in-text' ? '1800 seconds' : 1800,
      refresh_expires_in: 0,
      refresh_token: fakeTokenValue(),
      token_type: 'bearer',
      'not-before-policy': 0,
      session_state: guid(),
      scope: TOKEN_SCOPE,
    }
    if (variant === 'missing-token') delete answer.access_token
    return answer
  }

  async handle(request: EmulatorRequest, reply: Reply): Promise<void> {
    const path = request.pathname
    if (path === APIAX_TOKEN_PATH) return this.#token(request, reply)
    if (
      path === `${APIAX_REALM_PATH}/.well-known/openid-configuration` &&
      request.method === 'GET'
    ) {
      reply.json(200, {
        issuer: this.#issuer,
        token_endpoint: this.tokenUrl,
        jwks_uri: `${this.#issuer}/protocol/openid-connect/certs`,
        grant_types_supported: ['password', 'refresh_token'],
        token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_post'],
      })
      return
    }
    if (path === `${APIAX_REALM_PATH}/protocol/openid-connect/certs` && request.method === 'GET') {
      reply.json(200, this.jwks())
      return
    }
    const rules = RULES.exec(path)
    if (rules) return this.#rules(request, reply, rules[1] as 'eval' | 'inspect')
    reply.json(404, {
      timestamp: new Date(this.#clock.now()).toISOString(),
      status: 404,
      error: 'Not Found',
      path,
    })
  }

  // --- token endpoint -------------------------------------------------------------------

  async #token(request: EmulatorRequest, reply: Reply): Promise<void> {
    if (request.method !== 'POST') {
      reply.empty(405, { Allow: 'POST' })
      return
    }
    const form = request.form()
    if (!form) {
      // The endpoint consumes only form bodies (JAX-RS answers 415 before Keycloak runs).
      reply.empty(415)
      return
    }
    try {
      const answer = await this.#grant(form)
      this.#counters.of('apiax').tokensIssued += 1
      reply.json(200, answer)
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error
      reply.json(error.status, { error: error.error, error_description: error.description })
    }
  }

  async #grant(form: URLSearchParams): Promise<Record<string, unknown>> {
    for (const name of CHECKED_FOR_DUPLICATES) {
      if (form.getAll(name).length > 1) {
        throw new OAuthError(400, 'invalid_request', 'duplicated parameter')
      }
    }
    const grant = form.get('grant_type')
    if (!grant) throw new OAuthError(400, 'invalid_request', 'Missing form parameter: grant_type')
    if (grant !== 'password' && grant !== 'refresh_token') {
      throw new OAuthError(400, 'unsupported_grant_type', 'Unsupported grant_type')
    }
    const client = await this.#authenticateClient(form)
    return grant === 'password' ? this.#password(form, client) : this.#refresh(form, client)
  }

  async #authenticateClient(form: URLSearchParams): Promise<Client> {
    const invalidClient = () =>
      new OAuthError(401, 'invalid_client', 'Invalid client or Invalid client credentials')
    const assertion = form.get('client_assertion')
    const assertionType = form.get('client_assertion_type')
    const formClientId = form.get('client_id')

    if (assertion === null) {
      if (!formClientId) throw new OAuthError(400, 'invalid_client', 'Missing client_id parameter')
      const client = this.#clients.get(formClientId)
      if (!client) throw invalidClient()
      if (client.publicKey) {
        // A client configured for signed JWT authentication without an assertion.
        throw new OAuthError(400, 'invalid_client', 'Parameter client_assertion_type is missing')
      }
      return client
    }

    const failed = (reason: string) =>
      new OAuthError(
        400,
        'invalid_client',
        `Client authentication with signed JWT failed: ${reason}`,
      )
    if (assertionType === null) {
      throw new OAuthError(400, 'invalid_client', 'Parameter client_assertion_type is missing')
    }
    if (assertionType !== CLIENT_ASSERTION_TYPE) {
      throw new OAuthError(
        400,
        'invalid_client',
        `Parameter client_assertion_type has an unexpected value; expected is '${CLIENT_ASSERTION_TYPE}'`,
      )
    }
    let subject: string | undefined
    try {
      subject = decodeJwt(assertion).sub
    } catch {
      throw failed('The token is not a JWT')
    }
    if (!subject) {
      throw new OAuthError(
        400,
        'invalid_client',
        "Can't identify client. Subject missing on JWT token",
      )
    }
    if (formClientId && formClientId !== subject) {
      throw new OAuthError(
        400,
        'invalid_client',
        'client_id parameter not matching with client from JWT token',
      )
    }
    const client = this.#clients.get(subject)
    if (!client?.publicKey) throw invalidClient()
    const now = this.#clock.now()
    let payload: { exp?: number; iat?: number; jti?: string }
    try {
      ;({ payload } = await jwtVerify(assertion, client.publicKey, {
        algorithms: ['RS256'],
        audience: this.tokenUrl,
        issuer: subject,
        subject,
        requiredClaims: ['exp', 'jti'],
        currentDate: new Date(now),
        clockTolerance: ASSERTION_TOLERANCE,
      }))
    } catch (error) {
      throw failed(describeJoseError(error, 'token'))
    }
    const expiresAt = (payload.exp as number) * 1000
    if (expiresAt > now + (APIAX_ASSERTION_MAX_LIFETIME + ASSERTION_TOLERANCE) * 1000) {
      throw failed('Token expiration is too far in the future')
    }
    if (issuedInFuture(payload.iat, now, ASSERTION_TOLERANCE)) {
      throw failed('Token was issued in the future')
    }
    const fresh = this.#replays.remember(
      `${subject}\u0000${payload.jti}`,
      expiresAt + ASSERTION_TOLERANCE * 1000,
      now,
    )
    if (!fresh) {
      this.#counters.of('apiax').assertionReplays += 1
      throw failed('Token reuse detected')
    }
    return client
  }

  async #password(form: URLSearchParams, client: Client): Promise<Record<string, unknown>> {
    if (!client.directAccessGrants) {
      throw new OAuthError(
        400,
        'unauthorized_client',
        'Client not allowed for direct access grants',
      )
    }
    const username = form.get('username')
    if (!username) throw new OAuthError(401, 'invalid_request', 'Missing parameter: username')
    const invalidCredentials = () =>
      new OAuthError(401, 'invalid_grant', 'Invalid user credentials')
    const user = this.#users.get(username.toLowerCase())
    if (!user) throw invalidCredentials()
    if (!user.enabled) throw new OAuthError(400, 'invalid_grant', 'Account disabled')
    if (form.get('password') !== user.password) throw invalidCredentials()
    if (!user.setupComplete)
      throw new OAuthError(400, 'invalid_grant', 'Account is not fully set up')
    const now = this.#clock.now()
    const session: Session = {
      id: guid(),
      userKey: user.username,
      clientId: client.clientId,
      offline: this.#config.offlineRefresh,
      startedAt: now,
      lastRefreshAt: now,
      alive: true,
      currentUses: 0,
      newestSequence: 0,
    }
    this.#prune(now)
    this.#sessions.set(session.id, session)
    return this.#issue(session, user, now)
  }

  async #refresh(form: URLSearchParams, client: Client): Promise<Record<string, unknown>> {
    const encoded = form.get('refresh_token')
    if (!encoded) throw new OAuthError(400, 'invalid_request', 'No refresh token')
    const invalidGrant = (description: string) => new OAuthError(400, 'invalid_grant', description)
    const now = this.#clock.now()
    let claims: { jti?: string; typ?: unknown; azp?: unknown; sid?: unknown }
    try {
      ;({ payload: claims } = await jwtVerify(encoded, this.#refreshSecret, {
        algorithms: ['HS512'],
        issuer: this.#issuer,
        currentDate: new Date(now),
      }))
    } catch (error) {
      throw invalidGrant(
        error instanceof joseErrors.JWTExpired ? 'Token is not active' : 'Invalid refresh token',
      )
    }
    if (claims.typ !== 'Refresh' && claims.typ !== 'Offline')
      throw invalidGrant('Invalid refresh token')
    if (claims.azp !== client.clientId) {
      throw invalidGrant("Invalid refresh token. Token client and authorized client don't match")
    }
    const record = claims.jti ? this.#refreshTokens.get(claims.jti) : undefined
    const session = record ? this.#sessions.get(record.sessionId) : undefined
    if (!record || !session || session.id !== claims.sid)
      throw invalidGrant('Invalid refresh token')
    const inactive = session.offline ? 'Offline session not active' : 'Session not active'
    if (!this.#sessionAlive(session, now)) {
      session.alive = false
      throw invalidGrant(inactive)
    }
    const user = this.#users.get(session.userKey)
    if (!user) throw invalidGrant('Invalid refresh token')
    if (!user.enabled) throw invalidGrant('User disabled')

    if (this.#config.revokeRefreshToken) this.#checkReuse(session, claims.jti!, record)
    session.lastRefreshAt = now
    return this.#issue(session, user, now)
  }

  /**
   * Keycloak's single-use refresh tokens: a token older than the newest one that is not the
   * current one is "Stale token"; the current one used more than `refreshTokenMaxReuse` extra
   * times is "Maximum allowed refresh token reuse exceeded". Either ends the session.
   */
  #checkReuse(session: Session, jti: string, record: RefreshRecord): void {
    const kill = (description: string): never => {
      session.alive = false
      const counters = this.#counters.of('apiax')
      counters.sessionsKilled += 1
      counters.refreshReuseRejected += 1
      throw new OAuthError(400, 'invalid_grant', description)
    }
    if (
      session.currentRefreshJti !== undefined &&
      session.currentRefreshJti !== jti &&
      record.sequence < session.newestSequence
    ) {
      kill('Stale token')
    }
    if (session.currentRefreshJti !== jti) {
      session.currentRefreshJti = jti
      session.currentUses = 0
    }
    if (session.currentUses > this.#config.refreshTokenMaxReuse) {
      kill('Maximum allowed refresh token reuse exceeded')
    }
    session.currentUses += 1
  }

  #sessionAlive(session: Session, now: number): boolean {
    const { ssoSessionIdle, ssoSessionMax } = this.#config
    return (
      session.alive &&
      now <= session.lastRefreshAt + ssoSessionIdle * 1000 &&
      now <= session.startedAt + ssoSessionMax * 1000
    )
  }

  async #issue(session: Session, user: User, now: number): Promise<Record<string, unknown>> {
    const issuedAt = epochSeconds(now)
    const lifespan = this.#config.accessTokenLifespan
    const accessJti = guid()
    const accessToken = await new SignJWT({
      typ: 'Bearer',
      azp: session.clientId,
      session_state: session.id,
      sid: session.id,
      scope: TOKEN_SCOPE,
      preferred_username: user.username,
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.#signing.kid })
      .setIssuer(this.#issuer)
      .setAudience('account')
      .setSubject(user.id)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + lifespan)
      .setJti(accessJti)
      .sign(this.#signing.privateKey)
    this.#accessTokens.set(accessJti, { expiresAt: (issuedAt + lifespan) * 1000, revoked: false })

    const { ssoSessionIdle, ssoSessionMax } = this.#config
    // An online refresh token ends with the session: idle timeout or maximum, whichever is first.
    const refreshExpiresAt = session.offline
      ? undefined
      : Math.min(
          epochSeconds(session.lastRefreshAt) + ssoSessionIdle,
          epochSeconds(session.startedAt) + ssoSessionMax,
        )
    const refreshJti = guid()
    session.newestSequence = ++this.#sequence
    const refresh = new SignJWT({
      typ: session.offline ? 'Offline' : 'Refresh',
      azp: session.clientId,
      session_state: session.id,
      sid: session.id,
      scope: TOKEN_SCOPE,
    })
      .setProtectedHeader({ alg: 'HS512', typ: 'JWT' })
      .setIssuer(this.#issuer)
      .setAudience(this.#issuer)
      .setSubject(user.id)
      .setIssuedAt(issuedAt)
      .setJti(refreshJti)
    if (refreshExpiresAt !== undefined) refresh.setExpirationTime(refreshExpiresAt)
    const refreshToken = await refresh.sign(this.#refreshSecret)
    this.#refreshTokens.set(refreshJti, { sessionId: session.id, sequence: session.newestSequence })

    return {
      access_token: accessToken,
      expires_in: lifespan,
      refresh_expires_in: refreshExpiresAt === undefined ? 0 : refreshExpiresAt - issuedAt,
      refresh_token: refreshToken,
      token_type: 'bearer',
      'not-before-policy': 0,
      session_state: session.id,
      scope: TOKEN_SCOPE,
    }
  }

  /** Drops dead sessions and their refresh tokens, and expired access tokens, once maps grow. */
  #prune(now: number): void {
    if (this.#sessions.size + this.#accessTokens.size < 20_000) return
    for (const [id, session] of this.#sessions) {
      if (!this.#sessionAlive(session, now)) this.#sessions.delete(id)
    }
    for (const [jti, record] of this.#refreshTokens) {
      if (!this.#sessions.has(record.sessionId)) this.#refreshTokens.delete(jti)
    }
    for (const [jti, record] of this.#accessTokens) {
      if (record.expiresAt < now) this.#accessTokens.delete(jti)
    }
  }

  // --- rule engine ----------------------------------------------------------------------

  async #rules(
    request: EmulatorRequest,
    reply: Reply,
    operation: 'eval' | 'inspect',
  ): Promise<void> {
    const now = this.#clock.now()
    const springError = (status: number, error: string, message: string) => ({
      timestamp: new Date(now).toISOString(),
      status,
      error,
      message,
      path: request.pathname,
    })
    if (request.method !== 'POST') {
      reply.json(405, springError(405, 'Method Not Allowed', 'Use POST'), { Allow: 'POST' })
      return
    }
    const refuse = (reason: RejectionReason, description?: string) => {
      this.#counters.reject('apiax', reason)
      const challenge = description
        ? `Bearer error="invalid_token", error_description="${description}", error_uri="https://tools.ietf.org/html/rfc6750#section-3.1"`
        : 'Bearer'
      reply.json(401, springError(401, 'Unauthorized', 'Full authentication is required'), {
        'WWW-Authenticate': challenge,
      })
    }
    const token = request.bearer()
    if (!token) return refuse('missing')
    let jti: string | undefined
    try {
      ;({
        payload: { jti },
      } = await jwtVerify(token, this.#signing.publicKey, {
        algorithms: ['RS256'],
        issuer: this.#issuer,
        currentDate: new Date(now),
      }))
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) {
        const exp = new Date((error.payload.exp ?? 0) * 1000).toISOString()
        return refuse('expired', `Jwt expired at ${exp}`)
      }
      return refuse('invalid', 'Invalid token')
    }
    const record = jti ? this.#accessTokens.get(jti) : undefined
    if (!record) return refuse('invalid', 'Invalid token')
    if (record.revoked) return refuse('revoked', 'Token has been revoked')
    if (now >= record.expiresAt) {
      return refuse('expired', `Jwt expired at ${new Date(record.expiresAt).toISOString()}`)
    }
    const apiKey = request.header('apikey')
    if (!apiKey || !this.#apiKeys.has(apiKey)) {
      // A valid token without a valid API key: a permission problem, not a token problem.
      this.#counters.reject('apiax', 'forbidden')
      reply.json(403, springError(403, 'Forbidden', 'A valid Apikey header is required'))
      return
    }
    this.#counters.of('apiax').apiAccepted += 1
    const body = request.json()
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      reply.json(400, springError(400, 'Bad Request', 'A JSON object body is required'))
      return
    }
    const input = body as Record<string, unknown>
    const products = Array.isArray(input.products) ? input.products : undefined
    if (operation === 'eval' && !products) {
      reply.json(400, springError(400, 'Bad Request', 'products must be an array'))
      return
    }
    const regimes = Array.isArray(input.regimes) ? input.regimes : []
    if (operation === 'eval') {
      reply.json(200, {
        versionFilter: input.versionFilter ?? 'latest',
        results: products!.map((product) => ({
          product,
          regimes,
          outcome: 'ALLOWED',
          rules: [{ id: 'emulated-rule-1', outcome: 'ALLOWED' }],
        })),
      })
      return
    }
    reply.json(200, {
      versionFilter: input.versionFilter ?? 'latest',
      rules: [
        {
          id: 'emulated-rule-1',
          name: 'Emulated rule',
          regimes,
          attributes: input.attributes ?? [],
        },
      ],
    })
  }
}
