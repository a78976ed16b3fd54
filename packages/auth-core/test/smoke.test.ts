import { MockAgent } from 'undici'
import { describe, expect, it } from 'vitest'
import {
  createTokenClient,
  ManualClock,
  oauthIssuedToken,
  parseOAuthTokenResponse,
  type TokenSource,
} from '../src/index.ts'

describe('smoke', () => {
  it('gets one token for many callers', async () => {
    const agent = new MockAgent()
    agent.disableNetConnect()
    let calls = 0
    agent
      .get('https://auth.example.com')
      .intercept({ path: '/token', method: 'POST' })
      .reply(() => {
        calls++
        return {
          statusCode: 200,
          data: { access_token: 'tok-1', expires_in: 3600, token_type: 'Bearer' },
        }
      })
      .persist()
    const source: TokenSource = {
      vendor: 'example',
      cacheKey: () => 'example:1',
      async requestToken({ transport, signal }) {
        const response = await transport({
          url: 'https://auth.example.com/token',
          method: 'POST',
          headers: {},
          body: 'x=1',
          signal,
        })
        return oauthIssuedToken(parseOAuthTokenResponse(response, 'example'))
      },
      authHeaders: (token) => ({ authorization: `Bearer ${token.value}` }),
    }
    const clock = new ManualClock()
    const client = createTokenClient(source, { dispatcher: agent, clock })
    const tokens = await Promise.all(Array.from({ length: 100 }, () => client.getToken()))
    expect(calls).toBe(1)
    expect(new Set(tokens.map((t) => t.value))).toEqual(new Set(['tok-1']))
    expect(tokens[0]!.expiresAt).toBe(clock.now() + 3600_000)
    await client.close()
  })
})
