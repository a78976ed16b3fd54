import { ManualClock, MemoryTokenStore } from '@tokenkeeper/auth-core'
import { createMockAgent } from '@tokenkeeper/auth-core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createClearId } from './clearid-provider.ts'
import {
  accessToken,
  CLIENT_ID,
  CLIENT_SECRET,
  IDENTITY_API,
  isolateEnvironment,
  jtiOf,
  mockSts,
  nextEvent,
  START,
  tokens,
} from './test-helpers.ts'

isolateEnvironment()

const agents: Array<ReturnType<typeof createMockAgent>> = []
function agent() {
  const created = createMockAgent()
  agents.push(created)
  return created
}
afterEach(async () => {
  for (const created of agents.splice(0)) {
    created.assertNoPendingInterceptors()
    await created.close()
  }
})

function client(
  mock: ReturnType<typeof createMockAgent>,
  clock: ManualClock,
  extra: Record<string, unknown> = {},
) {
  return createClearId({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    dispatcher: mock,
    clock,
    random: () => 0,
    ...extra,
  })
}

describe('expiry: the earlier of the JWT exp and expires_in', () => {
  it('takes exp when the JWT expires before expires_in says', async () => {
    const mock = agent()
    const clock = new ManualClock()
    const iat = Math.floor(START / 1000)
    mockSts(mock, () => ({
      body: {
        access_token: accessToken({ iat, exp: iat + 600 }),
        expires_in: 3600,
        token_type: 'Bearer',
      },
    }))
    const clearId = client(mock, clock)
    const token = await clearId.getToken()
    expect(token.expiresAt).toBe(START + 600_000)
    expect(token.issuedAt).toBe(START)
    await clearId.close()
  })

  it('takes expires_in when it ends before the JWT exp', async () => {
    const mock = agent()
    const clock = new ManualClock()
    const iat = Math.floor(START / 1000)
    mockSts(mock, () => ({
      body: {
        access_token: accessToken({ iat, exp: iat + 3600 }),
        expires_in: 900,
        token_type: 'Bearer',
      },
    }))
    const clearId = client(mock, clock)
    const token = await clearId.getToken()
    expect(token.expiresAt).toBe(START + 900_000)
    await clearId.close()
  })

  it('corrects the JWT exp by the skew of the STS clock (its Date header)', async () => {
    const mock = agent()
    const clock = new ManualClock()
    // The STS clock runs 2 minutes ahead: its exp, read on our clock, is 2 minutes earlier.
    const serverNow = START + 120_000
    const iat = Math.floor(serverNow / 1000)
    mockSts(mock, () => ({
      body: {
        access_token: accessToken({ iat, exp: iat + 1800 }),
        expires_in: 3600,
        token_type: 'Bearer',
      },
      headers: { date: new Date(serverNow).toUTCString() },
    }))
    const clearId = client(mock, clock)
    const token = await clearId.getToken()
    // Conservative skew estimate: up to one second more than the true two minutes.
    expect(token.expiresAt).toBeGreaterThanOrEqual(START + 1800_000 - 1000)
    expect(token.expiresAt).toBeLessThanOrEqual(START + 1800_000)
    await clearId.close()
  })

  it('refuses a JWT that is already expired on arrival', async () => {
    const mock = agent()
    const clock = new ManualClock()
    const iat = Math.floor(START / 1000) - 7200
    mockSts(mock, () => ({
      body: {
        access_token: accessToken({ iat, exp: iat + 3600 }),
        expires_in: 3600,
        token_type: 'Bearer',
      },
    }))
    const clearId = client(mock, clock)
    await expect(clearId.getToken()).rejects.toMatchObject({ code: 'INVALID_TOKEN_RESPONSE' })
    await clearId.close()
  })
})

describe('renewal at half-life', () => {
  it('keeps serving the token until half its lifetime, then renews it once in the background', async () => {
    const mock = agent()
    const clock = new ManualClock()
    const sts = mockSts(
      mock,
      tokens(() => clock.now()),
    )
    const clearId = client(mock, clock)

    const first = await clearId.getToken()
    await clock.advance(29 * 60_000)
    expect(await clearId.getToken()).toBe(first)
    expect(sts.requests).toHaveLength(1)

    // Half of the one-hour lifetime: the background renewal starts; callers are not blocked.
    const renewed = nextEvent('renewed')
    await clock.advance(60_000)
    expect(sts.requests).toHaveLength(2)
    expect(await clearId.getToken()).toBe(first)
    expect(await renewed).toMatchObject({
      reason: 'renewal',
      expiresAt: START + 30 * 60_000 + 3600_000,
    })
    const second = await clearId.getToken()
    expect(jtiOf(second.value)).toBe('token-2')
    expect(second.expiresAt).toBe(START + 30 * 60_000 + 3600_000)
    await clearId.close()
  })

  it('many concurrent callers on a cold cache cause one token request', async () => {
    const mock = agent()
    const clock = new ManualClock()
    const sts = mockSts(
      mock,
      tokens(() => clock.now()),
    )
    const clearId = client(mock, clock)
    const all = await Promise.all(Array.from({ length: 25 }, () => clearId.getToken()))
    expect(sts.requests).toHaveLength(1)
    expect(new Set(all.map((token) => token.value)).size).toBe(1)
    await clearId.close()
  })

  it('keeps tokens in memory by default and uses a store only when one is passed', async () => {
    const mock = agent()
    const clock = new ManualClock()
    mockSts(
      mock,
      tokens(() => clock.now()),
    )
    const store = new MemoryTokenStore({ clock })
    const clearId = client(mock, clock, { store })
    const token = await clearId.getToken()
    const stored = await store.get(`clearid|https://sts.clearid.io|${CLIENT_ID}`)
    expect(stored?.value).toBe(token.value)
    await clearId.close()
  })
})

describe('rejection by an API', () => {
  it('fetch() renews once after a 401 and retries with the new token', async () => {
    const mock = agent()
    const clock = new ManualClock()
    const sts = mockSts(
      mock,
      tokens(() => clock.now()),
    )
    const seen: string[] = []
    mock
      .get(IDENTITY_API)
      .intercept({ path: '/api/v2/accounts/acme-account/identities', method: 'GET' })
      .reply((request) => {
        const headers = request.headers as Record<string, string>
        seen.push(jtiOf((headers.authorization ?? '').replace(/^Bearer /, '')))
        return seen.length === 1
          ? { statusCode: 401, data: '' }
          : {
              statusCode: 200,
              data: '[]',
              responseOptions: { headers: { 'content-type': 'application/json' } },
            }
      })
      .times(2)
    const clearId = client(mock, clock)
    const response = await clearId.fetch(`${IDENTITY_API}/api/v2/accounts/acme-account/identities`)
    expect(response.status).toBe(200)
    expect(seen).toEqual(['token-1', 'token-2'])
    expect(sts.requests).toHaveLength(2)
    await clearId.close()
  })
})
