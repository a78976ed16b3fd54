import { readFileSync } from 'node:fs'
import {
  headerRecord,
  type MockAnswer,
  mockTokenEndpoint,
  type RecordedRequest,
} from '@tokenkeeper/auth-core/testing'
import type { MockAgent } from 'undici'

// Clear's own test helpers: its URLs, canned answers and a stateful server. The generic mocks
// come from `@tokenkeeper/auth-core/testing`.

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

/** A request to Clear's token endpoint; `body` is `undefined` when it had none. */
export interface TokenRequest extends Omit<RecordedRequest, 'body'> {
  readonly body: string | undefined
}

/**
 * Clear's token endpoint (a GET) on the mock agent, answering from `answer(index, request)`;
 * records every request. Persistent, so the number of calls is what the tests count.
 */
export function tokenEndpoint(
  agent: MockAgent,
  answer: (index: number, request: RecordedRequest) => MockAnswer,
  origin = SANDBOX,
): { readonly requests: TokenRequest[]; readonly count: number } {
  const endpoint = mockTokenEndpoint(
    agent,
    { url: `${origin}${TOKEN_PATH}`, method: 'GET' },
    answer,
  )
  return {
    get requests() {
      // The shared recorder reads a missing body as ''; undici sends an empty body as none too.
      return endpoint.requests.map((request) => ({
        ...request,
        body: request.body === '' ? undefined : request.body,
      }))
    },
    get count() {
      return endpoint.count
    },
  }
}

/** `{ access_token: 'clear-token-N', valid_till }` for the Nth request, N from 1. */
export function numberedTokens(validTill: (index: number) => string | null) {
  return (index: number): MockAnswer => ({
    body: { access_token: `clear-token-${index + 1}`, valid_till: validTill(index) },
  })
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
  const origin = options.origin ?? SANDBOX
  const lifetime = options.lifetime === undefined ? 3_600_000 : options.lifetime
  const quota = options.quota ?? 288
  const tokens = tokenEndpoint(agent, issue, origin)
  const state = {
    issued: [] as string[],
    get tokenRequests() {
      return tokens.requests
    },
    apiRequests: [] as Array<Pick<RecordedRequest, 'method' | 'path' | 'headers'>>,
    current: undefined as string | undefined,
    day: -1,
    usedToday: 0,
  }

  function issue(index: number, request: RecordedRequest): MockAnswer {
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
          lifetime === null ? null : new Date(now + lifetime).toISOString().replace('Z', '+00:00'),
      },
    }
  }

  agent
    .get(origin)
    .intercept({
      path: (path) => path.startsWith('/integration/v1/generatePreSign/'),
      method: 'GET',
    })
    .reply((request) => {
      const headers = headerRecord(request.headers)
      state.apiRequests.push({ method: request.method, path: request.path, headers })
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
