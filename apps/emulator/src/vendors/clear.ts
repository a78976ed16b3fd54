import type { CounterStore } from '../counters.ts'
import { guid, randomToken } from '../crypto.ts'
import { assertInteger, assertText, EmulatorError } from '../errors.ts'
import { fakeTokenValue } from '../faults.ts'
import type { EmulatorRequest, Reply } from '../http.ts'
import type { VendorService } from '../pipeline.ts'
import type {
  ClearControl,
  ClearSecretRegistration,
  EmulatorClock,
  RejectionReason,
} from '../types.ts'

/** Token requests allowed per client secret and UTC day. */
export const CLEAR_DAILY_QUOTA = 288
/** Default token validity of a registered secret, seconds. */
export const CLEAR_DEFAULT_VALIDITY = 86_400
const TOKEN_PATH = '/integration/v1/authz/token'
const PRESIGN = /^\/integration\/v1\/generatePreSign\/([^/]+)$/
const INGEST = /^\/integration\/v1\/ingest\/file\/([^/]+)$/
const STORAGE = /^\/_storage\/[^/]+\/[^/]+$/
const SECRET_HEADER = 'x-clear-client-secret'
const TOKEN_HEADER = 'x-cleartax-auth-token'

interface Secret {
  secret: string
  validity: number | null
  quota: number
  ipAllowed: boolean
  used: number
  /** UTC day (`YYYY-MM-DD`) the `used` count belongs to. */
  day: string
  currentToken?: string
}

interface IssuedToken {
  secret: string
  expiresAt: number | null
  revoked: boolean
}

/** `YYYY-MM-DDTHH:MM:SS+00:00`, the format of `valid_till`. */
export function formatValidTill(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}+00:00`
}

/** One error of the token API's `errors[]` body. */
function tokenError(code: string, message: string, withId = false): Record<string, unknown> {
  return {
    errors: [
      {
        error_code: code,
        error_message: message,
        error_source: 'CLEAR',
        ...(withId ? { error_id: guid() } : {}),
      },
    ],
  }
}

/**
 * Clear Finance Cloud: `GET /integration/v1/authz/token` with `x-clear-client-secret`, where a
 * new token revokes the previous one and a secret may ask 288 times per UTC day; business APIs
 * taking `x-cleartax-auth-token`.
 */
export class ClearService implements VendorService {
  readonly vendor = 'clear' as const
  origin = ''
  readonly #clock: EmulatorClock
  readonly #counters: CounterStore
  readonly #secrets = new Map<string, Secret>()
  readonly #tokens = new Map<string, IssuedToken>()
  #tokenField: 'access_token' | 'access-token' = 'access_token'

  constructor(clock: EmulatorClock, counters: CounterStore) {
    this.#clock = clock
    this.#counters = counters
  }

  control(): ClearControl {
    return {
      registerSecret: (registration) => this.registerSecret(registration),
      removeSecret: (secret) => {
        const entry = this.#secrets.get(secret)
        if (!entry) return false
        this.#revokeCurrent(entry)
        this.#secrets.delete(secret)
        return true
      },
      setIpAllowed: (secret, allowed) => {
        this.#secret(secret).ipAllowed = Boolean(allowed)
      },
      quotaUsed: (secret) => {
        const entry = this.#secret(secret)
        this.#rollDay(entry)
        return entry.used
      },
      configure: (options) => {
        const field = options?.accessTokenField
        if (field !== undefined && field !== 'access_token' && field !== 'access-token') {
          throw new EmulatorError(
            'INVALID_OPTION',
            'accessTokenField must be access_token or access-token',
          )
        }
        if (field) this.#tokenField = field
      },
    }
  }

  registerSecret(registration: ClearSecretRegistration): void {
    if (typeof registration !== 'object' || registration === null) {
      throw new EmulatorError('INVALID_OPTION', 'clear.registerSecret needs an object')
    }
    const secret = assertText(registration.secret, 'clear secret')
    const { validity, quota, ipAllowed } = registration
    if (validity !== undefined && validity !== null) {
      assertInteger(validity, 'clear secret validity (seconds)', 1, 10 * 365 * 86_400)
    }
    if (quota !== undefined) assertInteger(quota, 'clear secret quota', 0, 1_000_000)
    const existing = this.#secrets.get(secret)
    const entry: Secret = existing ?? {
      secret,
      validity: CLEAR_DEFAULT_VALIDITY,
      quota: CLEAR_DAILY_QUOTA,
      ipAllowed: true,
      used: 0,
      day: utcDay(this.#clock.now()),
    }
    if (validity !== undefined) entry.validity = validity
    if (quota !== undefined) entry.quota = quota
    if (ipAllowed !== undefined) entry.ipAllowed = Boolean(ipAllowed)
    this.#secrets.set(secret, entry)
  }

  #secret(secret: string): Secret {
    const entry = this.#secrets.get(secret)
    if (!entry) throw new EmulatorError('UNKNOWN_ENTITY', 'No such Clear secret is registered')
    return entry
  }

  #rollDay(entry: Secret): void {
    const today = utcDay(this.#clock.now())
    if (entry.day !== today) {
      entry.day = today
      entry.used = 0
    }
  }

  #revokeCurrent(entry: Secret): boolean {
    const current = entry.currentToken ? this.#tokens.get(entry.currentToken) : undefined
    if (!current || current.revoked) return false
    current.revoked = true
    return true
  }

  revokeTokens(): void {
    for (const token of this.#tokens.values()) token.revoked = true
  }

  expireTokens(): void {
    const now = this.#clock.now()
    for (const token of this.#tokens.values()) {
      token.expiresAt = token.expiresAt === null ? now : Math.min(token.expiresAt, now)
    }
  }

  targetOf(pathname: string): 'token' | 'api' {
    return pathname === TOKEN_PATH ? 'token' : 'api'
  }

  grantOf(): string {
    return 'client_secret'
  }

  errorBody(target: 'token' | 'api', status: number): unknown {
    if (target === 'token') {
      return status === 429
        ? tokenError('RATE_LIMIT_EXCEEDED', 'Too many requests')
        : tokenError('INTERNAL_SERVER_ERROR', 'Something went wrong', true)
    }
    return status === 429
      ? { errorCode: 'API_QUOTA_EXCEEDED', errorMessage: 'API quota exceeded' }
      : { errorCode: 'INTERNAL_ERROR', errorMessage: 'Something went wrong' }
  }

  tokenAnswer(variant: 'normal' | 'missing-token' | 'expires-in-text'): Record<string, unknown> {
    const answer: Record<string, unknown> = {
      [this.#tokenField]: fakeTokenValue(),
      valid_till:
        variant === 'expires-in-text'
          ? 'tomorrow'
          : formatValidTill(this.#clock.now() + 86_400_000),
    }
    if (variant === 'missing-token') delete answer[this.#tokenField]
    return answer
  }

  handle(request: EmulatorRequest, reply: Reply): undefined {
    const path = request.pathname
    if (path === TOKEN_PATH) return this.#token(request, reply)
    if (STORAGE.test(path)) {
      // The pre-signed upload target: authorised by its URL, like S3.
      if (request.method === 'PUT') reply.empty(200)
      else reply.empty(405, { Allow: 'PUT' })
      return
    }
    const presign = PRESIGN.exec(path)
    if (presign) return this.#presign(request, reply, decodeURIComponent(presign[1]!))
    const ingest = INGEST.exec(path)
    if (ingest) return this.#ingest(request, reply, decodeURIComponent(ingest[1]!))
    reply.json(404, { errorCode: 'NOT_FOUND', errorMessage: 'No such API' })
  }

  #token(request: EmulatorRequest, reply: Reply): undefined {
    if (request.method !== 'GET') {
      reply.json(405, tokenError('METHOD_NOT_ALLOWED', 'Use GET'), { Allow: 'GET' })
      return
    }
    const secret = request.header(SECRET_HEADER)?.trim()
    if (!secret || secret === 'null') {
      reply.json(401, tokenError('INVALID_CLIENT_SECRET', 'The client secret header is missing'))
      return
    }
    const entry = this.#secrets.get(secret)
    if (!entry) {
      reply.json(401, tokenError('INVALID_CLIENT_SECRET', 'The client secret is invalid'))
      return
    }
    if (!entry.ipAllowed) {
      reply.json(
        401,
        tokenError('IP_NOT_ALLOWED', 'The caller IP address is not allowed for this client'),
      )
      return
    }
    this.#rollDay(entry)
    if (entry.used >= entry.quota) {
      this.#counters.of('clear').quotaRejected += 1
      // No Retry-After: the documented reset is the next 00:00 UTC.
      reply.json(
        429,
        tokenError(
          'RATE_LIMIT_EXCEEDED',
          `The daily limit of ${entry.quota} token requests for this client secret is reached; it resets at 00:00 UTC`,
        ),
      )
      return
    }
    entry.used += 1
    // Issuing revokes the previous token of the secret, even if it had not expired.
    if (this.#revokeCurrent(entry)) this.#counters.of('clear').revokedByReissue += 1
    const now = this.#clock.now()
    const token = randomToken(48)
    const expiresAt =
      entry.validity === null ? null : Math.floor(now / 1000) * 1000 + entry.validity * 1000
    this.#prune(now)
    this.#tokens.set(token, { secret, expiresAt, revoked: false })
    entry.currentToken = token
    this.#counters.of('clear').tokensIssued += 1
    reply.json(200, {
      [this.#tokenField]: token,
      valid_till: expiresAt === null ? null : formatValidTill(expiresAt),
    })
  }

  #prune(now: number): void {
    if (this.#tokens.size < 10_000) return
    for (const [token, record] of this.#tokens) {
      if (record.revoked || (record.expiresAt !== null && record.expiresAt < now)) {
        this.#tokens.delete(token)
      }
    }
  }

  /** Checks `x-cleartax-auth-token`; answers 401 and returns false when it is not live. */
  #authorise(request: EmulatorRequest, reply: Reply): boolean {
    const token = request.header(TOKEN_HEADER)?.trim()
    const refuse = (reason: RejectionReason, message: string) => {
      this.#counters.reject('clear', reason)
      reply.json(401, { errorCode: 'AUTHORIZATION_FAILED', errorMessage: message })
      return false
    }
    if (!token) return refuse('missing', 'The auth token is missing')
    const record = this.#tokens.get(token)
    if (!record) return refuse('invalid', 'The auth token is invalid')
    if (record.revoked) return refuse('revoked', 'The auth token is no longer valid')
    if (record.expiresAt !== null && this.#clock.now() >= record.expiresAt) {
      return refuse('expired', 'The auth token has expired')
    }
    return true
  }

  #presign(request: EmulatorRequest, reply: Reply, type: string): undefined {
    if (request.method !== 'GET') {
      reply.json(
        405,
        { errorCode: 'METHOD_NOT_ALLOWED', errorMessage: 'Use GET' },
        { Allow: 'GET' },
      )
      return
    }
    if (!this.#authorise(request, reply)) return
    const fileName = request.query.get('fileName')
    if (type !== 'sales' && type !== 'purchase') {
      reply.json(400, {
        errorCode: 'INVALID_REQUEST',
        errorMessage: 'Type must be sales or purchase',
      })
      return
    }
    if (!fileName) {
      reply.json(400, { errorCode: 'INVALID_REQUEST', errorMessage: 'fileName is required' })
      return
    }
    this.#counters.of('clear').apiAccepted += 1
    reply.json(200, {
      preSignedS3Url: `${this.origin}/_storage/${guid()}/${encodeURIComponent(fileName)}`,
      fileName,
      type,
    })
  }

  #ingest(request: EmulatorRequest, reply: Reply, templateType: string): undefined {
    if (request.method !== 'POST') {
      reply.json(
        405,
        { errorCode: 'METHOD_NOT_ALLOWED', errorMessage: 'Use POST' },
        { Allow: 'POST' },
      )
      return
    }
    if (!this.#authorise(request, reply)) return
    const body = request.json()
    if (typeof body !== 'object' || body === null) {
      reply.json(400, { errorCode: 'INVALID_REQUEST', errorMessage: 'A JSON body is required' })
      return
    }
    this.#counters.of('clear').apiAccepted += 1
    reply.json(200, { activityId: guid(), templateType, status: 'QUEUED' })
  }
}

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}
