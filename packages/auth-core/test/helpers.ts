import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { MockAgent } from 'undici'
import {
  type IssuedToken,
  oauthIssuedToken,
  parseOAuthTokenResponse,
  readOAuthError,
  TOKEN_CHANNELS,
  type TokenEvent,
  type TokenRequestContext,
  type TokenSource,
  tokenEndpointError,
} from '../src/index.ts'

export const TOKEN_ORIGIN = 'https://auth.example.com'
export const API_ORIGIN = 'https://api.example.com'
export const CLIENT_SECRET = 'SECRET-sentinel-8472'

/** A MockAgent that refuses real network and unexpected calls. */
export function mockAgent(): MockAgent {
  const agent = new MockAgent()
  agent.disableNetConnect()
  return agent
}

export interface ExampleSourceOptions {
  key?: string
  rejectionStatuses?: number[]
  reissueRevokesPrevious?: boolean
  refreshWindowRatio?: number
  jwt?: boolean
  origins?: string[]
  onRequest?: (context: TokenRequestContext) => void
}

/** An OAuth client-credentials source against TOKEN_ORIGIN/token (used with a MockAgent). */
export function exampleSource(
  options: ExampleSourceOptions = {},
): TokenSource & { requests: TokenRequestContext[] } {
  const requests: TokenRequestContext[] = []
  return {
    vendor: 'example',
    requests,
    cacheKey: () => options.key ?? 'example:client-1',
    ...(options.rejectionStatuses ? { rejectionStatuses: options.rejectionStatuses } : {}),
    ...(options.reissueRevokesPrevious ? { reissueRevokesPrevious: true } : {}),
    ...(options.refreshWindowRatio ? { refreshWindowRatio: options.refreshWindowRatio } : {}),
    ...(options.origins ? { origins: () => options.origins ?? [] } : {}),
    async requestToken(context): Promise<IssuedToken> {
      requests.push(context)
      options.onRequest?.(context)
      const response = await context.transport({
        url: `${TOKEN_ORIGIN}/token`,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_secret: CLIENT_SECRET,
        }).toString(),
        signal: context.signal,
      })
      if (response.status !== 200) {
        const oauth = readOAuthError(response)
        throw tokenEndpointError(response, {
          vendor: 'example',
          now: context.now(),
          ...(oauth.error ? { oauthError: oauth.error } : {}),
          ...(oauth.errorDescription ? { description: oauth.errorDescription } : {}),
        })
      }
      return oauthIssuedToken(parseOAuthTokenResponse(response, 'example'), {
        jwt: options.jwt ?? false,
      })
    },
    authHeaders: (token) => ({ authorization: `Bearer ${token.value}`, 'x-example': 'yes' }),
  }
}

/** Token endpoint on the mock agent answering from a list or a function; counts requests. */
export function tokenEndpoint(
  agent: MockAgent,
  answer: (
    index: number,
  ) => { status?: number; body: unknown; headers?: Record<string, string> } | 'reset',
) {
  const state = { count: 0 }
  agent
    .get(TOKEN_ORIGIN)
    .intercept({ path: '/token', method: 'POST' })
    .reply(() => {
      const result = answer(state.count++)
      if (result === 'reset')
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
      return {
        statusCode: result.status ?? 200,
        data: typeof result.body === 'string' ? result.body : JSON.stringify(result.body),
        responseOptions: { headers: { 'content-type': 'application/json', ...result.headers } },
      }
    })
    .persist()
  return state
}

/** `{ access_token: 'token-N', expires_in }` for the Nth request. */
export function numberedTokens(expiresIn = 3600) {
  return (index: number) => ({
    body: { access_token: `token-${index + 1}`, expires_in: expiresIn, token_type: 'Bearer' },
  })
}

/** Collects every diagnostics_channel token event while `fn` runs. */
export function captureEvents(): {
  events: Array<{ name: string; event: TokenEvent }>
  stop: () => void
} {
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

/** Records unhandled rejections for the duration of a test. */
export function trackUnhandledRejections(): { rejections: unknown[]; stop: () => void } {
  const rejections: unknown[] = []
  const handler = (reason: unknown) => rejections.push(reason)
  process.on('unhandledRejection', handler)
  return { rejections, stop: () => process.off('unhandledRejection', handler) }
}

/** Header value from undici's dispatch options, whatever shape they came in. */
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
  if (typeof (headers as Headers).get === 'function')
    return (headers as Headers).get(name) ?? undefined
  for (const [key, value] of Object.entries(headers as Record<string, string>))
    if (key.toLowerCase() === lower) return value
  return undefined
}
