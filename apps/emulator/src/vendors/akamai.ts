import type { CounterStore } from '../counters.ts'
import { guid, randomToken } from '../crypto.ts'
import { assertInteger, assertText, EmulatorError } from '../errors.ts'
import { fakeTokenValue } from '../faults.ts'
import type { EmulatorRequest, Reply } from '../http.ts'
import type { VendorService } from '../pipeline.ts'
import type {
  AkamaiClientRegistration,
  AkamaiControl,
  EmulatorClock,
  RejectionReason,
} from '../types.ts'
import { parseBasic } from './shared.ts'

/** The one scope Webhooks v3 accepts. */
export const AKAMAI_WEBHOOKS_SCOPE = '*:webhooks/**'
const TOKEN = /^\/([^/]+)\/login\/token$/
const WEBHOOKS =
  /^\/([^/]+)\/webhooks\/subscriptions(?:\/([^/]+)(?:\/(events)(?:\/([^/]+)(?:\/(history))?)?)?)?$/
const EVENT_TYPES = new Set(['entityCreated', 'entityUpdated', 'entityDeleted'])
const FORBIDDEN = { errors: 'Forbidden' }
const NOT_FOUND = { errors: 'Not Found' }

interface Client {
  customerId: string
  clientId: string
  clientSecret: string
  scopes: string[]
  tokenLifetime: number
}

interface IssuedToken {
  customerId: string
  scopes: string[]
  expiresAt: number
  revoked: boolean
}

interface Subscription {
  id: string
  customerId: string
  title: string
  endpoint: string
  enabled: boolean
  events: string[]
  createdAt: string
  updatedAt: string
}

const key = (customerId: string, clientId: string) => `${customerId}\u0000${clientId}`

/**
 * Akamai Identity Cloud: `POST /{customerId}/login/token` (client credentials with HTTP Basic,
 * opaque tokens) and Webhooks v3 subscriptions, which answer 403 `{"errors":"Forbidden"}` for
 * any token they do not accept.
 */
export class AkamaiService implements VendorService {
  readonly vendor = 'akamai' as const
  origin = ''
  readonly #clock: EmulatorClock
  readonly #counters: CounterStore
  readonly #clients = new Map<string, Client>()
  readonly #tokens = new Map<string, IssuedToken>()
  readonly #subscriptions = new Map<string, Map<string, Subscription>>()

  constructor(clock: EmulatorClock, counters: CounterStore) {
    this.#clock = clock
    this.#counters = counters
  }

  control(): AkamaiControl {
    return {
      registerClient: (registration) => this.registerClient(registration),
      removeClient: (customerId, clientId) => this.#clients.delete(key(customerId, clientId)),
      setTokenLifetime: (customerId, clientId, seconds) => {
        const client = this.#clients.get(key(customerId, clientId))
        if (!client) {
          throw new EmulatorError(
            'UNKNOWN_ENTITY',
            'No such Akamai configuration client is registered',
          )
        }
        client.tokenLifetime = assertInteger(seconds, 'akamai tokenLifetime (seconds)', 60, 3600)
      },
      subscriptions: (customerId) =>
        [...(this.#subscriptions.get(customerId)?.values() ?? [])].map((subscription) =>
          this.#present(subscription),
        ),
    }
  }

  registerClient(registration: AkamaiClientRegistration): void {
    if (typeof registration !== 'object' || registration === null) {
      throw new EmulatorError('INVALID_OPTION', 'akamai.registerClient needs an object')
    }
    const customerId = assertText(registration.customerId, 'akamai customerId')
    if (customerId.includes('/')) {
      throw new EmulatorError('INVALID_OPTION', 'akamai customerId must not contain "/"')
    }
    const clientId = assertText(registration.clientId, 'akamai clientId')
    const clientSecret = assertText(registration.clientSecret, 'akamai clientSecret')
    if (!Array.isArray(registration.scopes) || registration.scopes.length === 0) {
      throw new EmulatorError('INVALID_OPTION', 'akamai scopes must be a non-empty array')
    }
    const scopes = registration.scopes.map((scope) => assertText(scope, 'akamai scope'))
    const tokenLifetime = assertInteger(
      registration.tokenLifetime ?? 3600,
      'akamai tokenLifetime (seconds)',
      60,
      3600,
    )
    this.#clients.set(key(customerId, clientId), {
      customerId,
      clientId,
      clientSecret,
      scopes,
      tokenLifetime,
    })
  }

  revokeTokens(): void {
    for (const token of this.#tokens.values()) token.revoked = true
  }

  expireTokens(): void {
    const now = this.#clock.now()
    for (const token of this.#tokens.values()) token.expiresAt = Math.min(token.expiresAt, now)
  }

  targetOf(pathname: string): 'token' | 'api' {
    return TOKEN.test(pathname) ? 'token' : 'api'
  }

  grantOf(request: EmulatorRequest): string | undefined {
    return request.form()?.get('grant_type') ?? undefined
  }

  errorBody(target: 'token' | 'api', status: number): unknown {
    if (target === 'token') {
      return status === 429
        ? { error: 'too_many_requests', error_description: 'Rate limit exceeded' }
        : { error: 'server_error', error_description: 'Unexpected error' }
    }
    return { errors: status === 429 ? 'Too Many Requests' : 'Internal Server Error' }
  }

  tokenAnswer(variant: 'normal' | 'missing-token' | 'expires-in-text'): Record<string, unknown> {
    const answer: Record<string, unknown> = {
      access_token: fakeTokenValue(),
      expires_in: variant === 'expires-in-text' ? 'one hour' : 3600,
      token_type: 'Bearer',
      scope: AKAMAI_WEBHOOKS_SCOPE,
    }
    if (variant === 'missing-token') delete answer.access_token
    return answer
  }

  handle(request: EmulatorRequest, reply: Reply): undefined {
    const token = TOKEN.exec(request.pathname)
    if (token) return this.#token(request, reply, decodeURIComponent(token[1]!))
    const webhooks = WEBHOOKS.exec(request.pathname)
    if (webhooks) {
      const [, customerId, subscriptionId, events, eventId, history] = webhooks
      return this.#webhooks(request, reply, {
        customerId: decodeURIComponent(customerId!),
        subscriptionId:
          subscriptionId === undefined ? undefined : decodeURIComponent(subscriptionId),
        events: events !== undefined,
        eventId: eventId === undefined ? undefined : decodeURIComponent(eventId),
        history: history !== undefined,
      })
    }
    reply.json(404, NOT_FOUND)
  }

  // --- token endpoint -------------------------------------------------------------------

  #token(request: EmulatorRequest, reply: Reply, customerId: string): undefined {
    const fail = (status: number, error: string, description: string, headers = {}): undefined => {
      reply.json(status, { error, error_description: description }, headers)
    }
    if (request.method !== 'POST') {
      return fail(405, 'invalid_request', 'The token endpoint only accepts POST')
    }
    const challenge = { 'WWW-Authenticate': `Basic realm="${customerId}"` }
    // RFC 6749 §2.3.1: Basic, each part form-encoded before base64 (ids and secrets contain ':').
    const credentials = parseBasic(request.header('authorization'))
    if (!credentials) {
      return fail(401, 'invalid_client', 'HTTP Basic client authentication is required', challenge)
    }
    const client = this.#clients.get(key(customerId, credentials.user))
    if (!client || client.clientSecret !== credentials.password) {
      return fail(401, 'invalid_client', 'Client authentication failed', challenge)
    }
    const form = request.form()
    if (!form) {
      return fail(400, 'invalid_request', 'The body must be application/x-www-form-urlencoded')
    }
    const grant = form.get('grant_type')
    if (!grant) return fail(400, 'invalid_request', 'grant_type is required')
    if (grant !== 'client_credentials') {
      return fail(400, 'unsupported_grant_type', 'Only client_credentials is supported')
    }
    const scope = form.get('scope')?.trim()
    if (!scope) return fail(400, 'invalid_request', 'scope is required')
    const scopes = scope.split(/\s+/)
    if (!scopes.every((requested) => client.scopes.includes(requested))) {
      return fail(400, 'invalid_scope', 'The requested scope is not allowed for this client')
    }
    const now = this.#clock.now()
    const accessToken = randomToken(32)
    this.#prune(now)
    this.#tokens.set(accessToken, {
      customerId,
      scopes,
      expiresAt: now + client.tokenLifetime * 1000,
      revoked: false,
    })
    this.#counters.of('akamai').tokensIssued += 1
    reply.json(200, {
      access_token: accessToken,
      expires_in: client.tokenLifetime,
      token_type: 'Bearer',
      scope: scopes.join(' '),
    })
  }

  #prune(now: number): void {
    if (this.#tokens.size < 10_000) return
    for (const [token, record] of this.#tokens)
      if (record.expiresAt < now) this.#tokens.delete(token)
  }

  // --- Webhooks v3 ----------------------------------------------------------------------

  /** Any token problem is a 403 `{"errors":"Forbidden"}` on Akamai's APIs. */
  #authorise(request: EmulatorRequest, reply: Reply, customerId: string): boolean {
    const refuse = (reason: RejectionReason) => {
      this.#counters.reject('akamai', reason)
      reply.json(403, FORBIDDEN)
      return false
    }
    const token = request.bearer()
    if (!token) return refuse('missing')
    const record = this.#tokens.get(token)
    if (!record) return refuse('invalid')
    if (record.revoked) return refuse('revoked')
    if (this.#clock.now() >= record.expiresAt) return refuse('expired')
    if (record.customerId !== customerId || !record.scopes.includes(AKAMAI_WEBHOOKS_SCOPE)) {
      return refuse('forbidden')
    }
    return true
  }

  #webhooks(
    request: EmulatorRequest,
    reply: Reply,
    route: {
      customerId: string
      subscriptionId: string | undefined
      events: boolean
      eventId: string | undefined
      history: boolean
    },
  ): undefined {
    if (!this.#authorise(request, reply, route.customerId)) return
    const accept = (
      status: number,
      body?: unknown,
      headers?: Record<string, string>,
    ): undefined => {
      this.#counters.of('akamai').apiAccepted += 1
      if (body === undefined) reply.empty(status, headers)
      else reply.json(status, body, headers)
    }
    const store = this.#store(route.customerId)
    const base = `/${encodeURIComponent(route.customerId)}/webhooks/subscriptions`
    const method = request.method

    if (route.subscriptionId === undefined) {
      if (method === 'GET') {
        return accept(200, {
          _embedded: { subscriptions: [...store.values()].map((entry) => this.#present(entry)) },
          _links: { self: { href: base } },
        })
      }
      if (method === 'POST') {
        const problems = validateSubscription(request.json(), false)
        if (problems.length > 0) return accept(400, { errors: problems })
        const body = request.json() as Record<string, unknown>
        if ([...store.values()].some((entry) => entry.title === body.title)) {
          return accept(409, { errors: 'A subscription with this title already exists' })
        }
        const now = new Date(this.#clock.now()).toISOString()
        const subscription: Subscription = {
          id: guid(),
          customerId: route.customerId,
          title: body.title as string,
          endpoint: body.endpoint as string,
          enabled: (body.enabled as boolean | undefined) ?? true,
          events: [...(body.events as string[])],
          createdAt: now,
          updatedAt: now,
        }
        store.set(subscription.id, subscription)
        return accept(201, this.#present(subscription), { Location: `${base}/${subscription.id}` })
      }
      return accept(405, { errors: 'Method Not Allowed' }, { Allow: 'GET, POST' })
    }

    const subscription = store.get(route.subscriptionId)
    if (!subscription) return accept(404, NOT_FOUND)

    if (route.events) {
      if (method !== 'GET') return accept(405, { errors: 'Method Not Allowed' }, { Allow: 'GET' })
      // No events are ever produced by the emulator: the list is empty and any event is unknown.
      if (route.eventId !== undefined) return accept(404, NOT_FOUND)
      return accept(200, {
        _embedded: { events: [] },
        _links: { self: { href: `${base}/${subscription.id}/events` } },
      })
    }

    if (method === 'GET') return accept(200, this.#present(subscription))
    if (method === 'DELETE') {
      store.delete(subscription.id)
      return accept(204)
    }
    if (method === 'PATCH') {
      const problems = validateSubscription(request.json(), true)
      if (problems.length > 0) return accept(400, { errors: problems })
      const body = request.json() as Record<string, unknown>
      if (
        typeof body.title === 'string' &&
        [...store.values()].some(
          (entry) => entry.id !== subscription.id && entry.title === body.title,
        )
      ) {
        return accept(409, { errors: 'A subscription with this title already exists' })
      }
      if (typeof body.title === 'string') subscription.title = body.title
      if (typeof body.endpoint === 'string') subscription.endpoint = body.endpoint
      if (typeof body.enabled === 'boolean') subscription.enabled = body.enabled
      if (Array.isArray(body.events)) subscription.events = [...(body.events as string[])]
      subscription.updatedAt = new Date(this.#clock.now()).toISOString()
      return accept(200, this.#present(subscription))
    }
    return accept(405, { errors: 'Method Not Allowed' }, { Allow: 'GET, PATCH, DELETE' })
  }

  #store(customerId: string): Map<string, Subscription> {
    let store = this.#subscriptions.get(customerId)
    if (!store) {
      store = new Map()
      this.#subscriptions.set(customerId, store)
    }
    return store
  }

  #present(subscription: Subscription): Record<string, unknown> {
    return {
      _links: {
        self: {
          href: `/${encodeURIComponent(subscription.customerId)}/webhooks/subscriptions/${subscription.id}`,
        },
      },
      ...subscription,
      events: [...subscription.events],
    }
  }
}

/** JSON-schema-like checks of a subscription body; returns the problems found. */
function validateSubscription(body: unknown, partial: boolean): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return ['The body must be a JSON object']
  }
  const candidate = body as Record<string, unknown>
  const problems: string[] = []
  const present = (name: string) => candidate[name] !== undefined
  if (present('title') || !partial) {
    if (
      typeof candidate.title !== 'string' ||
      candidate.title.length < 2 ||
      candidate.title.length > 200
    ) {
      problems.push('title must be a string of 2 to 200 characters')
    }
  }
  if (present('endpoint') || !partial) {
    if (typeof candidate.endpoint !== 'string' || candidate.endpoint.length < 1) {
      problems.push('endpoint must be a non-empty string')
    }
  }
  if (present('events') || !partial) {
    if (
      !Array.isArray(candidate.events) ||
      !candidate.events.every((event) => typeof event === 'string' && EVENT_TYPES.has(event))
    ) {
      problems.push('events must be an array of entityCreated, entityUpdated, entityDeleted')
    }
  }
  if (present('enabled') && typeof candidate.enabled !== 'boolean') {
    problems.push('enabled must be a boolean')
  }
  return problems
}
