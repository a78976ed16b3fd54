import { generateKeyPairSync } from 'node:crypto'
import {
  ConfigurationError,
  ManualClock,
  MemoryTokenStore,
  TokenEndpointError,
  TokenKeeperError,
} from '@tokenkeeper/auth-core'
import { createMockAgent } from '@tokenkeeper/auth-core/testing'
import { describe, expect, it } from 'vitest'
import {
  API_KEY,
  MockKeycloak,
  PASSWORD,
  SharedTestStore,
  settle,
  USERNAME,
} from '../test/mock-keycloak.ts'
import { fixture, isolate, setup, TOKEN_LIFETIME } from '../test/setup.ts'
import { apiaxTokenSource } from './apiax-token-source.ts'
import { createApiax } from './index.ts'

isolate()

const many = <T>(count: number, make: (index: number) => T): T[] =>
  Array.from({ length: count }, (_, index) => make(index))

describe('one refresh at a time', () => {
  it('100 concurrent callers on a cold cache cause one password login', async () => {
    const { keycloak, client } = setup()
    const tokens = await Promise.all(many(100, () => client.getToken()))
    expect(new Set(tokens.map((token) => token.value))).toEqual(new Set(['SECRET-access-1']))
    expect(keycloak.grants()).toEqual(['password'])
  })

  it('100 concurrent callers on an expired token cause one refresh and no session is killed (single-use refresh tokens)', async () => {
    const { keycloak, client, clock } = setup()
    expect(keycloak.singleUse).toBe(true)
    await client.getToken()
    clock.set(clock.now() + TOKEN_LIFETIME + 1)
    // Half of them even insist on a new token: still one request between them.
    const tokens = await Promise.all(
      many(100, (index) => client.getToken(index % 2 === 0 ? { forceRefresh: true } : {})),
    )
    expect(new Set(tokens.map((token) => token.value))).toEqual(new Set(['SECRET-access-2']))
    expect(keycloak.grants()).toEqual(['password', 'refresh_token'])
    expect(keycloak.killedSessions).toBe(0)
  })

  it('100 concurrent callers after an API rejected the token cause one refresh', async () => {
    const { keycloak, client } = setup()
    const token = await client.getToken()
    client.invalidate(token)
    const tokens = await Promise.all(many(100, () => client.getToken()))
    expect(new Set(tokens.map((next) => next.value))).toEqual(new Set(['SECRET-access-2']))
    expect(keycloak.grants()).toEqual(['password', 'refresh_token'])
    expect(keycloak.killedSessions).toBe(0)
  })

  it('two clients (two processes) sharing a store refresh once between them, under the lease', async () => {
    const store = new SharedTestStore()
    const first = setup({ store })
    const second = setup({ store }, first)
    const { keycloak, clock } = first

    const cold = await Promise.all(
      many(100, (index) => (index % 2 === 0 ? first.client : second.client).getToken()),
    )
    expect(new Set(cold.map((token) => token.value))).toEqual(new Set(['SECRET-access-1']))
    expect(keycloak.grants()).toEqual(['password'])

    for (let round = 2; round <= 4; round++) {
      clock.set(clock.now() + TOKEN_LIFETIME + 1)
      const tokens = await Promise.all(
        many(100, (index) => (index % 2 === 0 ? second.client : first.client).getToken()),
      )
      expect(new Set(tokens.map((token) => token.value))).toEqual(
        new Set([`SECRET-access-${round}`]),
      )
    }
    expect(keycloak.grants()).toEqual([
      'password',
      'refresh_token',
      'refresh_token',
      'refresh_token',
    ])
    // Each refresh used the newest refresh token, whichever client made it.
    expect(keycloak.presentedRefreshTokens()).toEqual([
      'SECRET-refresh-1',
      'SECRET-refresh-2',
      'SECRET-refresh-3',
    ])
    expect(keycloak.killedSessions).toBe(0)
    expect(store.leasesTaken).toBeGreaterThanOrEqual(4)
    expect(store.only()?.state).toMatchObject({ refreshToken: 'SECRET-refresh-4' })
  })

  it('two clients sharing one MemoryTokenStore refresh once between them', async () => {
    const clock = new ManualClock()
    const store = new MemoryTokenStore({ clock })
    const first = setup({ store, clock })
    const second = setup({ store, clock }, first)
    await first.client.getToken()
    clock.set(clock.now() + TOKEN_LIFETIME + 1)
    await Promise.all(
      many(100, (index) => (index % 2 === 0 ? first.client : second.client).getToken()),
    )
    expect(first.keycloak.grants()).toEqual(['password', 'refresh_token'])
    expect(first.keycloak.killedSessions).toBe(0)
  })
})

describe('lockout safety', () => {
  it('a wrong password is sent once, whatever the number of callers and calls, and never again automatically', async () => {
    const { keycloak, client, clock } = setup({ password: 'SECRET-wrong-password-1' })

    const results = await Promise.allSettled(many(100, () => client.getToken()))
    expect(keycloak.requests).toHaveLength(1)
    const reasons = new Set(
      results.map((result) => (result.status === 'rejected' ? result.reason : undefined)),
    )
    expect(reasons.size).toBe(1)
    const [error] = reasons
    expect(error).toBeInstanceOf(TokenEndpointError)
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_REJECTED',
      retryable: false,
      status: 401,
      oauthError: 'invalid_grant',
    })
    const message = (error as Error).message
    expect(message).toContain('Invalid user credentials')
    expect(message).toContain('APIAX_PASSWORD')
    expect(message).toContain('password')
    expect(message).toMatch(/lock/)

    // Within the negative-cache time: no request.
    for (let call = 0; call < 20; call++) {
      await expect(client.getToken()).rejects.toBe(error)
      await expect(client.getAuthHeaders()).rejects.toBe(error)
    }
    await expect(client.getToken({ forceRefresh: true })).rejects.toBe(error)
    expect(keycloak.requests).toHaveLength(1)

    // Long after it: still no request, the source remembers the refusal.
    for (const minutes of [1, 10, 60, 24 * 60]) {
      clock.set(clock.now() + minutes * 60_000)
      await expect(client.getToken()).rejects.toMatchObject({ status: 401 })
      await Promise.allSettled(many(20, () => client.getToken()))
    }
    expect(keycloak.requests).toHaveLength(1)

    // Only an explicit forceRefresh tries once more.
    clock.set(clock.now() + 60_000)
    await expect(client.getToken({ forceRefresh: true })).rejects.toMatchObject({ status: 401 })
    expect(keycloak.requests).toHaveLength(2)
  })

  it('recovers through forceRefresh once the password works again', async () => {
    const { keycloak, client, clock } = setup()
    keycloak.next.password.push({ status: 401, body: fixture('invalid-user-credentials') })
    await expect(client.getToken()).rejects.toMatchObject({ status: 401 })
    clock.set(clock.now() + 31_000)
    await expect(client.getToken()).rejects.toMatchObject({ status: 401 })
    // forceRefresh, like every call, respects the core's negative cache (30 s by default).
    await expect(client.getToken({ forceRefresh: true })).rejects.toMatchObject({ status: 401 })
    expect(keycloak.count('password')).toBe(1)
    clock.set(clock.now() + 31_000)
    await expect(client.getToken({ forceRefresh: true })).resolves.toMatchObject({
      value: 'SECRET-access-1',
    })
    expect(keycloak.count('password')).toBe(2)
  })

  it('a password changed on the server stops background renewals after one failed login', async () => {
    const { keycloak, client, clock } = setup()
    await client.getToken()
    keycloak.passwords.set(USERNAME, 'SECRET-changed-password-2')
    keycloak.endSessions()

    // Through the renewal window, past the expiry, and on for an hour of retries.
    await clock.advance(TOKEN_LIFETIME + 3600_000, { settle })
    expect(keycloak.grants()).toEqual(['password', 'refresh_token', 'password'])
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_REJECTED', status: 401 })
    expect(keycloak.grants()).toEqual(['password', 'refresh_token', 'password'])
  })

  it('a refused refresh followed by a wrong password makes exactly one password request', async () => {
    const { keycloak, client, clock } = setup()
    await client.getToken()
    keycloak.next.refresh_token.push({ status: 400, body: fixture('session-not-active') })
    keycloak.next.password.push({ status: 401, body: fixture('invalid-user-credentials') })
    clock.set(clock.now() + TOKEN_LIFETIME + 1)
    await expect(client.getToken()).rejects.toMatchObject({ status: 401 })
    clock.set(clock.now() + 3600_000)
    await expect(client.getToken()).rejects.toMatchObject({ status: 401 })
    expect(keycloak.grants()).toEqual(['password', 'refresh_token', 'password'])
  })

  it('an account that cannot log in (disabled, locked, not set up) is not retried automatically either', async () => {
    const { keycloak, client, clock } = setup()
    keycloak.next.password.push({ status: 400, body: fixture('account-disabled') })
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_REJECTED', status: 400, retryable: false })
    expect((error as Error).message).toContain('Account disabled')
    expect((error as Error).message).toContain('Apiax support')
    clock.set(clock.now() + 3600_000)
    await expect(client.getToken()).rejects.toBe(error)
    expect(keycloak.requests).toHaveLength(1)
  })
})

describe('settings', () => {
  it('reads every setting from APIAX_* environment variables when the first token is requested', async () => {
    const agent = createMockAgent()
    const tokenUrl = 'https://login.example.test/auth/realms/apiax/protocol/openid-connect/token'
    const keycloak = new MockKeycloak(agent, tokenUrl)
    const client = createApiax({ dispatcher: agent, clock: new ManualClock() })
    try {
      Object.assign(process.env, {
        APIAX_USERNAME: USERNAME,
        APIAX_PASSWORD: PASSWORD,
        APIAX_API_KEY: `${API_KEY}\n`,
        APIAX_CLIENT_ID: 'acme-integration',
        APIAX_TOKEN_URL: tokenUrl,
        APIAX_API_URL: 'https://rules.example.test',
      })
      expect(await client.getAuthHeaders()).toEqual({
        Authorization: 'Bearer SECRET-access-1',
        Apikey: API_KEY,
      })
      expect([...(keycloak.requests[0]?.form ?? [])]).toEqual([
        ['client_id', 'acme-integration'],
        ['grant_type', 'password'],
        ['username', USERNAME],
        ['password', PASSWORD],
      ])
      // The token goes only to the configured rule engine.
      await expect(
        client.fetch('https://rule-engine.apiax.io/api/v3/rules/eval'),
      ).rejects.toMatchObject({ code: 'ORIGIN_NOT_ALLOWED' })
      agent.get('https://rules.example.test').intercept({ path: '/ping' }).reply(200, 'pong')
      expect(await (await client.fetch('https://rules.example.test/ping')).text()).toBe('pong')
    } finally {
      await client.close()
      await agent.close()
    }
  })

  it('reports a missing username or password from the first getToken(), naming option and variable', async () => {
    const agent = createMockAgent()
    const client = createApiax({ dispatcher: agent })
    try {
      const error = await client.getToken().catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(ConfigurationError)
      expect(error).toMatchObject({ code: 'CONFIGURATION_INVALID', setting: 'username' })
      expect((error as Error).message).toContain('APIAX_USERNAME')

      process.env.APIAX_USERNAME = USERNAME
      const missingPassword = await client.getToken().catch((caught: unknown) => caught)
      expect(missingPassword).toMatchObject({ setting: 'password' })
      expect((missingPassword as Error).message).toContain('APIAX_PASSWORD')

      // Fixed in the environment: works without a new client.
      process.env.APIAX_PASSWORD = PASSWORD
      const keycloak = new MockKeycloak(agent)
      await expect(client.getToken()).resolves.toMatchObject({ value: 'SECRET-access-1' })
      expect(keycloak.requests).toHaveLength(1)
    } finally {
      await client.close()
      await agent.close()
    }
  })

  it('reads the fallbacks from the environment option; {} turns them off', async () => {
    process.env.APIAX_USERNAME = 'SECRET-server-user'
    process.env.APIAX_PASSWORD = 'SECRET-server-password'
    process.env.APIAX_TOKEN_URL = 'https://server.example.test/token'
    const userSupplied = createApiax({
      tokenUrl: 'https://attacker.example.test/token',
      username: USERNAME,
      env: {},
      dispatcher: createMockAgent(),
    })
    const error = await userSupplied.getToken().catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'CONFIGURATION_INVALID', setting: 'password' })
    await userSupplied.close()

    const { keycloak, client } = setup({
      username: undefined,
      password: undefined,
      apiKey: undefined,
      env: { APIAX_USERNAME: USERNAME, APIAX_PASSWORD: PASSWORD, APIAX_API_KEY: API_KEY },
    })
    expect(await client.getAuthHeaders()).toMatchObject({ Apikey: API_KEY })
    expect(keycloak.requests[0]?.form.get('password')).toBe(PASSWORD)
    expect(() => createApiax({ env: 'none' as never })).toThrow(ConfigurationError)
  })

  it('rejects bad values passed in code at factory time', () => {
    const { privateKey: ecKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const { privateKey: smallKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
    const { privateKey: rsaKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const encrypted = rsaKey
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'SECRET-pass' })
      .toString()
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ tokenUrl: 'not a url' }, 'tokenUrl'],
      [{ apiUrl: 'ftp://rules.example.test' }, 'apiUrl'],
      [{ tokenUrl: 'https://user:pw@auth.apiax.io/token' }, 'tokenUrl'],
      [{ tokenUrl: 'https://auth.apiax.io/token?realm=apiax' }, 'tokenUrl'],
      [{ username: 42 }, 'username'],
      [{ password: { value: 'x' } }, 'password'],
      [{ apiKey: 'two words' }, 'apiKey'],
      [{ clientId: ['a'] }, 'clientId'],
      [{ refreshTokenMaxAge: -1 }, 'refreshTokenMaxAge'],
      [{ refreshTokenMaxAge: Number.NaN }, 'refreshTokenMaxAge'],
      [{ clientAssertion: 'key.pem' }, 'clientAssertion'],
      [
        { clientAssertion: { privateKey: 'SECRET-not-a-key', clientId: 'c' } },
        'clientAssertion.privateKey',
      ],
      [{ clientAssertion: { privateKey: encrypted, clientId: 'c' } }, 'clientAssertion.privateKey'],
      [{ clientAssertion: { privateKey: publicKey, clientId: 'c' } }, 'clientAssertion.privateKey'],
      [{ clientAssertion: { privateKey: ecKey, clientId: 'c' } }, 'clientAssertion.privateKey'],
      [{ clientAssertion: { privateKey: smallKey, clientId: 'c' } }, 'clientAssertion.privateKey'],
      [{ clientAssertion: { privateKey: rsaKey, clientId: 7 } }, 'clientAssertion.clientId'],
      [
        {
          clientId: 'integration-api',
          clientAssertion: { privateKey: rsaKey, clientId: 'acme-2fa' },
        },
        'clientId',
      ],
    ]
    for (const [settings, setting] of cases) {
      let thrown: unknown
      try {
        createApiax(settings as never)
      } catch (error) {
        thrown = error
      }
      expect(thrown, JSON.stringify(setting)).toBeInstanceOf(ConfigurationError)
      expect(thrown).toMatchObject({ setting })
      expect((thrown as Error).message).not.toContain('SECRET')
      expect((thrown as Error).message).not.toContain('MII') // base64 of key material
    }
  })

  it('reports a bad URL from the environment naming the variable', async () => {
    process.env.APIAX_TOKEN_URL = 'auth.apiax.io/token'
    const client = createApiax({
      username: USERNAME,
      password: PASSWORD,
      dispatcher: createMockAgent(),
    })
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'CONFIGURATION_INVALID', setting: 'tokenUrl' })
    expect((error as Error).message).toContain('APIAX_TOKEN_URL')
    await client.close()
  })

  it('refuses plain HTTP to a non-loopback host, at once in code and on first use from the environment', async () => {
    expect(() =>
      createApiax({
        username: USERNAME,
        password: PASSWORD,
        tokenUrl: 'http://auth.example.test/token',
      }),
    ).toThrow(expect.objectContaining({ code: 'INSECURE_TRANSPORT', setting: 'tokenUrl' }))
    process.env.APIAX_TOKEN_URL = 'http://auth.example.test/token'
    const client = createApiax({
      username: USERNAME,
      password: PASSWORD,
      dispatcher: createMockAgent(),
    })
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'INSECURE_TRANSPORT', setting: 'tokenUrl' })
    expect((error as Error).message).toContain('APIAX_TOKEN_URL')
    await client.close()
  })

  it('needs the assertion client id in 2FA mode, falling back to an explicit clientId', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const missing = createApiax({
      username: USERNAME,
      password: PASSWORD,
      clientAssertion: { privateKey },
    })
    const error = await missing.getToken().catch((caught: unknown) => caught)
    expect(error).toMatchObject({ setting: 'clientAssertion.clientId' })
    expect((error as Error).message).toContain('APIAX_ASSERTION_CLIENT_ID')
    await missing.close()

    const { keycloak, client } = setup({ clientId: 'acme-2fa', clientAssertion: { privateKey } })
    await client.getToken()
    expect(keycloak.requests[0]?.form.get('client_id')).toBe('acme-2fa')

    process.env.APIAX_ASSERTION_PRIVATE_KEY = 'SECRET-garbage'
    const fromEnvironment = createApiax({ username: USERNAME, password: PASSWORD })
    const envError = await fromEnvironment.getToken().catch((caught: unknown) => caught)
    expect(envError).toMatchObject({ setting: 'clientAssertion.privateKey' })
    expect((envError as Error).message).toContain('APIAX_ASSERTION_PRIVATE_KEY')
    expect((envError as Error).message).not.toContain('SECRET')
    await fromEnvironment.close()
  })

  it('has a stable, non-secret cache key per token endpoint, client id and user', () => {
    const key = (settings: Record<string, string>) =>
      apiaxTokenSource({ username: USERNAME, password: PASSWORD, ...settings }).cacheKey()
    const base = key({})
    expect(base).toMatch(
      /^apiax:auth\.apiax\.io\/auth\/realms\/apiax\/protocol\/openid-connect\/token:integration-api:[0-9a-f]{16}$/,
    )
    expect(base).not.toContain(USERNAME)
    expect(base).not.toContain(PASSWORD)
    expect(key({})).toBe(base)
    expect(key({ password: 'other' })).toBe(base)
    expect(key({ apiKey: 'other' })).toBe(base)
    expect(key({ username: 'someone-else' })).not.toBe(base)
    expect(key({ clientId: 'other-client' })).not.toBe(base)
    expect(key({ tokenUrl: 'https://login.example.test/token' })).not.toBe(base)
  })

  it('names the rule engine as the only origin', () => {
    expect(apiaxTokenSource({}).origins?.()).toEqual(['https://rule-engine.apiax.io'])
    expect(apiaxTokenSource({ apiUrl: 'https://rules.example.test/' }).origins?.()).toEqual([
      'https://rules.example.test',
    ])
  })

  it('passes TokenClient options (store, logger, negativeCacheTtl) to the core', async () => {
    const store = new SharedTestStore()
    const lines: string[] = []
    const { keycloak, client, clock } = setup({
      store,
      negativeCacheTtl: 5,
      logger: { error: (message) => lines.push(message) },
    })
    keycloak.next.password.push({ status: 503, body: 'unavailable' })
    await expect(client.getToken()).rejects.toMatchObject({ retryable: true })
    expect(lines.some((line) => line.includes('HTTP 503'))).toBe(false) // retryable: a warning
    keycloak.next.password.push({ status: 400, body: fixture('unauthorized-client') })
    clock.set(clock.now() + 120_000)
    await expect(client.getToken()).rejects.toMatchObject({ status: 400 })
    expect(lines.some((line) => line.includes('unauthorized_client'))).toBe(true)
    clock.set(clock.now() + 6_000) // past the 5 s negative cache
    await expect(client.getToken()).resolves.toMatchObject({ value: 'SECRET-access-1' })
    expect(store.only()?.value).toBe('SECRET-access-1')
  })

  it('is recognisable as a tokenkeeper error across copies', async () => {
    const { client } = setup({ password: 'SECRET-wrong-password-1' })
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(TokenKeeperError.is(error)).toBe(true)
  })
})
