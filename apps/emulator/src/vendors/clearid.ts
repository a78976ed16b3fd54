import type { KeyObject } from 'node:crypto'
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT } from 'jose'
import { epochSeconds } from '../clock.ts'
import type { CounterStore } from '../counters.ts'
import {
  generateRsaKeyPairSync,
  guid,
  importPublicKey,
  processKeyPair,
  ReplayCache,
  randomToken,
} from '../crypto.ts'
import { assertInteger, assertText, EmulatorError } from '../errors.ts'
import { fakeTokenValue } from '../faults.ts'
import type { EmulatorRequest, Reply } from '../http.ts'
import type { VendorService } from '../pipeline.ts'
import type {
  ClearIdClientRegistration,
  ClearIdControl,
  ClearIdKeyFileResult,
  EmulatorClock,
} from '../types.ts'
import { describeJoseError, issuedInFuture, parseBasic } from './shared.ts'

/** The scopes ClearID grants an API integration (a string in the answer, an array in the JWT). */
export const CLEARID_SCOPES = ['iams-all-permissions-delegated', 'iams-api', 'iams-roles', 'openid']
/** `aud` of a JWT-bearer assertion: a literal string, not a URL. */
export const CLEARID_ASSERTION_AUDIENCE = 'iams-sts'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
/** Leeway on assertion `exp`/`nbf`/`iat`, seconds. */
export const CLEARID_ASSERTION_TOLERANCE = 30
/** An assertion may expire at most this far in the future, seconds. */
export const CLEARID_ASSERTION_MAX_LIFETIME = 600
const TOKEN_PATH = '/connect/token'
const IDENTITIES = /^\/api\/v2\/accounts\/([^/]+)\/identities$/

interface Client {
  clientId: string
  accountId: string
  secret?: string
  publicKey?: KeyObject
}

interface IssuedToken {
  clientId: string
  /** The JWT's own `exp`, ms. */
  jwtExpiresAt: number
  /** When the emulator considers it expired (`expireTokens` may bring it forward), ms. */
  expiresAt: number
  revoked: boolean
}

const DEMO_IDENTITIES = [
  {
    id: 'b7a1d2c3-0000-4000-8000-000000000001',
    firstName: 'Ada',
    lastName: 'Lovelace',
    email: 'ada@example.com',
  },
  {
    id: 'b7a1d2c3-0000-4000-8000-000000000002',
    firstName: 'Alan',
    lastName: 'Turing',
    email: 'alan@example.com',
  },
]

/**
 * Genetec ClearID: an IdentityServer-style STS (`POST /connect/token`, client secret and RS512
 * JWT-bearer grants, RS512 `at+jwt` access tokens) and the identity service
 * (`GET /api/v2/accounts/{accountId}/identities`), on one origin.
 */
export class ClearIdService implements VendorService {
  readonly vendor = 'clearid' as const
  origin = ''
  readonly #clock: EmulatorClock
  readonly #counters: CounterStore
  readonly #signing: { privateKey: KeyObject; publicKey: KeyObject; kid: string }
  readonly #clients = new Map<string, Client>()
  readonly #tokens = new Map<string, IssuedToken>()
  readonly #replays = new ReplayCache()
  #lifetime = 3600

  private constructor(
    clock: EmulatorClock,
    counters: CounterStore,
    signing: { privateKey: KeyObject; publicKey: KeyObject; kid: string },
  ) {
    this.#clock = clock
    this.#counters = counters
    this.#signing = signing
  }

  static async create(clock: EmulatorClock, counters: CounterStore): Promise<ClearIdService> {
    const pair = await processKeyPair('clearid-signing')
    return new ClearIdService(clock, counters, { ...pair, kid: randomToken(12) })
  }

  // --- control --------------------------------------------------------------------------

  /** The programmatic controls exposed as `emulator.clearid`. */
  control(): ClearIdControl {
    return {
      registerClient: (registration) => this.registerClient(registration),
      createKeyFile: (options) => this.createKeyFile(options),
      removeClient: (clientId) => this.#clients.delete(clientId),
      setTokenLifetime: (seconds) => {
        this.#lifetime = assertInteger(seconds, 'clearid.setTokenLifetime(seconds)', 1, 3600)
      },
      jwks: () => this.jwks(),
    }
  }

  registerClient(registration: ClearIdClientRegistration): { clientId: string; accountId: string } {
    if (typeof registration !== 'object' || registration === null) {
      throw new EmulatorError('INVALID_OPTION', 'clearid.registerClient needs an object')
    }
    const accountId =
      registration.accountId ??
      (registration.clientId?.includes(':') ? registration.clientId.split(':').pop() : undefined) ??
      guid()
    assertText(accountId, 'clearid client accountId')
    const clientId = registration.clientId ?? `${guid()}:${accountId}`
    assertText(clientId, 'clearid client clientId')
    const client: Client = { clientId, accountId }
    if (registration.clientSecret !== undefined) {
      client.secret = assertText(registration.clientSecret, 'clearid client clientSecret')
    }
    if (registration.publicKey !== undefined) {
      client.publicKey = importPublicKey(registration.publicKey, 'clearid client publicKey')
    }
    this.#clients.set(clientId, client)
    return { clientId, accountId }
  }

  createKeyFile(
    options: { clientId?: string; accountId?: string; name?: string } = {},
    keyPair?: { privateKey: KeyObject; publicKey: KeyObject },
  ): ClearIdKeyFileResult {
    // Start-up hands in a pair generated in parallel with the signing keys; a call at run time
    // generates one synchronously so the key file is returned directly, like a download.
    const pair = keyPair ?? generateRsaKeyPairSync()
    const existing = options.clientId ? this.#clients.get(options.clientId) : undefined
    const { clientId, accountId } = existing
      ? existing
      : this.registerClient({
          ...(options.clientId === undefined ? {} : { clientId: options.clientId }),
          ...(options.accountId === undefined ? {} : { accountId: options.accountId }),
        })
    // Regenerating the key invalidates the old one at once (no overlap), as in the portal.
    this.#clients.get(clientId)!.publicKey = pair.publicKey
    const name = options.name ?? 'tokenkeeper'
    const privateJwk = {
      ...(pair.privateKey.export({ format: 'jwk' }) as Record<string, unknown>),
      kid: clientId,
      alg: 'RS512',
    }
    const privateKeyPem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
    const systemId = accountId
    return {
      clientId,
      accountId,
      fileName: `key-${systemId}-${name}.json`,
      keyFile: {
        type: 'clearid-api-integration',
        name,
        systemId,
        clientId,
        accountId,
        stsUrl: this.origin,
        apiUrl: this.origin,
        privateKey: privateJwk,
      },
      privateKeyPem,
      privateJwk,
    }
  }

  jwks(): { keys: Record<string, unknown>[] } {
    const jwk = this.#signing.publicKey.export({ format: 'jwk' }) as Record<string, unknown>
    return { keys: [{ ...jwk, kid: this.#signing.kid, alg: 'RS512', use: 'sig' }] }
  }

  revokeTokens(): void {
    for (const token of this.#tokens.values()) token.revoked = true
  }

  expireTokens(): void {
    const now = this.#clock.now()
    for (const token of this.#tokens.values()) token.expiresAt = Math.min(token.expiresAt, now)
  }

  // --- pipeline hooks -------------------------------------------------------------------

  targetOf(pathname: string): 'token' | 'api' {
    return pathname === TOKEN_PATH ? 'token' : 'api'
  }

  grantOf(request: EmulatorRequest): string | undefined {
    return request.form()?.get('grant_type') ?? undefined
  }

  errorBody(target: 'token' | 'api', status: number): unknown {
    if (target === 'token') {
      return status === 429
        ? { error: 'slow_down', error_description: 'Too many requests' }
        : { error: 'server_error', error_description: 'The STS could not process the request' }
    }
    return {
      type: 'about:blank',
      title: status === 429 ? 'Too Many Requests' : 'Server Error',
      status,
    }
  }

  tokenAnswer(variant: 'normal' | 'missing-token' | 'expires-in-text'): Record<string, unknown> {
    const answer: Record<string, unknown> = {
      access_token: fakeTokenValue(),
      expires_in: variant === 'expires-in-text' ? `${this.#lifetime} seconds` : this.#lifetime,
      token_type: 'Bearer',
      scope: CLEARID_SCOPES.join(' '),
    }
    if (variant === 'missing-token') delete answer.access_token
    return answer
  }

  async handle(request: EmulatorRequest, reply: Reply): Promise<void> {
    const path = request.pathname
    if (path === TOKEN_PATH) return this.#token(request, reply)
    if (path === '/.well-known/openid-configuration' && request.method === 'GET') {
      reply.json(200, this.#discovery())
      return
    }
    if (path === '/.well-known/openid-configuration/jwks' && request.method === 'GET') {
      reply.json(200, this.jwks())
      return
    }
    const identities = IDENTITIES.exec(path)
    if (identities) return this.#identities(request, reply, decodeURIComponent(identities[1]!))
    reply.empty(404)
  }

  // --- token endpoint -------------------------------------------------------------------

  async #token(request: EmulatorRequest, reply: Reply): Promise<void> {
    if (request.method !== 'POST') {
      reply.empty(405, { Allow: 'POST' })
      return
    }
    const form = request.form()
    const fail = (error: string, description: string) =>
      reply.json(400, { error, error_description: description })
    if (!form)
      return fail('invalid_request', 'The request must be application/x-www-form-urlencoded')

    // IdentityServer authenticates the client first, then looks at the grant.
    const basic = parseBasic(request.header('authorization'))
    const clientId = basic?.user ?? form.get('client_id') ?? ''
    const secret = basic?.password ?? form.get('client_secret') ?? undefined
    if (!clientId) return fail('invalid_client', 'client_id is missing')
    const client = this.#clients.get(clientId)
    if (!client) return fail('invalid_client', 'Unknown client')

    const grant = form.get('grant_type')
    if (!grant) return fail('unsupported_grant_type', 'grant_type is missing')

    if (grant === 'client_credentials') {
      if (client.secret === undefined || secret === undefined || secret !== client.secret) {
        return fail('invalid_client', 'Invalid client secret')
      }
    } else if (grant === JWT_BEARER) {
      if (secret !== undefined && secret !== client.secret) {
        return fail('invalid_client', 'Invalid client secret')
      }
      if (!client.publicKey) return fail('invalid_client', 'The client has no key for assertions')
      const assertion = form.get('assertion')
      if (!assertion) return fail('invalid_request', 'assertion is missing')
      const problem = await this.#checkAssertion(assertion, client)
      if (problem) return fail('invalid_grant', problem)
    } else {
      return fail('unsupported_grant_type', 'The grant type is not supported')
    }

    const requested = form.get('scope')
    let scopes = CLEARID_SCOPES
    if (requested?.trim()) {
      scopes = requested.trim().split(/\s+/)
      if (!scopes.every((scope) => CLEARID_SCOPES.includes(scope))) {
        return fail('invalid_scope', 'The client is not allowed the requested scope')
      }
    }
    const answer = await this.#issue(client, scopes, grant === JWT_BEARER ? 'swk' : 'pwd')
    this.#counters.of('clearid').tokensIssued += 1
    reply.json(200, answer)
  }

  async #checkAssertion(assertion: string, client: Client): Promise<string | undefined> {
    const now = this.#clock.now()
    try {
      const header = decodeProtectedHeader(assertion)
      if (header.alg !== 'RS512') return 'The assertion must be signed with RS512'
    } catch {
      return 'The assertion is not a JWT'
    }
    let payload: { exp?: number; iat?: number; jti?: string }
    try {
      ;({ payload } = await jwtVerify(assertion, client.publicKey!, {
        algorithms: ['RS512'],
        audience: CLEARID_ASSERTION_AUDIENCE,
        issuer: client.clientId,
        subject: client.clientId,
        requiredClaims: ['exp', 'jti'],
        currentDate: new Date(now),
        clockTolerance: CLEARID_ASSERTION_TOLERANCE,
      }))
    } catch (error) {
      return describeJoseError(error, 'assertion')
    }
    const expiresAt = (payload.exp as number) * 1000
    if (expiresAt > now + (CLEARID_ASSERTION_MAX_LIFETIME + CLEARID_ASSERTION_TOLERANCE) * 1000) {
      return 'The assertion expires too far in the future'
    }
    if (issuedInFuture(payload.iat, now, CLEARID_ASSERTION_TOLERANCE)) {
      return 'The assertion was issued in the future'
    }
    const fresh = this.#replays.remember(
      `${client.clientId}\u0000${payload.jti}`,
      expiresAt + CLEARID_ASSERTION_TOLERANCE * 1000,
      now,
    )
    if (!fresh) {
      this.#counters.of('clearid').assertionReplays += 1
      return 'The assertion jti has already been used'
    }
    return undefined
  }

  async #issue(client: Client, scopes: string[], method: string): Promise<Record<string, unknown>> {
    const now = this.#clock.now()
    const issuedAt = epochSeconds(now)
    const expiresAt = issuedAt + this.#lifetime
    const jti = guid()
    const accessToken = await new SignJWT({
      client_id: client.clientId,
      account_id: client.accountId,
      scope: scopes,
      amr: [method],
    })
      .setProtectedHeader({ alg: 'RS512', kid: this.#signing.kid, typ: 'at+jwt' })
      .setIssuer(this.origin)
      .setSubject(client.clientId)
      .setNotBefore(issuedAt)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .setJti(jti)
      .sign(this.#signing.privateKey)
    this.#prune(now)
    this.#tokens.set(jti, {
      clientId: client.clientId,
      jwtExpiresAt: expiresAt * 1000,
      expiresAt: expiresAt * 1000,
      revoked: false,
    })
    return {
      access_token: accessToken,
      expires_in: this.#lifetime,
      token_type: 'Bearer',
      scope: scopes.join(' '),
    }
  }

  #prune(now: number): void {
    if (this.#tokens.size < 10_000) return
    for (const [jti, token] of this.#tokens) if (token.jwtExpiresAt < now) this.#tokens.delete(jti)
  }

  // --- identity service -----------------------------------------------------------------

  async #identities(request: EmulatorRequest, reply: Reply, accountId: string): Promise<void> {
    if (request.method !== 'GET') {
      reply.empty(405, { Allow: 'GET' })
      return
    }
    const counters = this.#counters
    const token = request.bearer()
    if (!token) {
      counters.reject('clearid', 'missing')
      reply.empty(401, { 'WWW-Authenticate': 'Bearer' })
      return
    }
    const now = this.#clock.now()
    const challenge = (description: string) => ({
      'WWW-Authenticate': `Bearer error="invalid_token", error_description="${description}"`,
    })
    let payload: { jti?: string; account_id?: unknown; exp?: number }
    try {
      ;({ payload } = await jwtVerify(token, this.#signing.publicKey, {
        algorithms: ['RS512'],
        issuer: this.origin,
        typ: 'at+jwt',
        currentDate: new Date(now),
      }))
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) {
        counters.reject('clearid', 'expired')
        const exp = (error.payload.exp ?? 0) * 1000
        reply.empty(401, challenge(`The token expired at '${new Date(exp).toISOString()}'`))
      } else {
        counters.reject('clearid', 'invalid')
        reply.empty(401, challenge('The signature is invalid'))
      }
      return
    }
    const record = payload.jti ? this.#tokens.get(payload.jti) : undefined
    if (!record) {
      counters.reject('clearid', 'invalid')
      reply.empty(401, challenge('The token is unknown'))
      return
    }
    if (record.revoked) {
      counters.reject('clearid', 'revoked')
      reply.empty(401, challenge('The token has been revoked'))
      return
    }
    if (now >= record.expiresAt) {
      counters.reject('clearid', 'expired')
      reply.empty(
        401,
        challenge(`The token expired at '${new Date(record.expiresAt).toISOString()}'`),
      )
      return
    }
    if (payload.account_id !== accountId) {
      // A sound token of another account: refused like a bad token (401), counted apart.
      counters.reject('clearid', 'forbidden')
      reply.empty(401, challenge('The token is not valid for this account'))
      return
    }
    counters.of('clearid').apiAccepted += 1
    reply.json(200, {
      items: DEMO_IDENTITIES.map((identity) => ({ ...identity, accountId })),
      totalCount: DEMO_IDENTITIES.length,
    })
  }

  #discovery(): Record<string, unknown> {
    return {
      issuer: this.origin,
      jwks_uri: `${this.origin}/.well-known/openid-configuration/jwks`,
      token_endpoint: `${this.origin}${TOKEN_PATH}`,
      grant_types_supported: ['client_credentials', JWT_BEARER],
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      scopes_supported: CLEARID_SCOPES,
    }
  }
}
