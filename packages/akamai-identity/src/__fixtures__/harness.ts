import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { readFileSync } from 'node:fs'
import { TOKEN_CHANNELS, type TokenEvent } from '@tokenkeeper/auth-core'
import { MockAgent } from 'undici'

/** Test-only helpers: a MockAgent token endpoint for Akamai and output capture. */

export const CUSTOMER_ID = '00000000-0000-4000-8000-000000000001'
export const BASE_URL = 'https://v1.api.us.janrain.com'
export const TOKEN_PATH = `/${CUSTOMER_ID}/login/token`
export const CLIENT_ID = 'config-client-7f3a'
export const CLIENT_SECRET = 'SECRET-sentinel-123'

/** Reads a fixture file beside this one. */
export function fixture(name: string): string {
  return readFileSync(new URL(name, import.meta.url), 'utf8')
}

/** A MockAgent that refuses real network. */
export function mockAgent(): MockAgent {
  const agent = new MockAgent()
  agent.disableNetConnect()
  return agent
}

/** A header from undici's dispatch options, whatever shape they came in. */
export function headerOf(headers: unknown, name: string): string | undefined {
  const lower = name.toLowerCase()
  if (!headers) return undefined
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const [key, value] of headers as [string, string][])
        if (key.toLowerCase() === lower) return value
      return undefined
    }
    for (let index = 0; index + 1 < headers.length; index += 2) {
      if (String(headers[index]).toLowerCase() === lower) return String(headers[index + 1])
    }
    return undefined
  }
  if (typeof (headers as Headers).get === 'function') {
    return (headers as Headers).get(name) ?? undefined
  }
  for (const [key, value] of Object.entries(headers as Record<string, string>)) {
    if (key.toLowerCase() === lower) return value
  }
  return undefined
}

/** One request seen by a mock endpoint. */
export interface SeenRequest {
  method: string
  path: string
  headers: Record<string, string | undefined>
  body: string
}

export interface MockAnswer {
  status?: number
  body: unknown
  headers?: Record<string, string>
}

function bodyText(body: unknown): string {
  if (body === undefined || body === null) return ''
  if (typeof body === 'string') return body
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8')
  return String(body)
}

/**
 * The Akamai token endpoint on a MockAgent, answering from `answer(index, request)`. Records
 * every request (method, path, the headers the tests look at, body).
 */
export function tokenEndpoint(
  agent: MockAgent,
  answer: (index: number, request: SeenRequest) => MockAnswer,
  options: { origin?: string; path?: string } = {},
): { requests: SeenRequest[] } {
  const requests: SeenRequest[] = []
  agent
    .get(options.origin ?? BASE_URL)
    .intercept({ path: options.path ?? TOKEN_PATH, method: 'POST' })
    .reply((request) => {
      const seen: SeenRequest = {
        method: request.method,
        path: request.path,
        headers: {
          authorization: headerOf(request.headers, 'authorization'),
          'content-type': headerOf(request.headers, 'content-type'),
          accept: headerOf(request.headers, 'accept'),
        },
        body: bodyText(request.body),
      }
      requests.push(seen)
      const result = answer(requests.length - 1, seen)
      return {
        statusCode: result.status ?? 200,
        data: typeof result.body === 'string' ? result.body : JSON.stringify(result.body),
        responseOptions: {
          headers: { 'content-type': 'application/json', ...result.headers },
        },
      }
    })
    .persist()
  return { requests }
}

/** `{ access_token: 'opaque-token-N', expires_in }` for the Nth request. */
export function numberedTokens(expiresIn = 3600) {
  return (index: number): MockAnswer => ({
    body: {
      access_token: `opaque-token-${index + 1}`,
      expires_in: expiresIn,
      token_type: 'Bearer',
      scope: '*:webhooks/**',
    },
  })
}

/** Collects every token event published on the core's diagnostics channels. */
export function captureEvents(): { events: TokenEvent[]; stop: () => void } {
  const events: TokenEvent[] = []
  const handler = (message: unknown) => events.push(message as TokenEvent)
  for (const channel of Object.values(TOKEN_CHANNELS)) subscribe(channel, handler)
  return {
    events,
    stop: () => {
      for (const channel of Object.values(TOKEN_CHANNELS)) unsubscribe(channel, handler)
    },
  }
}

/** A logger that keeps every line, fields included, as text. */
export function recordingLogger(): {
  lines: string[]
  logger: Record<'debug' | 'info' | 'warn' | 'error', (message: string, fields?: object) => void>
} {
  const lines: string[] = []
  const log = (level: string) => (message: string, fields?: object) =>
    lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`)
  return {
    lines,
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
  }
}

/** Resolves with the next event on one of the core's token channels. */
export function nextEvent(name: keyof typeof TOKEN_CHANNELS): Promise<TokenEvent> {
  const channel = TOKEN_CHANNELS[name]
  return new Promise((resolve) => {
    const handler = (message: unknown) => {
      unsubscribe(channel, handler)
      resolve(message as TokenEvent)
    }
    subscribe(channel, handler)
  })
}
