import { inspect } from 'node:util'
import {
  ConfigurationError,
  ManualClock,
  MemoryTokenStore,
  type TokenClient,
  TokenEndpointError,
} from '@tokenkeeper/auth-core'
import { captureTokenEvents, createMockAgent, headerRecord } from '@tokenkeeper/auth-core/testing'
import { type MockAgent, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  BASE_URL,
  CLIENT_ID,
  CLIENT_SECRET,
  CUSTOMER_ID,
  fixture,
  nextEvent,
  numberedTokens,
  recordingLogger,
  tokenEndpoint,
} from './__fixtures__/harness.ts'
import { createAkamaiIdentity } from './akamai-identity-provider.ts'
import { AKAMAI_IDENTITY_ENVIRONMENT } from './akamai-identity-settings.ts'
import { akamaiIdentityTokenSource } from './akamai-identity-token-source.ts'
import { createAkamaiWebhooks } from './akamai-identity-webhooks.ts'

const SUBSCRIPTIONS_PATH = `/${CUSTOMER_ID}/webhooks/subscriptions`
const SUBSCRIPTIONS_URL = `${BASE_URL}${SUBSCRIPTIONS_PATH}`

const settings = {
  region: 'us',
  customerId: CUSTOMER_ID,
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
}

let agent: MockAgent
let clock: ManualClock
const clients: TokenClient[] = []

beforeEach(() => {
  for (const name of Object.values(AKAMAI_IDENTITY_ENVIRONMENT)) vi.stubEnv(name, '')
  agent = createMockAgent()
  clock = new ManualClock()
})

afterEach(async () => {
  vi.unstubAllEnvs()
  await Promise.all(clients.splice(0).map((client) => client.close()))
  await agent.close()
})

function akamai(overrides: Parameters<typeof createAkamaiIdentity>[0] = {}): TokenClient {
  const client = createAkamaiIdentity({ ...settings, dispatcher: agent, clock, ...overrides })
  clients.push(client)
  return client
}

/**
 * The Webhooks v3 subscriptions API: answers 403 `{"errors":"Forbidden"}` to any token in
 * `rejected` (as Akamai does for an expired token), 200 otherwise. Records the tokens it saw.
 */
function subscriptionsApi(rejected: Set<string>) {
  const seen: Array<string | undefined> = []
  agent
    .get(BASE_URL)
    .intercept({ path: SUBSCRIPTIONS_PATH, method: 'GET' })
    .reply((options) => {
      const authorization = headerRecord(options.headers).authorization
      seen.push(authorization)
      const token = authorization?.replace(/^Bearer /, '') ?? ''
      if (!authorization || rejected.has(token)) {
        return {
          statusCode: 403,
          data: fixture('forbidden.json'),
          responseOptions: { headers: { 'content-type': 'application/json' } },
        }
      }
      return {
        statusCode: 200,
        data: fixture('subscriptions.json'),
        responseOptions: { headers: { 'content-type': 'application/json' } },
      }
    })
    .persist()
  return { seen }
}

describe('createAkamaiIdentity', () => {
  it('returns a client that requests once and then serves the cached token', async () => {
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const client = akamai()
    const [first, second] = await Promise.all([client.getToken(), client.getToken()])
    const third = await client.getToken()
    expect(first.value).toBe('opaque-token-1')
    expect(second).toBe(first)
    expect(third).toBe(first)
    expect(first.expiresAt).toBe(clock.now() + 3_600_000)
    expect(first.scope).toEqual(['*:webhooks/**'])
    expect(endpoint.requests).toHaveLength(1)
    expect(await client.getAuthHeaders()).toEqual({ authorization: 'Bearer opaque-token-1' })
  })

  it('hands every TokenClientOptions field to the core', async () => {
    const endpoint = tokenEndpoint(agent, numberedTokens(3600))
    const store = new MemoryTokenStore({ clock })
    const { lines, logger } = recordingLogger()
    const client = akamai({ store, logger, refreshWindow: 600, clockTolerance: 60 })
    await client.getToken()
    const key = akamaiIdentityTokenSource(settings).cacheKey()
    expect((store.get(key) as { value: string } | undefined)?.value).toBe('opaque-token-1')
    // refreshWindow 600 s (capped at a fifth of 3600 s = 720 s): renewal starts within the
    // last 600 s, give or take jitter, and never before.
    await clock.advance(2_900_000)
    expect(endpoint.requests).toHaveLength(1)
    const renewed = nextEvent('renewed')
    await clock.advance(600_000)
    expect((await renewed).reason).toBe('renewal')
    expect(endpoint.requests).toHaveLength(2)
    expect((await client.getToken()).value).toBe('opaque-token-2')
    expect(lines.join('\n')).not.toContain(CLIENT_SECRET)
  })

  it('fails on the first getToken(), not at creation, when a variable is missing', async () => {
    const client = akamai({ clientSecret: undefined })
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConfigurationError)
    expect((error as ConfigurationError).message).toBe(
      'akamai-identity: clientSecret is missing; pass { clientSecret } or set AKAMAI_IDENTITY_CLIENT_SECRET',
    )
  })

  it('rejects a bad explicit setting at creation', () => {
    expect(() => createAkamaiIdentity({ ...settings, region: 'us.evil.example' })).toThrow(
      ConfigurationError,
    )
  })

  it('works from the environment alone', async () => {
    const env = AKAMAI_IDENTITY_ENVIRONMENT
    vi.stubEnv(env.oidcUrl, `${BASE_URL}/${CUSTOMER_ID}/login`)
    vi.stubEnv(env.clientId, CLIENT_ID)
    vi.stubEnv(env.clientSecret, CLIENT_SECRET)
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const client = createAkamaiIdentity({ dispatcher: agent, clock })
    clients.push(client)
    expect((await client.getToken()).value).toBe('opaque-token-1')
    expect(endpoint.requests).toHaveLength(1)
  })
})

describe('one cache entry per (customer, client, scope)', () => {
  it('two scopes are two entries and two requests; the same scope shares one', async () => {
    const endpoint = tokenEndpoint(agent, (index, seen) => ({
      body: {
        access_token: `opaque-token-${index + 1}`,
        expires_in: 3600,
        scope: new URLSearchParams(seen.body).get('scope'),
      },
    }))
    const store = new MemoryTokenStore({ clock })
    const webhooks = akamai({ store })
    const config = akamai({ store, scope: '*:config/**' })
    const webhooksAgain = akamai({ store, scope: '*:webhooks/**' })

    const webhooksToken = await webhooks.getToken()
    const configToken = await config.getToken()
    const sharedToken = await webhooksAgain.getToken()

    expect(endpoint.requests.map((seen) => new URLSearchParams(seen.body).get('scope'))).toEqual([
      '*:webhooks/**',
      '*:config/**',
    ])
    expect(webhooksToken.value).toBe('opaque-token-1')
    expect(configToken.value).toBe('opaque-token-2')
    expect(configToken.scope).toEqual(['*:config/**'])
    expect(sharedToken.value).toBe('opaque-token-1')

    const keyOf = (scope: string) => akamaiIdentityTokenSource({ ...settings, scope }).cacheKey()
    expect(keyOf('*:webhooks/**')).not.toBe(keyOf('*:config/**'))
    expect((store.get(keyOf('*:webhooks/**')) as { value: string }).value).toBe('opaque-token-1')
    expect((store.get(keyOf('*:config/**')) as { value: string }).value).toBe('opaque-token-2')
  })

  it('another client id or customer is another entry', async () => {
    const endpoint = tokenEndpoint(agent, numberedTokens())
    tokenEndpoint(agent, numberedTokens(), { path: '/other-customer/login/token' })
    const store = new MemoryTokenStore({ clock })
    await akamai({ store }).getToken()
    await akamai({ store, clientId: 'other-client' }).getToken()
    await akamai({ store, customerId: 'other-customer' }).getToken()
    expect(endpoint.requests).toHaveLength(2)
    agent.assertNoPendingInterceptors()
  })
})

describe('403 means "token rejected": renew once and retry', () => {
  it('client.fetch renews and retries once when the API answers 403 Forbidden', async () => {
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const api = subscriptionsApi(new Set(['opaque-token-1']))
    const client = akamai()
    const response = await client.fetch(SUBSCRIPTIONS_URL)
    expect(response.status).toBe(200)
    expect(
      ((await response.json()) as { _embedded: { subscriptions: unknown[] } })._embedded
        .subscriptions,
    ).toHaveLength(1)
    expect(api.seen).toEqual(['Bearer opaque-token-1', 'Bearer opaque-token-2'])
    expect(endpoint.requests).toHaveLength(2)
    expect((await client.getToken()).value).toBe('opaque-token-2')
  })

  it('client.fetch: many concurrent rejected calls cause exactly one renewal', async () => {
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const api = subscriptionsApi(new Set(['opaque-token-1']))
    const client = akamai()
    await client.getToken()
    const responses = await Promise.all(
      Array.from({ length: 25 }, () => client.fetch(SUBSCRIPTIONS_URL)),
    )
    expect(responses.map((response) => response.status)).toEqual(Array(25).fill(200))
    await Promise.all(responses.map((response) => response.body?.cancel()))
    expect(endpoint.requests).toHaveLength(2)
    expect(api.seen.filter((seen) => seen === 'Bearer opaque-token-1')).toHaveLength(25)
    expect(api.seen.filter((seen) => seen === 'Bearer opaque-token-2')).toHaveLength(25)
  })

  it('client.fetch renews on 401 too', async () => {
    const endpoint = tokenEndpoint(agent, numberedTokens())
    let calls = 0
    agent
      .get(BASE_URL)
      .intercept({ path: SUBSCRIPTIONS_PATH, method: 'GET' })
      .reply(() =>
        calls++ === 0 ? { statusCode: 401, data: '' } : { statusCode: 200, data: '{}' },
      )
      .persist()
    const response = await akamai().fetch(SUBSCRIPTIONS_URL)
    expect(response.status).toBe(200)
    expect(endpoint.requests).toHaveLength(2)
  })

  it('retries only once: a second 403 reaches the caller', async () => {
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const api = subscriptionsApi(new Set(['opaque-token-1', 'opaque-token-2', 'opaque-token-3']))
    const response = await akamai().fetch(SUBSCRIPTIONS_URL)
    expect(response.status).toBe(403)
    expect(await response.json()).toEqual({ errors: 'Forbidden' })
    expect(api.seen).toHaveLength(2)
    expect(endpoint.requests).toHaveLength(2)
  })

  it('does not renew on other errors (404)', async () => {
    const endpoint = tokenEndpoint(agent, numberedTokens())
    agent
      .get(BASE_URL)
      .intercept({ path: `${SUBSCRIPTIONS_PATH}/missing`, method: 'GET' })
      .reply(404, { errors: 'Not Found' })
    const response = await akamai().fetch(`${SUBSCRIPTIONS_URL}/missing`)
    expect(response.status).toBe(404)
    await response.body?.cancel()
    expect(endpoint.requests).toHaveLength(1)
  })

  it('client.interceptor() renews and retries once on 403, through Dispatcher.compose', async () => {
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const api = subscriptionsApi(new Set(['opaque-token-1']))
    const client = akamai()
    const dispatcher = agent.compose(client.interceptor())
    const response = await request(SUBSCRIPTIONS_URL, { dispatcher })
    expect(response.statusCode).toBe(200)
    expect(((await response.body.json()) as { _embedded: unknown })._embedded).toBeDefined()
    expect(api.seen).toEqual(['Bearer opaque-token-1', 'Bearer opaque-token-2'])
    expect(endpoint.requests).toHaveLength(2)
  })

  it('client.interceptor(): many concurrent rejected calls cause exactly one renewal', async () => {
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const api = subscriptionsApi(new Set(['opaque-token-1']))
    const client = akamai()
    await client.getToken()
    const dispatcher = agent.compose(client.interceptor())
    const responses = await Promise.all(
      Array.from({ length: 25 }, () => request(SUBSCRIPTIONS_URL, { dispatcher })),
    )
    expect(responses.map((response) => response.statusCode)).toEqual(Array(25).fill(200))
    await Promise.all(responses.map((response) => response.body.dump()))
    expect(endpoint.requests).toHaveLength(2)
    expect(api.seen.filter((seen) => seen === 'Bearer opaque-token-2')).toHaveLength(25)
  })

  it('the interceptor attaches the token only for the Akamai API origin', async () => {
    tokenEndpoint(agent, numberedTokens())
    const elsewhere: Array<string | undefined> = []
    agent
      .get('https://hooks.example.com')
      .intercept({ path: '/akamai', method: 'GET' })
      .reply((options) => {
        elsewhere.push(headerRecord(options.headers).authorization)
        return { statusCode: 200, data: 'ok' }
      })
    const dispatcher = agent.compose(akamai().interceptor())
    const response = await request('https://hooks.example.com/akamai', { dispatcher })
    await response.body.dump()
    expect(elsewhere).toEqual([undefined])
  })

  it('client.fetch refuses to send the token to another origin', async () => {
    const error = await akamai()
      .fetch('https://hooks.example.com/akamai')
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConfigurationError)
    expect((error as ConfigurationError).code).toBe('ORIGIN_NOT_ALLOWED')
  })
})

describe('secrets never appear in output', () => {
  it('not in errors, inspect, JSON, logs or diagnostics events', async () => {
    const secret = 'SECRET-sentinel-123:%+ ü'
    const basic = Buffer.from(`${CLIENT_ID}:${encodeURIComponent(secret)}`).toString('base64')
    const capture = captureTokenEvents()
    const { lines, logger } = recordingLogger()
    let fail = true
    const endpoint = tokenEndpoint(agent, (index) =>
      fail
        ? {
            status: 401,
            body: { error: 'invalid_client', error_description: `wrong secret ${secret}` },
          }
        : numberedTokens()(index),
    )
    subscriptionsApi(new Set(['opaque-token-2']))
    const outputs: string[] = []
    try {
      const client = akamai({ clientSecret: secret, logger, negativeCacheTtl: 1 })
      const error = await client.getToken().catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(TokenEndpointError)
      outputs.push(
        (error as Error).message,
        inspect(error, { depth: 10 }),
        JSON.stringify(error),
        String(error),
      )
      fail = false
      await clock.advance(1_000)
      const token = await client.getToken()
      const response = await client.fetch(SUBSCRIPTIONS_URL)
      await response.body?.cancel()
      outputs.push(
        inspect(client, { depth: 10, showHidden: true }),
        inspect(token, { depth: 10 }),
        JSON.stringify(token),
        String(token),
        inspect(akamaiIdentityTokenSource({ ...settings, clientSecret: secret }), {
          depth: 10,
          showHidden: true,
        }),
      )
      expect(endpoint.requests.length).toBeGreaterThanOrEqual(3)
    } finally {
      capture.stop()
    }
    expect(capture.events.length).toBeGreaterThan(3)
    expect(capture.events.map(({ event }) => event.vendor)).toContain('akamai-identity')
    outputs.push(JSON.stringify(capture.events), inspect(capture.events, { depth: 10 }), ...lines)
    expect(lines.length).toBeGreaterThan(0)
    const everything = outputs.join('\n')
    for (const forbidden of [
      'SECRET-sentinel-123',
      encodeURIComponent(secret),
      basic,
      'opaque-token-1',
      'opaque-token-2',
      'opaque-token-3',
    ]) {
      expect(everything).not.toContain(forbidden)
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

/** Everything an error shows: message, stack, inspect and JSON. */
function renderings(value: unknown): string {
  return [
    value instanceof Error ? `${value.message}\n${value.stack}` : '',
    inspect(value, { depth: 10, showHidden: true }),
    JSON.stringify(value) ?? '',
  ].join('\n')
}

describe('servers that echo the request', () => {
  it('the token endpoint echoing the secret and the Basic credential: redacted in every spelling', async () => {
    const secret = 'SECRET-sentinel-123:%+ ü'
    const basic = Buffer.from(`${CLIENT_ID}:${encodeURIComponent(secret)}`).toString('base64')
    const echo = (request: { body: string; headers: Record<string, string> }) =>
      `body=${request.body} authorization=${request.headers.authorization} ${encodeURIComponent(request.headers.authorization ?? '')} secret ${secret} ${encodeURIComponent(secret)} ${new URLSearchParams({ s: secret })}`
    const answers = [
      (text: string) => ({
        status: 400,
        body: { error: 'invalid_client', error_description: text },
      }),
      (text: string) => ({ status: 401, body: { error: text, error_description: text } }),
      (text: string) => ({ status: 403, body: { errors: [text], message: text } }),
      // The secret across the 200-character cut of the description.
      () => ({
        status: 401,
        body: { error: 'invalid_client', error_description: `${'.'.repeat(190)} ${secret}` },
      }),
      (text: string) => ({
        status: 429,
        body: { error: 'slow_down', error_description: text },
        headers: { 'retry-after': '1' },
      }),
    ]
    const endpoint = tokenEndpoint(agent, (index, request) =>
      (answers[index] ?? answers[0]!)(echo(request)),
    )
    const capture = captureTokenEvents()
    const { lines, logger } = recordingLogger()
    const outputs: string[] = []
    const messages: string[] = []
    try {
      for (let attempt = 0; attempt < answers.length; attempt++) {
        const client = akamai({ clientSecret: secret, logger })
        const error = await client.getToken().catch((caught: unknown) => caught)
        expect(error).toBeInstanceOf(TokenEndpointError)
        messages.push((error as Error).message)
        outputs.push(renderings(error), inspect(client, { depth: 10, showHidden: true }))
      }
    } finally {
      capture.stop()
    }
    outputs.push(JSON.stringify(capture.events), ...lines)
    expect(endpoint.requests).toHaveLength(answers.length)
    expect(endpoint.requests[0]?.headers.authorization).toBe(`Basic ${basic}`)
    expect(lines.length).toBeGreaterThan(0)
    expect(capture.events.length).toBeGreaterThan(0)
    expect(messages[0]).toContain('authorization=Basic [redacted]')
    expect(messages[0]).toContain('secret [redacted] [redacted] s=[redacted]')
    const everything = outputs.join('\n')
    for (const value of [secret, basic]) {
      for (const spelling of spellings(value)) expect(everything).not.toContain(spelling)
    }
    expect(everything).not.toContain('SECRET-sentinel')
  })

  it('the Webhooks API echoing the token: redacted from the message, apiMessage and output', async () => {
    tokenEndpoint(agent, numberedTokens())
    const sent: string[] = []
    const statuses = [400, 403, 403, 404, 500]
    agent
      .get(BASE_URL)
      .intercept({ path: SUBSCRIPTIONS_PATH, method: 'GET' })
      .reply((options) => {
        const authorization = headerRecord(options.headers).authorization ?? ''
        sent.push(authorization.replace(/^Bearer /, ''))
        const echo = `GET ${options.path} authorization=${authorization} ${encodeURIComponent(authorization)}`
        return {
          statusCode: statuses[sent.length - 1] ?? 500,
          data: JSON.stringify({
            errors: [echo, { nested: echo }],
            message: echo,
            error_description: echo,
          }),
          responseOptions: { headers: { 'content-type': 'application/json' } },
        }
      })
      .persist()
    const capture = captureTokenEvents()
    const { lines, logger } = recordingLogger()
    const client = akamai({ logger })
    const webhooks = createAkamaiWebhooks(client, settings)
    const errors: unknown[] = []
    try {
      // 400, 403 (renewed and retried, 403 again), 404 and 500.
      for (let call = 0; call < 4; call++) {
        errors.push(await webhooks.list().catch((caught: unknown) => caught))
      }
    } finally {
      capture.stop()
    }
    expect(errors.map((error) => (error as { status?: number }).status)).toEqual([
      400, 403, 404, 500,
    ])
    expect(new Set(sent)).toEqual(new Set(['opaque-token-1', 'opaque-token-2']))
    const first = errors[0] as { apiMessage?: string; message: string }
    expect(first.apiMessage).toContain('authorization=Bearer [redacted] Bearer%20[redacted]')
    expect(first.message).toContain('(GET /')
    const everything = [...errors.map(renderings), JSON.stringify(capture.events), ...lines].join(
      '\n',
    )
    for (const token of sent) {
      for (const spelling of spellings(token)) expect(everything).not.toContain(spelling)
    }
  })

  it('a client without getAuthHeaders: the echoing answer is not quoted at all', async () => {
    const token = 'TOKEN-sentinel-opaque-4711'
    const client = {
      fetch: async () =>
        new Response(JSON.stringify({ errors: `authorization=Bearer ${token}` }), {
          status: 403,
          headers: { 'content-type': 'application/json' },
        }),
    }
    const error = await createAkamaiWebhooks(client, settings)
      .list()
      .catch((caught: unknown) => caught)
    expect(error).toMatchObject({ name: 'AkamaiIdentityApiError', status: 403 })
    expect((error as { apiMessage?: string }).apiMessage).toBeUndefined()
    expect(renderings(error)).not.toContain(token)
  })
})
