/**
 * Test helpers for code built on tokenkeeper (`@tokenkeeper/auth-core/testing`): a token endpoint
 * on an undici `MockAgent` that records what it receives, a recorder of the token events, and a
 * tracker of unhandled rejections. Offline and deterministic; pair them with `ManualClock`.
 *
 * @example
 * const agent = createMockAgent()
 * const endpoint = mockTokenEndpoint(agent, { url: 'https://auth.example.com/token' }, (index) => ({
 *   body: { access_token: `token-${index + 1}`, expires_in: 3600 },
 * }))
 * const client = createMyVendor({ dispatcher: agent, clock: new ManualClock() })
 * await client.getToken()
 * expect(endpoint.requests).toHaveLength(1)
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { MockAgent } from 'undici'
import { TOKEN_CHANNELS, type TokenEvent } from './events.ts'
import type { Logger } from './options.ts'

export { flushMicrotasks, ManualClock } from './clock.ts'

/** A `MockAgent` that refuses real network connections. */
export function createMockAgent(): MockAgent {
  const agent = new MockAgent()
  agent.disableNetConnect()
  return agent
}

/** What a mocked endpoint received. Header names are lower case. */
export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  /** The body as text; `''` both for no body and an empty one (undici sends neither). */
  readonly body: string
  /** The body parsed as `application/x-www-form-urlencoded`. */
  readonly form: URLSearchParams
}

/** How a mocked endpoint answers one request. `'reset'` fails it like a reset connection. */
export type MockAnswer =
  | { status?: number; body: unknown; headers?: Record<string, string> }
  | 'reset'

/** Where a mocked endpoint listens. */
export interface MockEndpointOptions {
  /** Absolute URL of the endpoint; its query string, if any, must match too. */
  url: string
  /** Default `POST`. */
  method?: string
}

/** A mocked endpoint: the requests it got, in order. */
export interface MockEndpoint {
  readonly requests: RecordedRequest[]
  /** Number of requests received. */
  readonly count: number
}

/**
 * Answers requests to `options.url` on `agent` with `answer(index, request)`, for as many requests
 * as come, and records them. Bodies that are not strings are sent as JSON.
 */
export function mockTokenEndpoint(
  agent: MockAgent,
  options: MockEndpointOptions,
  answer: (index: number, request: RecordedRequest) => MockAnswer,
): MockEndpoint {
  const url = new URL(options.url)
  const requests: RecordedRequest[] = []
  agent
    .get(url.origin)
    .intercept({ path: `${url.pathname}${url.search}`, method: options.method ?? 'POST' })
    .reply((request) => {
      const body = bodyText(request.body)
      const recorded: RecordedRequest = {
        method: request.method,
        path: request.path,
        headers: headerRecord(request.headers),
        body,
        form: new URLSearchParams(body),
      }
      requests.push(recorded)
      const result = answer(requests.length - 1, recorded)
      if (result === 'reset') {
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
      }
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

/** Header names in lower case, whatever shape undici's dispatch options used. */
export function headerRecord(headers: unknown): Record<string, string> {
  const result: Record<string, string> = {}
  if (!headers) return result
  const add = (name: unknown, value: unknown) => {
    result[String(name).toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const [name, value] of headers as [string, string][]) add(name, value)
    } else {
      for (let index = 0; index + 1 < headers.length; index += 2) {
        add(headers[index], headers[index + 1])
      }
    }
  } else if (Symbol.iterator in Object(headers)) {
    // Headers, Map or another iterable of pairs.
    for (const [name, value] of headers as Iterable<[string, string]>) add(name, value)
  } else {
    for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
      if (value !== undefined) add(name, value)
    }
  }
  return result
}

function bodyText(body: unknown): string {
  if (body === undefined || body === null) return ''
  if (typeof body === 'string') return body
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8')
  return String(body)
}

/** The token events published while recording (see `TOKEN_CHANNELS`). */
export interface EventRecorder {
  readonly events: Array<{ name: keyof typeof TOKEN_CHANNELS; event: TokenEvent }>
  /** Stops recording. */
  stop(): void
}

/** Records every token event on `node:diagnostics_channel` until `stop()`. */
export function captureTokenEvents(): EventRecorder {
  const events: EventRecorder['events'] = []
  const stops = (Object.keys(TOKEN_CHANNELS) as Array<keyof typeof TOKEN_CHANNELS>).map((name) => {
    const channel = TOKEN_CHANNELS[name]
    const handler = (message: unknown) => events.push({ name, event: message as TokenEvent })
    subscribe(channel, handler)
    return () => unsubscribe(channel, handler)
  })
  return {
    events,
    stop: () => {
      for (const stop of stops) stop()
    },
  }
}

/** Resolves with the next event published on one token channel. */
export function nextTokenEvent(name: keyof typeof TOKEN_CHANNELS): Promise<TokenEvent> {
  return new Promise((resolve) => {
    const channel = TOKEN_CHANNELS[name]
    const handler = (message: unknown) => {
      unsubscribe(channel, handler)
      resolve(message as TokenEvent)
    }
    subscribe(channel, handler)
  })
}

/**
 * Lets pending I/O callbacks run (`setImmediate` turns), e.g. a `MockAgent` reply started by a
 * timer that `ManualClock.advance` fired. `flushMicrotasks` alone does not reach them.
 */
export async function settleIo(turns = 1): Promise<void> {
  for (let turn = 0; turn < turns; turn++) await new Promise((resolve) => setImmediate(resolve))
}

/** A logger for tests that records every line (level, message, fields as JSON). */
export function recordingLogger(): {
  lines: string[]
  logger: Required<Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>>
} {
  const lines: string[] = []
  const line = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`)
  }
  return {
    lines,
    logger: { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') },
  }
}

/** Unhandled rejections seen while tracking. */
export interface RejectionTracker {
  readonly rejections: unknown[]
  /** Stops tracking. */
  stop(): void
}

/** Records unhandled promise rejections of this process until `stop()`. */
export function trackUnhandledRejections(): RejectionTracker {
  const rejections: unknown[] = []
  const handler = (reason: unknown) => rejections.push(reason)
  process.on('unhandledRejection', handler)
  return { rejections, stop: () => process.off('unhandledRejection', handler) }
}
