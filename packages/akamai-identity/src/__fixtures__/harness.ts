import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { readFileSync } from 'node:fs'
import { TOKEN_CHANNELS, type TokenEvent } from '@tokenkeeper/auth-core'
import {
  type MockAnswer,
  mockTokenEndpoint,
  type RecordedRequest,
} from '@tokenkeeper/auth-core/testing'
import type { MockAgent } from 'undici'

/**
 * Test-only helpers for Akamai (excluded from the published files): its token URL and canned
 * answers. The generic mocks come from `@tokenkeeper/auth-core/testing`.
 */

export const CUSTOMER_ID = '00000000-0000-4000-8000-000000000001'
export const BASE_URL = 'https://v1.api.us.janrain.com'
export const TOKEN_PATH = `/${CUSTOMER_ID}/login/token`
export const CLIENT_ID = 'config-client-7f3a'
export const CLIENT_SECRET = 'SECRET-sentinel-123'

/** Reads a fixture file beside this one. */
export function fixture(name: string): string {
  return readFileSync(new URL(name, import.meta.url), 'utf8')
}

/** What the Akamai token endpoint received: the headers the tests look at, not undici's own. */
export interface SeenRequest {
  method: string
  path: string
  headers: Record<'authorization' | 'content-type' | 'accept', string | undefined>
  body: string
}

/**
 * The Akamai token endpoint (`{BASE_URL}{TOKEN_PATH}` unless told otherwise) on a MockAgent,
 * answering from `answer(index, request)`; `requests` keeps what it received, reduced to
 * {@link SeenRequest} so tests can compare whole requests.
 */
export function tokenEndpoint(
  agent: MockAgent,
  answer: (index: number, request: RecordedRequest) => MockAnswer,
  options: { origin?: string; path?: string } = {},
): { readonly requests: SeenRequest[] } {
  const endpoint = mockTokenEndpoint(
    agent,
    { url: `${options.origin ?? BASE_URL}${options.path ?? TOKEN_PATH}` },
    answer,
  )
  return {
    get requests() {
      return endpoint.requests.map(({ method, path, headers, body }) => ({
        method,
        path,
        headers: {
          authorization: headers.authorization,
          'content-type': headers['content-type'],
          accept: headers.accept,
        },
        body,
      }))
    },
  }
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
