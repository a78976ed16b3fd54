import { inspect } from 'node:util'
import {
  type AccessToken,
  ManualClock,
  MemoryTokenStore,
  type TokenClient,
  TokenKeeperError,
} from '@tokenkeeper/auth-core'
import {
  captureTokenEvents,
  createMockAgent,
  headerRecord,
  trackUnhandledRejections,
} from '@tokenkeeper/auth-core/testing'
import { type MockAgent, request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import {
  CLIENT_SECRET,
  clearServer,
  fixture,
  PORTAL_TOKEN,
  SANDBOX,
  settleIo,
  tokenEndpoint,
} from '../test/helpers.ts'
import { type ClearCfcSettings, createClearCfc } from './clear-cfc-provider.ts'
import { REJECTED_TOKEN_MIN_AGE } from './clear-cfc-token-source.ts'

const clients: TokenClient[] = []
function track<T extends TokenClient>(client: T): T {
  clients.push(client)
  return client
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()))
})

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const START = Date.parse('2026-01-01T00:00:00Z')
const PRESIGN = '/integration/v1/generatePreSign/sales?fileName=sales.csv'

function setup(
  server: Omit<Parameters<typeof clearServer>[1], 'clock'> = {},
  settings: ClearCfcSettings = {},
) {
  const agent = createMockAgent()
  const clock = new ManualClock(START)
  const clear = clearServer(agent, { clock, ...server })
  const make = (extra: ClearCfcSettings = {}) =>
    track(
      createClearCfc({
        clientSecret: CLIENT_SECRET,
        environment: 'india-sandbox',
        dispatcher: agent,
        clock,
        ...settings,
        ...extra,
      }),
    )
  return { agent, clock, clear, client: make(), make }
}

describe('issuing revokes the previous token: exactly one issuance', () => {
  it('for 500 concurrent cold callers of getToken, getAuthHeaders and request', async () => {
    const { client, clear } = setup()
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, index) =>
        index % 3 === 0
          ? client.getToken().then((token) => token.value)
          : index % 3 === 1
            ? client.getAuthHeaders().then((headers) => headers['x-cleartax-auth-token'])
            : client.request(PRESIGN).then((response) => String(response.status)),
      ),
    )
    expect(clear.tokenRequests.length).toBe(1)
    expect(new Set(results)).toEqual(new Set(['clear-token-1', '200']))
    // Every business call carried the one token that was never revoked.
    expect(
      clear.apiRequests.every(
        (request) => request.headers['x-cleartax-auth-token'] === 'clear-token-1',
      ),
    ).toBe(true)
  })

  it('for 200 concurrent callers when the token expires', async () => {
    const { client, clear, clock } = setup()
    await client.getToken()
    await clock.advance(HOUR - 10_000) // inside the mandatory window: callers wait
    const tokens = await Promise.all(Array.from({ length: 200 }, () => client.getToken()))
    expect(clear.tokenRequests.length).toBe(2)
    expect(new Set(tokens.map((token) => token.value))).toEqual(new Set(['clear-token-2']))
  })

  it('for two clients sharing one MemoryTokenStore (under its lease)', async () => {
    const { clear, clock, make } = setup()
    const store = new MemoryTokenStore({ clock })
    const leases: string[] = []
    const lease = store.lease.bind(store)
    store.lease = (key, options) => {
      leases.push(key)
      return lease(key, options)
    }
    const first = make({ store })
    const second = make({ store })

    const cold = await Promise.all(
      Array.from({ length: 50 }, (_, index) => (index % 2 ? first : second).getToken()),
    )
    expect(clear.tokenRequests.length).toBe(1)
    expect(new Set(cold.map((token) => token.value))).toEqual(new Set(['clear-token-1']))
    expect(leases.length).toBeGreaterThanOrEqual(1)
    expect(new Set(leases).size).toBe(1)
    expect(leases[0]).not.toContain(CLIENT_SECRET)

    await clock.advance(HOUR - 10_000)
    const renewed = await Promise.all(
      Array.from({ length: 50 }, (_, index) => (index % 2 ? first : second).getToken()),
    )
    expect(clear.tokenRequests.length).toBe(2)
    expect(new Set(renewed.map((token) => token.value))).toEqual(new Set(['clear-token-2']))
    // Both clients' business calls succeed: neither revoked the other's token.
    expect((await first.request(PRESIGN)).status).toBe(200)
    expect((await second.request(PRESIGN)).status).toBe(200)
  })

  it('(the hazard) two clients with separate stores revoke each other', async () => {
    const { clear, make } = setup()
    const first = make()
    const second = make()
    await first.getToken()
    await second.getToken()
    expect(clear.tokenRequests.length).toBe(2)
    expect(clear.current).toBe('clear-token-2') // the first client's token is revoked
  })

  it('forceRefresh from many callers is still one issuance', async () => {
    const { client, clear } = setup()
    await client.getToken()
    const forced = await Promise.all(
      Array.from({ length: 20 }, () => client.getToken({ forceRefresh: true })),
    )
    expect(clear.tokenRequests.length).toBe(2)
    expect(new Set(forced.map((token) => token.value))).toEqual(new Set(['clear-token-2']))
  })
})

describe('nothing issues a token speculatively', () => {
  it('creating the client, its interceptor or its headers function issues nothing', async () => {
    const { make, clear, clock } = setup()
    const client = make()
    client.interceptor()
    await clock.advance(7 * 24 * HOUR)
    await settleIo()
    expect(clear.tokenRequests.length).toBe(0)
    expect(clock.pendingTimers).toBe(0)
  })

  it('no background renewal: the cached token is served through the advisory window', async () => {
    const { client, clear, clock } = setup()
    await client.getToken()
    // Well inside the core's advisory window (5 minutes), outside the mandatory one (30 s).
    for (const minute of [50, 55, 58, 59]) {
      await clock.advance(minute * MINUTE - (clock.now() - START))
      expect((await client.getToken()).value).toBe('clear-token-1')
      await settleIo()
    }
    expect(clear.tokenRequests.length).toBe(1)
  })

  it('advancing past expiry with no callers issues nothing; the next caller issues once', async () => {
    const { client, clear, clock } = setup()
    await client.getToken()
    await clock.advance(10 * HOUR)
    await settleIo()
    expect(clear.tokenRequests.length).toBe(1)
    expect((await client.getToken()).value).toBe('clear-token-2')
    expect(clear.tokenRequests.length).toBe(2)
  })

  it('a never-expiring token is requested once, ever', async () => {
    const { client, clear, clock } = setup({ lifetime: null })
    const token = await client.getToken()
    expect(token.expiresAt).toBeNull()
    await clock.advance(365 * 24 * HOUR)
    expect((await client.getToken()).value).toBe('clear-token-1')
    expect(clear.tokenRequests.length).toBe(1)
  })
})

describe('the daily quota (429)', () => {
  it('without Retry-After: no second request before 00:00 UTC (+1 min), then issuing resumes', async () => {
    const { client, clear, clock } = setup({ quota: 0 })
    const error = (await client.getToken().catch((caught: unknown) => caught)) as TokenKeeperError
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_RATE_LIMITED', status: 429 })
    const resume = Date.parse('2026-01-02T00:01:00Z')
    expect(error.retryAt).toBe(resume)
    expect(error.message).toContain(`Not retrying before ${new Date(resume).toISOString()}`)

    // Callers all day long: every one gets the same error at once, and Clear hears nothing.
    while (clock.now() < resume - 10 * MINUTE) {
      await clock.advance(10 * MINUTE)
      await expect(client.getToken()).rejects.toBe(error)
      await expect(client.request(PRESIGN)).rejects.toBe(error)
    }
    expect(clear.tokenRequests.length).toBe(1)

    await clock.advance(resume - clock.now())
    // The quota of this server is zero every day; one attempt, then the next midnight.
    await expect(client.getToken()).rejects.toMatchObject({
      retryAt: Date.parse('2026-01-03T00:01:00Z'),
    })
    expect(clear.tokenRequests.length).toBe(2)
  })

  it('with Retry-After: no second request before it', async () => {
    const { client, clear, clock } = setup({ quota: 0, retryAfter: '900' })
    const error = (await client.getToken().catch((caught: unknown) => caught)) as TokenKeeperError
    expect(error.retryAt).toBe(START + 15 * MINUTE)
    for (let index = 0; index < 14; index++) {
      await clock.advance(MINUTE)
      await expect(client.getToken()).rejects.toBe(error)
    }
    expect(clear.tokenRequests.length).toBe(1)
    await clock.advance(MINUTE)
    await client.getToken().catch(() => {})
    expect(clear.tokenRequests.length).toBe(2)
  })

  it('keeps serving a still-valid token, then refuses to issue until the reset', async () => {
    const { client, clear, clock } = setup({ quota: 1 })
    const events = captureTokenEvents()
    try {
      expect((await client.getToken()).value).toBe('clear-token-1') // valid till 01:00
      await clock.advance(HOUR - 20_000) // mandatory window: the client tries to renew
      expect((await client.getToken()).value).toBe('clear-token-1')
      expect(clear.tokenRequests.length).toBe(2) // the one attempt, answered 429
      expect(events.events.some((entry) => entry.name === 'servedStale')).toBe(true)

      await clock.advance(10_000)
      expect((await client.getToken()).value).toBe('clear-token-1')
      expect((await client.request(PRESIGN)).status).toBe(200) // the token still works
      expect(clear.tokenRequests.length).toBe(2)

      await clock.advance(10_000) // 01:00: expired, and no issuing before midnight
      await expect(client.getToken()).rejects.toMatchObject({
        code: 'TOKEN_ENDPOINT_RATE_LIMITED',
        retryAt: Date.parse('2026-01-02T00:01:00Z'),
      })
      await clock.advance(22 * HOUR)
      await expect(client.getToken()).rejects.toMatchObject({ code: 'TOKEN_ENDPOINT_RATE_LIMITED' })
      expect(clear.tokenRequests.length).toBe(2)

      await clock.advance(Date.parse('2026-01-02T00:01:00Z') - clock.now())
      expect((await client.getToken()).value).toBe('clear-token-2')
      expect(clear.tokenRequests.length).toBe(3)
    } finally {
      events.stop()
    }
  })

  it('persistent failures cost about 288 token requests a day, not more (default backoff)', async () => {
    const tracker = trackUnhandledRejections()
    try {
      const { client, clear, clock } = setup(
        { fault: () => ({ status: 500, body: fixture('error-500.json') }) },
        { random: () => 0 }, // the shortest jittered waits
      )
      for (let elapsed = 0; elapsed < 24 * HOUR; elapsed += 30_000) {
        await client.getToken().catch(() => {})
        await clock.advance(30_000)
      }
      // 288 a day once the backoff has grown, plus the first quick retries.
      expect(clear.tokenRequests.length).toBeLessThanOrEqual(300)
      expect(clear.tokenRequests.length).toBeGreaterThan(100) // it does keep trying
      await settleIo()
      expect(tracker.rejections).toEqual([])
    } finally {
      tracker.stop()
    }
  })
})

describe('401 from a business API: renew only if the rejected token is still current', () => {
  it('renews once and retries the call when the current token was revoked elsewhere', async () => {
    const { client, clear, clock, make } = setup()
    await client.getToken()
    await clock.advance(10 * MINUTE)
    await make().getToken() // an uncoordinated process revokes clear-token-1
    const response = await client.request(PRESIGN)
    expect(response.status).toBe(200)
    expect(clear.tokenRequests.length).toBe(3)
    expect(clear.apiRequests.map((request) => request.headers['x-cleartax-auth-token'])).toEqual([
      'clear-token-1',
      'clear-token-3',
    ])
  })

  it('many concurrent calls rejected with the same token cause one renewal', async () => {
    const { client, clear, clock, make } = setup()
    await client.getToken()
    await clock.advance(10 * MINUTE)
    await make().getToken()
    const responses = await Promise.all(Array.from({ length: 30 }, () => client.request(PRESIGN)))
    expect(responses.every((response) => response.status === 200)).toBe(true)
    expect(clear.tokenRequests.length).toBe(3)
  })

  it('a rejection of a token that was already replaced renews nothing', async () => {
    const { client, clear, clock } = setup()
    const old = await client.getToken()
    await clock.advance(HOUR - 10_000)
    const current = await client.getToken()
    expect(current.value).toBe('clear-token-2')
    expect(client.invalidate(old)).toBe(false) // a late 401 for clear-token-1
    expect((await client.getToken()).value).toBe('clear-token-2')
    expect(clear.tokenRequests.length).toBe(2)
  })

  it('two clients sharing a store, both rejected with the same token: one renewal', async () => {
    const { clear, clock, make } = setup()
    const store = new MemoryTokenStore({ clock })
    const first = make({ store })
    const second = make({ store })
    await first.getToken()
    await clock.advance(10 * MINUTE)
    clear.current = 'revoked-by-someone-else'
    const responses = await Promise.all([
      first.request(PRESIGN),
      second.request(PRESIGN),
      first.request(PRESIGN),
      second.request(PRESIGN),
    ])
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200])
    expect(clear.tokenRequests.length).toBe(2)
  })

  it('a token rejected within five minutes of its issue is kept: the 401 is returned, nothing is requested', async () => {
    const { client, clear, clock } = setup()
    await client.getToken()
    await clock.advance(MINUTE)
    clear.current = 'revoked-by-someone-else' // another program with the same secret
    expect((await client.request(PRESIGN)).status).toBe(401)
    expect(clear.tokenRequests.length).toBe(1) // no revoke ping-pong
    expect((await client.getToken()).value).toBe('clear-token-1')
    await clock.advance(MINUTE) // past the core's own 10 s grace
    expect((await client.request(PRESIGN)).status).toBe(401)
    expect(clear.tokenRequests.length).toBe(1)
    // Five minutes after the issue, the next rejection renews, once.
    await clock.advance(START + REJECTED_TOKEN_MIN_AGE - clock.now())
    expect((await client.request(PRESIGN)).status).toBe(200)
    expect(clear.tokenRequests.length).toBe(2)
  })

  it('a product that always answers 401 costs at most one token per five minutes; others keep working', async () => {
    const denied = '/integration/v1/generatePreSign/purchase'
    const { client, clear, clock } = setup({ deniedPaths: [denied] })
    for (let minute = 0; minute < 60; minute++) {
      expect((await client.request(`${denied}?fileName=p.csv`)).status).toBe(401)
      expect((await client.request(PRESIGN)).status).toBe(200)
      await clock.advance(MINUTE)
    }
    expect(clear.tokenRequests.length).toBeLessThanOrEqual(13)
  })

  it('a kept token is kept for every client of a shared store', async () => {
    const { clear, clock, make } = setup()
    const store = new MemoryTokenStore({ clock })
    const first = make({ store })
    const second = make({ store })
    await first.getToken()
    await clock.advance(MINUTE)
    clear.current = 'revoked-by-someone-else'
    expect((await first.request(PRESIGN)).status).toBe(401)
    expect((await second.request(PRESIGN)).status).toBe(401)
    expect((await second.getToken()).value).toBe('clear-token-1')
    expect(clear.tokenRequests.length).toBe(1)
  })

  it('a late rejection of a replaced token does not keep its successor past expiry', async () => {
    // Short-lived tokens (two minutes): the successor expires before the five-minute guard ends.
    const { clear, clock, make } = setup({ lifetime: 2 * MINUTE })
    const store = new MemoryTokenStore({ clock })
    const first = make({ store })
    const second = make({ store })
    const old = await first.getToken()
    await clock.advance(10 * MINUTE)
    await second.getToken() // clear-token-2, while first still holds clear-token-1 in memory
    first.invalidate(old) // a late 401 for clear-token-1
    expect((await first.getToken()).value).toBe('clear-token-2')
    await clock.advance(2 * MINUTE)
    expect((await first.getToken()).value).toBe('clear-token-3')
    expect(clear.tokenRequests.length).toBe(3)
  })

  it('business calls carry the token header and static headers, never the client secret', async () => {
    const { clear, make } = setup()
    const client = make({ headers: { 'x-workspace-id': 'ws-1' } })
    await client.request(PRESIGN, { headers: { 'x-request-id': 'r-1' } })
    const [request] = clear.apiRequests
    expect(request?.path).toBe(PRESIGN)
    expect(request?.headers['x-cleartax-auth-token']).toBe('clear-token-1')
    expect(request?.headers['x-workspace-id']).toBe('ws-1')
    expect(request?.headers['x-request-id']).toBe('r-1')
    expect(request?.headers['x-clear-client-secret']).toBeUndefined()
    expect(JSON.stringify(request?.headers)).not.toContain(CLIENT_SECRET)
  })
})

describe('request() and the origin allow-list', () => {
  it('takes a path of the Clear API, not a URL', async () => {
    const { client, clear } = setup()
    expect(() => createClearCfc(null as never)).toThrow(/settings must be an object/)
    await expect(client.request('https://evil.example.com/x')).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
    })
    await expect(client.request('//evil.example.com/x')).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
    })
    expect(clear.tokenRequests.length).toBe(0)
  })

  it('fetch() sends the token only to the Clear origin (not to a pre-signed storage URL)', async () => {
    const { client, clear } = setup()
    await expect(
      client.fetch('https://storage.example.com/upload?signature=abc', { method: 'PUT' }),
    ).rejects.toMatchObject({ code: 'ORIGIN_NOT_ALLOWED' })
    expect(clear.tokenRequests.length).toBe(0)
    expect((await client.fetch(`${SANDBOX}${PRESIGN}`)).status).toBe(200)
  })
})

describe('interceptor()', () => {
  it('adds the token and static headers to undici requests for the Clear origin only', async () => {
    const { clear, make, agent } = setup()
    const client = make({ headers: { 'x-workspace-id': 'ws-1' } })
    const dispatcher = agent.compose(client.interceptor())
    const { statusCode, body } = await request(`${SANDBOX}${PRESIGN}`, { dispatcher })
    await body.text()
    expect(statusCode).toBe(200)
    expect(clear.apiRequests[0]?.headers['x-cleartax-auth-token']).toBe('clear-token-1')
    expect(clear.apiRequests[0]?.headers['x-workspace-id']).toBe('ws-1')

    // A pre-signed upload URL on another origin gets no Clear headers.
    let uploadHeaders: Record<string, string> = {}
    agent
      .get('https://storage.example.com')
      .intercept({ path: '/upload?signature=abc', method: 'PUT' })
      .reply((options) => {
        uploadHeaders = headerRecord(options.headers)
        return { statusCode: 200, data: '' }
      })
    const upload = await request('https://storage.example.com/upload?signature=abc', {
      method: 'PUT',
      body: 'a,b\n',
      dispatcher,
    })
    await upload.body.text()
    expect(upload.statusCode).toBe(200)
    expect(uploadHeaders['x-cleartax-auth-token']).toBeUndefined()
    expect(uploadHeaders['x-workspace-id']).toBeUndefined()
    expect(clear.tokenRequests.length).toBe(1)
  })
})

describe('secrets never appear in output', () => {
  it('errors, inspect, JSON, logs and diagnostics events', async () => {
    const logs: unknown[] = []
    const logger = {
      debug: (...args: unknown[]) => logs.push(args),
      info: (...args: unknown[]) => logs.push(args),
      warn: (...args: unknown[]) => logs.push(args),
      error: (...args: unknown[]) => logs.push(args),
    }
    const events = captureTokenEvents()
    const collected: unknown[] = []
    const tokens: AccessToken[] = []
    try {
      // 1. A working client: issue, use, get rejected, renew.
      const { client, clock, clear, make } = setup({}, { logger })
      tokens.push(await client.getToken())
      await client.request(PRESIGN)
      await clock.advance(10 * MINUTE)
      clear.current = 'revoked'
      await client.request(PRESIGN)
      tokens.push(await client.getToken())
      clear.current = 'revoked-again'
      // Kept (issued moments ago): the caller gets Clear's 401, no error and no new token.
      expect((await client.request(PRESIGN)).status).toBe(401)
      collected.push(client)

      // 2. Every error path of the token endpoint.
      for (const [status, body] of [
        [401, fixture('error-401-invalid-secret.json')],
        [401, JSON.stringify({ errors: [{ error_message: `bad ${CLIENT_SECRET}` }] })],
        [429, fixture('error-429-quota.json')],
        [500, fixture('error-500.json')],
        [200, '<html lang="en">oops</html>'],
      ] as const) {
        const agent: MockAgent = createMockAgent()
        tokenEndpoint(agent, () => ({ status, body }))
        const failing = track(
          createClearCfc({
            clientSecret: CLIENT_SECRET,
            environment: 'india-sandbox',
            dispatcher: agent,
            logger,
          }),
        )
        collected.push(await failing.getToken().catch((caught: unknown) => caught), failing)
      }

      // 3. Configuration errors and the portal-token mode.
      collected.push(
        await make({ clientSecret: `${CLIENT_SECRET} x` })
          .getToken()
          .catch((caught: unknown) => caught),
      )
      const portal = make({ clientSecret: undefined, accessToken: PORTAL_TOKEN })
      const portalToken = await portal.getToken()
      portal.invalidate(portalToken)
      collected.push(
        await portal.getToken().catch((caught: unknown) => caught),
        portal,
        portalToken,
      )
    } finally {
      events.stop()
    }

    const errors = collected.filter((value) => TokenKeeperError.is(value))
    expect(errors.length).toBeGreaterThanOrEqual(7)
    const output = [
      ...collected.map((value) => inspect(value, { depth: 10, showHidden: true })),
      ...collected.map((value) => JSON.stringify(value) ?? ''),
      ...errors.map((error) => `${(error as Error).message}\n${(error as Error).stack}`),
      ...tokens.flatMap((token) => [inspect(token), JSON.stringify(token), String(token)]),
      JSON.stringify(logs),
      inspect(logs, { depth: 10 }),
      JSON.stringify(events.events),
    ].join('\n')
    expect(logs.length).toBeGreaterThan(0)
    expect(events.events.length).toBeGreaterThan(0)
    for (const secret of [
      CLIENT_SECRET,
      PORTAL_TOKEN,
      'clear-token-1',
      'clear-token-2',
      'clear-token-3',
    ]) {
      expect(output).not.toContain(secret)
    }
  })
})

/** Every spelling in which an echoing server can repeat a value it received. */
function spellings(value: string): string[] {
  return [
    ...new Set([
      value,
      encodeURIComponent(value),
      new URLSearchParams({ v: value }).toString().slice(2),
      JSON.stringify(value).slice(1, -1),
    ]),
  ]
}

describe('a token endpoint that echoes the secret it received', () => {
  it('in errors[] of a 2xx or an error status, in every spelling: redacted everywhere', async () => {
    const lines: string[] = []
    const log = (message: string, fields?: unknown) =>
      lines.push(`${message} ${inspect(fields, { depth: 10 })}`)
    const logger = { debug: log, info: log, warn: log, error: log }
    const events = captureTokenEvents()
    const echo = (sent: string) =>
      `x-clear-client-secret=${sent} ${encodeURIComponent(sent)} ${new URLSearchParams({ s: sent })}`
    const answers: Array<(sent: string) => { status: number; body: unknown }> = [
      // A 2xx without a token whose errors[] (and other fields) quote the request.
      (sent) => ({
        status: 200,
        body: { error: echo(sent), message: echo(sent), errors: [{ error_message: echo(sent) }] },
      }),
      // The same with the secret across the 200-character cut of error_message.
      (sent) => ({
        status: 200,
        body: { errors: [{ error_message: `${'.'.repeat(190)} ${sent}`, error_id: echo(sent) }] },
      }),
      (sent) => ({
        status: 401,
        body: {
          errors: [{ error_code: echo(sent), error_message: echo(sent), error_id: echo(sent) }],
        },
      }),
    ]
    const outputs: string[] = []
    const messages: string[] = []
    try {
      for (const answer of answers) {
        const agent = createMockAgent()
        tokenEndpoint(agent, (_index, request) =>
          answer(request.headers['x-clear-client-secret'] ?? ''),
        )
        const client = track(
          createClearCfc({
            clientSecret: CLIENT_SECRET,
            environment: 'india-sandbox',
            dispatcher: agent,
            clock: new ManualClock(START),
            logger,
          }),
        )
        const error = await client.getToken().catch((caught: unknown) => caught)
        expect(TokenKeeperError.is(error)).toBe(true)
        messages.push((error as Error).message)
        outputs.push(
          (error as Error).message,
          String((error as Error).stack),
          inspect(error, { depth: 10, showHidden: true }),
          JSON.stringify(error),
          inspect(client, { depth: 10 }),
        )
      }
    } finally {
      events.stop()
    }
    outputs.push(lines.join('\n'), JSON.stringify(events.events))
    expect(lines.length).toBeGreaterThan(0)
    expect(events.events.length).toBeGreaterThan(0)
    expect(messages[0]).toContain(
      'has errors instead of an access_token (x-clear-client-secret=[redacted] [redacted] s=[redacted])',
    )
    expect(messages[2]).toContain('x-clear-client-secret=[redacted]')
    const output = outputs.join('\n')
    for (const spelling of spellings(CLIENT_SECRET)) expect(output).not.toContain(spelling)
    // Nor a piece of one cut off by a shortened message.
    expect(output).not.toContain('SECRET-sentinel')
  })
})

describe('close()', () => {
  it('leaves no timer and refuses later calls', async () => {
    const { client, clock } = setup()
    await client.getToken()
    await client.close()
    expect(clock.pendingTimers).toBe(0)
    await expect(client.getToken()).rejects.toMatchObject({ code: 'CLIENT_CLOSED' })
  })
})
