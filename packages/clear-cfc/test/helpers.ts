import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { readFileSync } from 'node:fs'
import { TOKEN_CHANNELS, type TokenEvent } from '@tokenkeeper/auth-core'
import { MockAgent } from 'undici'

/** India sandbox, the default base URL of these tests. */
export const SANDBOX = 'https://api-sandbox.clear.in'
export const TOKEN_PATH = '/integration/v1/authz/token'
/** Recognisable values that must never show up in any output. */
export const CLIENT_SECRET = 'SECRET-sentinel-clear-4711/+=='
export const PORTAL_TOKEN = 'PORTAL-sentinel-token-9090'

/** Reads a file of `src/__fixtures__`. */
export function fixture(name: string): string {
  return readFileSync(new URL(`../src/__fixtures__/${name}`, import.meta.url), 'utf8')
}

/** A MockAgent that refuses real network access. */
export function mockAgent(): MockAgent {
  const agent = new MockAgent()
  agent.disableNetConnect()
  return agent
}

/** One recorded request to a mocked endpoint. */
export interface RecordedRequest {
  method: string
  path: string
  headers: Record<string, string>
  body: unknown
}

/** What a mocked endpoint answers. */
export interface MockAnswer {
  status?: number
  body: unknown
  headers?: Record<string, string>
}

/**
 * Clear's token endpoint on the mock agent, answering from `answer(index, request)`; records
 * every request. Persistent, so the number of calls is what the tests count.
 */
export function tokenEndpoint(
  agent: MockAgent,
  answer: (index: number, request: RecordedRequest) => MockAnswer,
  origin = SANDBOX,
) {
  const requests: RecordedRequest[] = []
  agent
    .get(origin)
    .intercept({ path: TOKEN_PATH, method: 'GET' })
    .reply((options) => {
      const request: RecordedRequest = {
        method: options.method,
        path: options.path,
        headers: normaliseHeaders(options.headers),
        body: options.body,
      }
      requests.push(request)
      const result = answer(requests.length - 1, request)
      return {
        statusCode: result.status ?? 200,
        data: typeof result.body === 'string' ? result.body : JSON.stringify(result.body),
        responseOptions: { headers: { 'content-type': 'application/json', ...result.headers } },
      }
    })
    .persist()
  return {
    requests,
    get count() {
      return requests.length
    },
  }
}

/** `{ access_token: 'clear-token-N', valid_till }` for the Nth request, N from 1. */
export function numberedTokens(validTill: (index: number) => string | null) {
  return (index: number): MockAnswer => ({
    body: { access_token: `clear-token-${index + 1}`, valid_till: validTill(index) },
  })
}

/** A business API path on the mock agent answering from `answer`; records the token header. */
export function businessApi(
  agent: MockAgent,
  path: string,
  answer: (index: number, request: RecordedRequest) => MockAnswer,
  origin = SANDBOX,
  method = 'GET',
) {
  const requests: RecordedRequest[] = []
  agent
    .get(origin)
    .intercept({ path, method })
    .reply((options) => {
      const request: RecordedRequest = {
        method: options.method,
        path: options.path,
        headers: normaliseHeaders(options.headers),
        body: options.body,
      }
      requests.push(request)
      const result = answer(requests.length - 1, request)
      return {
        statusCode: result.status ?? 200,
        data: typeof result.body === 'string' ? result.body : JSON.stringify(result.body),
        responseOptions: { headers: { 'content-type': 'application/json', ...result.headers } },
      }
    })
    .persist()
  return requests
}

/** Header names in lower case, from any of the shapes undici hands a mock. */
export function normaliseHeaders(headers: unknown): Record<string, string> {
  const result: Record<string, string> = {}
  if (!headers) return result
  if (typeof (headers as Headers).forEach === 'function' && !Array.isArray(headers)) {
    ;(headers as Headers).forEach((value, name) => {
      result[name.toLowerCase()] = value
    })
    return result
  }
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const [name, value] of headers as [string, string][])
        result[String(name).toLowerCase()] = String(value)
      return result
    }
    for (let index = 0; index + 1 < headers.length; index += 2) {
      result[String(headers[index]).toLowerCase()] = String(headers[index + 1])
    }
    return result
  }
  for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
    result[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return result
}

/** Collects every diagnostics_channel token event until `stop()`. */
export function captureEvents() {
  const events: Array<{ name: string; event: TokenEvent }> = []
  const handlers = Object.entries(TOKEN_CHANNELS).map(([name, channel]) => {
    const handler = (message: unknown) => events.push({ name, event: message as TokenEvent })
    subscribe(channel, handler)
    return () => unsubscribe(channel, handler)
  })
  return {
    events,
    stop: () => {
      for (const off of handlers) off()
    },
  }
}

/** Records unhandled rejections until `stop()`. */
export function trackUnhandledRejections() {
  const rejections: unknown[] = []
  const handler = (reason: unknown) => rejections.push(reason)
  process.on('unhandledRejection', handler)
  return { rejections, stop: () => process.off('unhandledRejection', handler) }
}

/** Lets MockAgent replies (real I/O callbacks) run. */
export function settleIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** Epoch ms of an ISO time, for readable expectations. */
export const at = (iso: string) => Date.parse(iso)

/** Options of {@link clearServer}. */
export interface ClearServerOptions {
  /** The server's clock (share the client's ManualClock). */
  clock: { now(): number }
  /** Token lifetime in ms, or `null` for "never expires". Default one hour. */
  lifetime?: number | null
  /** Token requests allowed per UTC day. Default 288. */
  quota?: number
  /** `Retry-After` sent with 429, if any. */
  retryAfter?: string
  /** Answers instead of the normal behaviour while it returns something (fault injection). */
  fault?: (index: number) => MockAnswer | undefined
  origin?: string
  /** Business paths that answer 401 whatever the token (a product the API client lacks). */
  deniedPaths?: string[]
}

/**
 * A stateful Clear on the mock agent: each token request issues `clear-token-N` and revokes the
 * previous one; a daily quota resetting at 00:00 UTC; business APIs under
 * `/integration/v1/generatePreSign/` accept only the current token (401 otherwise).
 */
export function clearServer(agent: MockAgent, options: ClearServerOptions) {
  const lifetime = options.lifetime === undefined ? 3_600_000 : options.lifetime
  const quota = options.quota ?? 288
  const state = {
    issued: [] as string[],
    tokenRequests: [] as RecordedRequest[],
    apiRequests: [] as RecordedRequest[],
    current: undefined as string | undefined,
    day: -1,
    usedToday: 0,
  }
  tokenEndpointState(
    agent,
    state,
    (index, request) => {
      const fault = options.fault?.(index)
      if (fault) return fault
      if (request.headers['x-clear-client-secret'] !== CLIENT_SECRET) {
        return { status: 401, body: fixture('error-401-invalid-secret.json') }
      }
      const now = options.clock.now()
      const day = Math.floor(now / 86_400_000)
      if (day !== state.day) {
        state.day = day
        state.usedToday = 0
      }
      if (++state.usedToday > quota) {
        return {
          status: 429,
          body: fixture('error-429-quota.json'),
          ...(options.retryAfter ? { headers: { 'retry-after': options.retryAfter } } : {}),
        }
      }
      const token = `clear-token-${state.issued.length + 1}`
      state.issued.push(token)
      state.current = token // issuing revokes the previous token
      return {
        body: {
          access_token: token,
          valid_till:
            lifetime === null
              ? null
              : new Date(now + lifetime).toISOString().replace('Z', '+00:00'),
        },
      }
    },
    options.origin,
  )
  agent
    .get(options.origin ?? SANDBOX)
    .intercept({
      path: (path) => path.startsWith('/integration/v1/generatePreSign/'),
      method: 'GET',
    })
    .reply((request) => {
      const headers = normaliseHeaders(request.headers)
      state.apiRequests.push({
        method: request.method,
        path: request.path,
        headers,
        body: request.body,
      })
      const token = headers['x-cleartax-auth-token']
      const denied = options.deniedPaths?.some((prefix) => request.path.startsWith(prefix))
      if (denied || token === undefined || token !== state.current) {
        return { statusCode: 401, data: fixture('business-401.json') }
      }
      return { statusCode: 200, data: { url: 'https://storage.example.com/upload?signature=abc' } }
    })
    .persist()
  return state
}

function tokenEndpointState(
  agent: MockAgent,
  state: { tokenRequests: RecordedRequest[] },
  answer: (index: number, request: RecordedRequest) => MockAnswer,
  origin = SANDBOX,
) {
  agent
    .get(origin)
    .intercept({ path: TOKEN_PATH, method: 'GET' })
    .reply((options) => {
      const request: RecordedRequest = {
        method: options.method,
        path: options.path,
        headers: normaliseHeaders(options.headers),
        body: options.body,
      }
      state.tokenRequests.push(request)
      const result = answer(state.tokenRequests.length - 1, request)
      return {
        statusCode: result.status ?? 200,
        data: typeof result.body === 'string' ? result.body : JSON.stringify(result.body),
        responseOptions: { headers: { 'content-type': 'application/json', ...result.headers } },
      }
    })
    .persist()
}
