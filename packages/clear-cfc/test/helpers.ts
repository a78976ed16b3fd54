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
