import type { MockAgent } from 'undici'
import {
  type IssuedToken,
  oauthIssuedToken,
  parseOAuthTokenResponse,
  readOAuthError,
  type TokenRequestContext,
  type TokenSource,
  tokenEndpointError,
} from '../src/index.ts'

export const TOKEN_ORIGIN = 'https://auth.example.com'
export const API_ORIGIN = 'https://api.example.com'
export const CLIENT_SECRET = 'SECRET-sentinel-8472'

import { headerRecord, type MockAnswer, mockTokenEndpoint } from '../src/testing.ts'

export { createMockAgent as mockAgent } from '../src/testing.ts'

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

/** The token endpoint of {@link exampleSource} on the mock agent. */
export function tokenEndpoint(agent: MockAgent, answer: (index: number) => MockAnswer) {
  return mockTokenEndpoint(agent, { url: `${TOKEN_ORIGIN}/token` }, answer)
}

/** `{ access_token: 'token-N', expires_in }` for the Nth request. */
export function numberedTokens(expiresIn = 3600) {
  return (index: number) => ({
    body: { access_token: `token-${index + 1}`, expires_in: expiresIn, token_type: 'Bearer' },
  })
}

export {
  captureTokenEvents as captureEvents,
  trackUnhandledRejections,
} from '../src/testing.ts'

/** Header value from undici's dispatch options, whatever shape they came in. */
export function headerOf(headers: unknown, name: string): string | undefined {
  return headerRecord(headers)[name.toLowerCase()]
}
