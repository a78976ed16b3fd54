import { afterEach, describe, expect, it } from 'vitest'
import {
  createTokenClient,
  ManualClock,
  MemoryTokenStore,
  StoreError,
  type TokenClient,
  TokenKeeperError,
  type TokenStore,
} from '../src/index.ts'
import {
  captureEvents,
  exampleSource,
  mockAgent,
  numberedTokens,
  tokenEndpoint,
  trackUnhandledRejections,
} from './helpers.ts'

const clients: TokenClient[] = []
function track<T extends TokenClient>(client: T): T {
  clients.push(client)
  return client
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()))
})

const MINUTE = 60_000

describe('single flight', () => {
  it('1000 concurrent cold callers cause exactly one token request', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const client = track(
      createTokenClient(exampleSource(), { dispatcher: agent, clock: new ManualClock() }),
    )

    const tokens = await Promise.all(Array.from({ length: 1000 }, () => client.getToken()))

    expect(endpoint.count).toBe(1)
    expect(new Set(tokens.map((token) => token.value))).toEqual(new Set(['token-1']))
  })

  it('forceRefresh requests a new token, once for concurrent callers', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const client = track(
      createTokenClient(exampleSource(), { dispatcher: agent, clock: new ManualClock() }),
    )
    await client.getToken()

    const forced = await Promise.all(
      Array.from({ length: 10 }, () => client.getToken({ forceRefresh: true })),
    )

    expect(endpoint.count).toBe(2)
    expect(new Set(forced.map((token) => token.value))).toEqual(new Set(['token-2']))
    expect((await client.getToken()).value).toBe('token-2')
  })

  it('two clients sharing a MemoryTokenStore share one token request', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const clock = new ManualClock()
    const store = new MemoryTokenStore({ clock })
    const first = track(createTokenClient(exampleSource(), { dispatcher: agent, clock, store }))
    const second = track(createTokenClient(exampleSource(), { dispatcher: agent, clock, store }))

    const tokens = await Promise.all([
      first.getToken(),
      second.getToken(),
      first.getToken(),
      second.getToken(),
    ])

    expect(endpoint.count).toBe(1)
    expect(new Set(tokens.map((token) => token.value)).size).toBe(1)
  })
})

describe('hot path coherence', () => {
  it('a client sees a token renewed by another client of the same store at once', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const clock = new ManualClock()
    const store = new MemoryTokenStore({ clock })
    const first = track(createTokenClient(exampleSource(), { dispatcher: agent, clock, store }))
    const second = track(createTokenClient(exampleSource(), { dispatcher: agent, clock, store }))
    await first.getToken()
    expect((await second.getToken()).value).toBe('token-1')
    // An API rejects token-1 for the first client, which renews.
    first.invalidate(await first.getToken())
    expect((await first.getToken()).value).toBe('token-2')
    expect((await second.getToken()).value).toBe('token-2')
    expect(endpoint.count).toBe(2)
  })

  it('re-reads the clock now and then even if timers run late', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens(600))
    const clock = new ManualClock()
    const client = track(createTokenClient(exampleSource(), { dispatcher: agent, clock }))
    await client.getToken()
    // Jump past expiry without firing timers (a blocked event loop).
    clock.set(clock.now() + 601_000)
    const values = new Set<string>()
    for (let call = 0; call < 64; call++) values.add((await client.getToken()).value)
    expect(values.has('token-2')).toBe(true)
    expect(endpoint.count).toBe(2)
  })
})

describe('renewal windows', () => {
  it('renews in the background inside the advisory window while callers keep the current token', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens(3600))
    const clock = new ManualClock()
    const client = track(
      createTokenClient(exampleSource(), { dispatcher: agent, clock, random: () => 0 }),
    )
    const first = await client.getToken()

    // Default advisory window: min(5 min, lifetime/5) = 5 min before expiry.
    await clock.advance(54 * MINUTE)
    expect((await client.getToken()).value).toBe('token-1')
    expect(endpoint.count).toBe(1)

    await clock.advance(1 * MINUTE)
    await until(() => endpoint.count === 2)
    await settle()
    expect((await client.getToken()).value).toBe('token-2')
    expect(first.expiresAt).toBe(first.issuedAt + 3600_000)
  })

  it('spreads renewals with jitter inside the advisory window', async () => {
    const renewalTimes: number[] = []
    for (const random of [0, 0.5, 0.999]) {
      const agent = mockAgent()
      const endpoint = tokenEndpoint(agent, numberedTokens(3600))
      const clock = new ManualClock()
      const start = clock.now()
      const client = track(
        createTokenClient(exampleSource(), { dispatcher: agent, clock, random: () => random }),
      )
      await client.getToken()
      while (endpoint.count < 2) await clock.advance(1000)
      renewalTimes.push(clock.now() - start)
    }
    // Advisory window opens at 55 min, mandatory at 59.5 min; jitter uses the first half.
    expect(renewalTimes[0]).toBe(55 * MINUTE)
    expect(renewalTimes[1]).toBeGreaterThan(55 * MINUTE)
    expect(renewalTimes[2]).toBeLessThanOrEqual(55 * MINUTE + 135_000 + 1000)
    expect(new Set(renewalTimes).size).toBe(3)
  })

  it('blocks callers only inside the mandatory window, and never serves an expired token', async () => {
    const agent = mockAgent()
    let answer: (index: number) => { body: unknown; status?: number } = numberedTokens(600)
    const endpoint = tokenEndpoint(agent, (index) => answer(index))
    const clock = new ManualClock()
    // No background renewal: make the endpoint fail for renewals so we can observe windows.
    const client = track(
      createTokenClient(exampleSource(), { dispatcher: agent, clock, random: () => 0 }),
    )
    await client.getToken()
    answer = () => ({ status: 503, body: { error: 'temporarily_unavailable' } })

    // Inside the advisory window: the background renewal fails; callers still get token-1.
    await clock.advance(9 * MINUTE)
    expect((await client.getToken()).value).toBe('token-1')
    // Inside the mandatory window (last 30 s): the caller waits for a renewal; it fails, but the
    // token is still valid, so it is served.
    await clock.advance(MINUTE - 10_000)
    expect((await client.getToken()).value).toBe('token-1')
    // After expiry: no token rather than an expired one.
    await clock.advance(20_000)
    await expect(client.getToken()).rejects.toMatchObject({ code: 'TOKEN_ENDPOINT_UNAVAILABLE' })
    answer = (index) => ({ body: { access_token: `token-${index + 1}`, expires_in: 600 } })
    await clock.advance(5 * MINUTE)
    expect((await client.getToken()).value).toMatch(/^token-\d+$/)
    expect(endpoint.count).toBeGreaterThan(2)
  })

  it('scales both windows down for short-lived tokens, advisory before mandatory', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens(60))
    const clock = new ManualClock()
    const client = track(
      createTokenClient(exampleSource(), { dispatcher: agent, clock, random: () => 0 }),
    )
    await client.getToken()
    // 60 s lifetime: mandatory = 6 s, advisory = 12 s before expiry.
    await clock.advance(47_000)
    expect(endpoint.count).toBe(1)
    await clock.advance(1_000)
    await until(() => endpoint.count === 2)
  })

  it('honours a source that asks for renewal at half-life (refreshWindowRatio)', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens(3600))
    const clock = new ManualClock()
    const client = track(
      createTokenClient(exampleSource({ refreshWindowRatio: 0.5 }), {
        dispatcher: agent,
        clock,
        random: () => 0,
      }),
    )
    await client.getToken()
    await clock.advance(29 * MINUTE)
    expect(endpoint.count).toBe(1)
    await clock.advance(MINUTE)
    await until(() => endpoint.count === 2)
  })

  it('arms no timer for never-expiring tokens and clamps timers for 30-day tokens', async () => {
    const agent = mockAgent()
    tokenEndpoint(agent, () => ({ body: { access_token: 'forever' } }))
    const clock = new ManualClock()
    const never = exampleSource()
    never.requestToken = async () => ({ value: 'forever', neverExpires: true })
    const client = track(createTokenClient(never, { dispatcher: agent, clock }))
    const token = await client.getToken()
    expect(token.expiresAt).toBeNull()
    expect(clock.pendingTimers).toBe(0)

    const monthAgent = mockAgent()
    const endpoint = tokenEndpoint(monthAgent, numberedTokens(30 * 24 * 3600))
    const monthClock = new ManualClock()
    const delays: number[] = []
    const spyClock = {
      now: () => monthClock.now(),
      setTimeout: (callback: () => void, delay: number) => {
        delays.push(delay)
        return monthClock.setTimeout(callback, delay)
      },
    }
    const monthly = track(
      createTokenClient(exampleSource(), {
        dispatcher: monthAgent,
        clock: spyClock,
        random: () => 0,
      }),
    )
    await monthly.getToken()
    expect(Math.max(...delays)).toBeLessThan(2 ** 31 - 1)
    // The clamped timer re-arms until the real renewal time, then renews once.
    await monthClock.advance(30 * 24 * 3600_000 - 6 * MINUTE)
    expect(endpoint.count).toBe(1)
    await monthClock.advance(2 * MINUTE)
    await until(() => endpoint.count === 2)
  })
})

describe('failures', () => {
  it('keeps serving a valid token while the endpoint is down: 0 failures, no unhandled rejection', async () => {
    const tracker = trackUnhandledRejections()
    try {
      const agent = mockAgent()
      let down = false
      const endpoint = tokenEndpoint(agent, (index) =>
        down
          ? { status: 503, body: '<html>down</html>' }
          : { body: { access_token: `token-${index + 1}`, expires_in: 600 } },
      )
      const clock = new ManualClock()
      const client = track(createTokenClient(exampleSource(), { dispatcher: agent, clock }))
      await client.getToken()
      down = true
      let failures = 0
      for (let second = 0; second < 590; second += 5) {
        await clock.advance(5000)
        const results = await Promise.allSettled(Array.from({ length: 5 }, () => client.getToken()))
        failures += results.filter((result) => result.status === 'rejected').length
      }
      await new Promise((resolve) => setImmediate(resolve))
      expect(failures).toBe(0)
      expect(tracker.rejections).toEqual([])
      // Backoff bounds the attempts: far fewer than one per call.
      expect(endpoint.count).toBeLessThan(20)
    } finally {
      tracker.stop()
    }
  })

  it('backs off exponentially and honours Retry-After', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, () => ({
      status: 429,
      body: { error: 'slow_down' },
      headers: { 'retry-after': '120' },
    }))
    const clock = new ManualClock()
    const client = track(
      createTokenClient(exampleSource(), { dispatcher: agent, clock, random: () => 0 }),
    )
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_RATE_LIMITED',
      retryable: true,
      status: 429,
    })
    expect((error as TokenKeeperError).retryAt).toBe(clock.now() + 120_000)

    // Before Retry-After: callers fail fast with the same error, no request.
    await clock.advance(119_000)
    await expect(client.getToken()).rejects.toBe(error)
    expect(endpoint.count).toBe(1)
    await clock.advance(1_000)
    await expect(client.getToken()).rejects.toMatchObject({ code: 'TOKEN_ENDPOINT_RATE_LIMITED' })
    expect(endpoint.count).toBe(2)
  })

  it('caches errors that retrying cannot fix, briefly', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, () => ({
      status: 401,
      body: { error: 'invalid_client' },
    }))
    const clock = new ManualClock()
    const events = captureEvents()
    const client = track(
      createTokenClient(exampleSource(), { dispatcher: agent, clock, negativeCacheTtl: 30 }),
    )
    try {
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => client.getToken()))
      for (let index = 0; index < 10; index++) await client.getToken().catch(() => {})
      expect(results.every((result) => result.status === 'rejected')).toBe(true)
      expect(endpoint.count).toBe(1)
      await clock.advance(30_000)
      await client.getToken().catch(() => {})
      expect(endpoint.count).toBe(2)
      const failed = events.events.filter((entry) => entry.name === 'failed')
      expect(failed[0]?.event.error).toMatchObject({
        code: 'TOKEN_ENDPOINT_REJECTED',
        retryable: false,
      })
    } finally {
      events.stop()
    }
  })

  it('wraps unexpected errors of a source into a TokenKeeperError', async () => {
    const source = exampleSource()
    source.requestToken = async () => {
      throw new TypeError('boom')
    }
    const client = track(createTokenClient(source, { clock: new ManualClock() }))
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(TokenKeeperError.is(error)).toBe(true)
    expect(error).toMatchObject({ retryable: true })
  })
})

describe('invalidate', () => {
  it('is compare-and-invalidate: only the current token is dropped, and renewed once', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const client = track(
      createTokenClient(exampleSource(), { dispatcher: agent, clock: new ManualClock() }),
    )
    const first = await client.getToken()

    expect(client.invalidate(first)).toBe(true)
    expect(client.invalidate(first)).toBe(false)
    const second = await client.getToken()
    expect(second.value).toBe('token-2')
    expect(client.invalidate(first.value)).toBe(false)
    expect((await client.getToken()).value).toBe('token-2')
    expect(endpoint.count).toBe(2)
  })

  it('hands the rejected entry (with its state) to the source as previous', async () => {
    const clock = new ManualClock()
    const source = exampleSource()
    let calls = 0
    const seen: unknown[] = []
    source.requestToken = async (context) => {
      seen.push(context.previous?.state ?? null)
      calls++
      return {
        value: `token-${calls}`,
        expiresIn: 600,
        state: { refresh: `r-${calls}` },
        stateExpiresAt: clock.now() + 3600_000,
      }
    }
    const client = track(createTokenClient(source, { clock }))
    client.invalidate(await client.getToken())
    await client.getToken()
    expect(seen).toEqual([null, { refresh: 'r-1' }])
  })
})

describe('abort and close', () => {
  it("a caller's AbortSignal cancels only that caller's wait", async () => {
    const agent = mockAgent()
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const source = exampleSource()
    const original = source.requestToken.bind(source)
    source.requestToken = async (context) => {
      await gate
      return original(context)
    }
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const client = track(createTokenClient(source, { dispatcher: agent, clock: new ManualClock() }))
    const controller = new AbortController()
    const impatient = client.getToken({ signal: controller.signal })
    const patient = client.getToken()
    controller.abort(new Error('gave up'))
    await expect(impatient).rejects.toThrow('gave up')
    release()
    expect((await patient).value).toBe('token-1')
    expect(endpoint.count).toBe(1)
  })

  it('close() stops timers and in-flight work; later calls fail with CLIENT_CLOSED', async () => {
    const agent = mockAgent()
    tokenEndpoint(agent, numberedTokens())
    const clock = new ManualClock()
    const source = exampleSource()
    const client = createTokenClient(source, { dispatcher: agent, clock })
    await client.getToken()
    expect(clock.pendingTimers).toBe(1)

    const hanging = exampleSource()
    hanging.requestToken = (context) =>
      new Promise((_, reject) =>
        context.signal.addEventListener('abort', () => reject(context.signal.reason)),
      )
    const stuck = createTokenClient(hanging, { clock })
    const pending = stuck.getToken()

    await client.close()
    await stuck.close()
    expect(clock.pendingTimers).toBe(0)
    await expect(pending).rejects.toMatchObject({ code: 'CLIENT_CLOSED' })
    await expect(client.getToken()).rejects.toMatchObject({ code: 'CLIENT_CLOSED' })
  })
})

describe('revoke-on-reissue sources', () => {
  it('are never renewed speculatively: no timer, renewal only when needed', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens(3600))
    const clock = new ManualClock()
    const client = track(
      createTokenClient(exampleSource({ reissueRevokesPrevious: true }), {
        dispatcher: agent,
        clock,
      }),
    )
    await client.getToken()
    await clock.advance(59 * MINUTE)
    expect((await client.getToken()).value).toBe('token-1')
    expect(endpoint.count).toBe(1)
    await clock.advance(40_000) // inside the mandatory window
    expect((await client.getToken()).value).toBe('token-2')
    expect(endpoint.count).toBe(2)
  })

  it('issue under the store lease and re-read the store after getting it', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens(3600))
    const clock = new ManualClock()
    const store = new MemoryTokenStore({ clock })
    const leases: string[] = []
    const lease = store.lease.bind(store)
    store.lease = (key, options) => {
      leases.push(key)
      return lease(key, options)
    }
    const source = () => exampleSource({ reissueRevokesPrevious: true })
    const clientsSharing = Array.from({ length: 5 }, () =>
      track(createTokenClient(source(), { dispatcher: agent, clock, store })),
    )
    const tokens = await Promise.all(
      clientsSharing.flatMap((client) => [client.getToken(), client.getToken()]),
    )
    expect(endpoint.count).toBe(1)
    expect(new Set(tokens.map((token) => token.value))).toEqual(new Set(['token-1']))
    expect(leases.length).toBe(5)
  })
})

describe('events', () => {
  it('publishes requested, issued, renewed, invalidated, failed and served-stale without token values', async () => {
    const agent = mockAgent()
    let fail = false
    tokenEndpoint(agent, (index) =>
      fail
        ? { status: 500, body: {} }
        : { body: { access_token: `token-${index + 1}`, expires_in: 600 } },
    )
    const clock = new ManualClock()
    const capture = captureEvents()
    try {
      const client = track(createTokenClient(exampleSource(), { dispatcher: agent, clock }))
      const token = await client.getToken()
      client.invalidate(token)
      await client.getToken()
      fail = true
      await clock.advance(9.7 * MINUTE)
      await client.getToken()
      const names = new Set(capture.events.map((entry) => entry.name))
      for (const name of [
        'requested',
        'issued',
        'renewed',
        'invalidated',
        'failed',
        'servedStale',
      ]) {
        expect(names).toContain(name)
      }
      const serialized = JSON.stringify(capture.events)
      expect(serialized).not.toContain('token-1')
      expect(serialized).not.toContain('token-2')
      expect(capture.events.every((entry) => entry.event.key === 'example:client-1')).toBe(true)
      const issued = capture.events.find((entry) => entry.name === 'issued')
      expect(issued?.event.durationMs).toBeTypeOf('number')
    } finally {
      capture.stop()
    }
  })
})

/** Lets pending I/O callbacks (MockAgent replies) run. */
async function settle(rounds = 20): Promise<void> {
  for (let round = 0; round < rounds; round++) await new Promise((resolve) => setImmediate(resolve))
}

/** Lets real I/O (MockAgent replies) settle until a condition holds. */
async function until(condition: () => boolean, rounds = 200): Promise<void> {
  for (let round = 0; round < rounds && !condition(); round++) {
    await new Promise((resolve) => setImmediate(resolve))
  }
  expect(condition()).toBe(true)
}

describe('source knobs', () => {
  it('rejectionGrace keeps a token that an API rejects soon after issue', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens(3600))
    const clock = new ManualClock()
    const source = { ...exampleSource(), rejectionGrace: 300_000 }
    const client = track(createTokenClient(source, { dispatcher: agent, clock }))
    const token = await client.getToken()
    expect(client.invalidate(token)).toBe(false)
    expect((await client.getToken()).value).toBe('token-1')
    await clock.advance(300_000)
    expect(client.invalidate(token)).toBe(true)
    expect((await client.getToken()).value).toBe('token-2')
    expect(endpoint.count).toBe(2)
  })

  it('minimumIssueInterval is a floor under backoff and the negative cache', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, () => ({ status: 503, body: {} }))
    const clock = new ManualClock()
    const source = { ...exampleSource(), minimumIssueInterval: 300_000 }
    const client = track(createTokenClient(source, { dispatcher: agent, clock }))
    await client.getToken().catch(() => {})
    for (let minute = 0; minute < 4; minute++) {
      await clock.advance(60_000)
      await client.getToken().catch(() => {})
    }
    expect(endpoint.count).toBe(1)
    await clock.advance(60_000)
    await client.getToken().catch(() => {})
    expect(endpoint.count).toBe(2)
  })

  it('a revoke-on-reissue source stops serving the previous token after an unusable 2xx answer', async () => {
    const agent = mockAgent()
    let answer = (index: number) => ({
      body: { access_token: `token-${index + 1}`, expires_in: 600 } as unknown,
      status: 200,
    })
    const endpoint = tokenEndpoint(agent, (index) => answer(index))
    const clock = new ManualClock()
    const client = track(
      createTokenClient(exampleSource({ reissueRevokesPrevious: true }), {
        dispatcher: agent,
        clock,
      }),
    )
    await client.getToken()
    answer = () => ({ body: '<html>proxy</html>', status: 200 })
    await clock.advance(580_000) // inside the mandatory window: callers wait for a reissue
    await expect(client.getToken()).rejects.toMatchObject({ code: 'INVALID_TOKEN_RESPONSE' })
    // token-1 is probably revoked by that reissue: not served stale.
    await expect(client.getToken()).rejects.toMatchObject({ code: 'INVALID_TOKEN_RESPONSE' })
    expect(endpoint.count).toBe(2)
  })
})

describe('forceRefresh', () => {
  it('fails when the forced request fails, instead of serving the current token', async () => {
    const agent = mockAgent()
    let fail = false
    tokenEndpoint(agent, (index) =>
      fail
        ? { status: 400, body: { error: 'invalid_client' } }
        : { body: { access_token: `token-${index + 1}`, expires_in: 600 } },
    )
    const client = track(
      createTokenClient(exampleSource(), { dispatcher: agent, clock: new ManualClock() }),
    )
    await client.getToken()
    fail = true
    await expect(client.getToken({ forceRefresh: true })).rejects.toMatchObject({
      code: 'TOKEN_ENDPOINT_REJECTED',
    })
    expect((await client.getToken()).value).toBe('token-1')
  })
})

describe('a shared store that is down', () => {
  it('keeps serving the valid token this process holds, and says so', async () => {
    const agent = mockAgent()
    tokenEndpoint(agent, numberedTokens(3600))
    const clock = new ManualClock()
    const inner = new MemoryTokenStore({ clock })
    let down = false
    const listeners = new Set<() => void>()
    const store: TokenStore = {
      shared: true,
      get: (key) => (down ? Promise.reject(new StoreError('Redis is down')) : inner.get(key)),
      set: (key, entry, options) => inner.set(key, entry, options),
      invalidate: (key, value) => inner.invalidate(key, value),
      delete: (key) => inner.delete(key),
      watch: (_key, listener) => {
        listeners.add(listener)
        return () => listeners.delete(listener)
      },
    }
    const capture = captureEvents()
    try {
      const client = track(createTokenClient(exampleSource(), { dispatcher: agent, clock, store }))
      await client.getToken()
      down = true
      for (const listener of listeners) listener() // the store stops vouching for its copy
      expect((await client.getToken()).value).toBe('token-1')
      expect(
        capture.events.some(
          (entry) => entry.name === 'servedStale' && entry.event.reason === 'store-unavailable',
        ),
      ).toBe(true)
    } finally {
      capture.stop()
    }
  })

  it('fails when there is no valid token to fall back on', async () => {
    const store: TokenStore = {
      get: () => Promise.reject(new StoreError('Redis is down')),
      set: () => true,
      invalidate: () => false,
      delete: () => {},
    }
    const client = track(createTokenClient(exampleSource(), { clock: new ManualClock(), store }))
    await expect(client.getToken()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' })
  })

  it('asks for exclusive leases for revoke-on-reissue and exclusive-issue sources', async () => {
    const seen: Array<boolean | undefined> = []
    for (const source of [
      exampleSource(),
      exampleSource({ reissueRevokesPrevious: true }),
      { ...exampleSource(), exclusiveIssue: true },
    ]) {
      const agent = mockAgent()
      tokenEndpoint(agent, numberedTokens())
      const clock = new ManualClock()
      const store = new MemoryTokenStore({ clock })
      const lease = store.lease.bind(store)
      store.lease = (key, options) => {
        seen.push(options.exclusive)
        return lease(key, options)
      }
      const client = track(createTokenClient(source, { dispatcher: agent, clock, store }))
      await client.getToken()
    }
    expect(seen).toEqual([false, true, true])
  })
})

describe('compare-and-set after issuing', () => {
  it('keeps the token it just got when an older copy was written meanwhile', async () => {
    const clock = new ManualClock()
    const store = new MemoryTokenStore({ clock })
    const stale = {
      value: 'token-0',
      type: 'Bearer',
      expiresAt: clock.now() + 60_000,
      issuedAt: clock.now() - 600_000,
    }
    const source = exampleSource({ reissueRevokesPrevious: true })
    source.requestToken = async () => {
      store.set('example:client-1', stale) // someone re-seeds an older copy mid-request
      return { value: 'token-1', expiresIn: 600 }
    }
    const client = track(createTokenClient(source, { clock, store }))
    expect((await client.getToken()).value).toBe('token-1')
    expect(store.get('example:client-1')?.value).toBe('token-1')
  })

  it('yields to a newer token written meanwhile', async () => {
    const clock = new ManualClock()
    const store = new MemoryTokenStore({ clock })
    const source = exampleSource()
    source.requestToken = async () => {
      const issued = { value: 'token-1', expiresIn: 600 }
      await clock.advance(1000)
      store.set('example:client-1', {
        value: 'token-2',
        type: 'Bearer',
        expiresAt: clock.now() + 600_000,
        issuedAt: clock.now(),
      })
      return issued
    }
    const client = track(createTokenClient(source, { clock, store }))
    expect((await client.getToken()).value).toBe('token-2')
  })
})

describe('robustness', () => {
  it('refuses options that would break the lifecycle, naming them', () => {
    const bad: Array<[string, Record<string, unknown>]> = [
      ['defaultLifetime', { defaultLifetime: Number.NaN }],
      ['clockTolerance', { clockTolerance: -1 }],
      ['timeout', { timeout: 0 }],
      ['backoff.max', { backoff: { max: Number.POSITIVE_INFINITY } }],
      ['origins', { origins: 'https://api.example.com' }],
      ['store', { store: {} }],
      ['clock', { clock: { now: () => 0 } }],
    ]
    for (const [setting, options] of bad) {
      expect(() => createTokenClient(exampleSource(), options as never)).toThrowError(
        expect.objectContaining({ code: 'CONFIGURATION_INVALID', setting }),
      )
    }
  })

  it('does not renew again at once when a renewal does not extend the expiry', async () => {
    const agent = mockAgent()
    // A server that hands back its cached token until it expires.
    const clock = new ManualClock()
    const endpoint = tokenEndpoint(agent, () => ({
      body: {
        access_token: 'cached',
        expires_in: Math.max(1, Math.round((expiry - clock.now()) / 1000)),
      },
    }))
    const expiry = clock.now() + 600_000
    const client = track(
      createTokenClient(exampleSource(), { dispatcher: agent, clock, random: () => 0 }),
    )
    await client.getToken()
    for (let second = 0; second < 595; second++) {
      await clock.advance(1000)
      await client.getToken()
    }
    // One initial request, one background renewal that brought nothing new; no storm.
    expect(endpoint.count).toBeLessThanOrEqual(3)
  })
})
