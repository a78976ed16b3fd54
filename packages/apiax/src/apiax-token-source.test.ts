import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { Secret } from '@tokenkeeper/auth-core'
import { createMockAgent } from '@tokenkeeper/auth-core/testing'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  API_KEY,
  MockKeycloak,
  PASSWORD,
  SharedTestStore,
  settle,
  TOKEN_URL,
  USERNAME,
} from '../test/mock-keycloak.ts'
import {
  DAY,
  fakeContext,
  fixture,
  isolate,
  json,
  setup,
  storedWithRefresh,
  TOKEN_LIFETIME,
} from '../test/setup.ts'
import { CLIENT_ASSERTION_TYPE } from './apiax-client-assertion.ts'
import { apiaxTokenSource } from './apiax-token-source.ts'

isolate()

describe('password grant', () => {
  it('logs in with client_id=integration-api, grant_type=password, username and password as a form', async () => {
    const { agent, keycloak, client, clock } = setup()
    const token = await client.getToken()

    expect(keycloak.requests).toHaveLength(1)
    const [request] = keycloak.requests
    expect(request?.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(request?.headers.accept).toBe('application/json')
    expect([...(request?.form ?? [])]).toEqual([
      ['client_id', 'integration-api'],
      ['grant_type', 'password'],
      ['username', USERNAME],
      ['password', PASSWORD],
    ])
    expect(token.value).toBe('SECRET-access-1')
    expect(token.expiresAt).toBe(clock.now() + TOKEN_LIFETIME)
    expect(token.scope).toEqual(['profile', 'email'])
    agent.assertNoPendingInterceptors()
  })

  it('presents the token as "Bearer" (not Keycloak\'s "bearer") together with the Apikey header', async () => {
    const { client } = setup()
    const token = await client.getToken()
    expect(token.type).toBe('Bearer')
    expect(await client.getAuthHeaders()).toEqual({
      Authorization: 'Bearer SECRET-access-1',
      Apikey: API_KEY,
    })
  })

  it('sends no Apikey header when no API key is configured', async () => {
    const { client } = setup({ apiKey: undefined })
    expect(await client.getAuthHeaders()).toEqual({ Authorization: 'Bearer SECRET-access-1' })
  })

  it('uses a custom tokenUrl and clientId', async () => {
    const tokenUrl = 'https://login.example.test/auth/realms/staging/protocol/openid-connect/token'
    const { agent, keycloak, client } = setup({ tokenUrl, clientId: 'acme-integration' })
    await client.getToken()
    expect(keycloak.requests[0]?.form.get('client_id')).toBe('acme-integration')
    agent.assertNoPendingInterceptors()
  })

  it('parses the Keycloak response fixture', async () => {
    const source = apiaxTokenSource({ username: USERNAME, password: PASSWORD })
    source.cacheKey()
    const now = Date.parse('2026-03-01T10:00:00Z')
    const { context } = fakeContext([json(200, fixture('password-grant'))], { now })
    const issued = await source.requestToken(context)
    expect(issued).toEqual({
      value: fixture('password-grant').access_token,
      type: 'Bearer',
      expiresIn: 1800,
      scope: ['profile', 'email', 'offline_access'],
      state: { refreshToken: fixture('password-grant').refresh_token, loginAt: now },
      // refresh_expires_in: 0 is not "forever": the 14 days from the login apply.
      stateExpiresAt: now + 14 * DAY,
      // Keycloak's access tokens are JWTs: their exp counts too (the earlier one wins).
      jwt: true,
    })
  })

  it('parses the refresh response fixture, keeping the login time of the session', async () => {
    const source = apiaxTokenSource({ username: USERNAME, password: PASSWORD })
    const loginAt = Date.parse('2026-03-01T10:00:00Z')
    const now = loginAt + 3 * DAY
    const { context, requests } = fakeContext([json(200, fixture('refresh-grant'))], {
      now,
      previous: storedWithRefresh('SECRET-refresh-0', loginAt),
    })
    const issued = await source.requestToken(context)
    expect(new URLSearchParams(requests[0]?.body).get('grant_type')).toBe('refresh_token')
    expect(issued).toMatchObject({
      value: fixture('refresh-grant').access_token,
      type: 'Bearer',
      state: { refreshToken: fixture('refresh-grant').refresh_token, loginAt },
      stateExpiresAt: loginAt + 14 * DAY,
    })
  })

  it('keeps no refresh state when the answer has no refresh token', async () => {
    const source = apiaxTokenSource({ username: USERNAME, password: PASSWORD })
    const { context } = fakeContext([json(200, { access_token: 'a', expires_in: 300 })])
    const issued = await source.requestToken(context)
    expect(issued.state).toBeUndefined()
    expect(issued.stateExpiresAt).toBeUndefined()
  })
})

describe('refresh_token grant', () => {
  it('renews an expired token with client_id, grant_type=refresh_token and the refresh token only', async () => {
    const { keycloak, client, clock } = setup()
    await client.getToken()
    clock.set(clock.now() + TOKEN_LIFETIME + 1)
    const token = await client.getToken()

    expect(keycloak.grants()).toEqual(['password', 'refresh_token'])
    expect([...(keycloak.requests[1]?.form ?? [])]).toEqual([
      ['client_id', 'integration-api'],
      ['grant_type', 'refresh_token'],
      ['refresh_token', 'SECRET-refresh-1'],
    ])
    expect(keycloak.requests[1]?.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(token.value).toBe('SECRET-access-2')
  })

  it('prefers the refresh grant over the password while the refresh token is usable: expiry, rejection, forced, background', async () => {
    const { keycloak, client, clock } = setup()
    const first = await client.getToken()

    clock.set(clock.now() + TOKEN_LIFETIME + 1) // expired
    const second = await client.getToken()
    expect(client.invalidate(second)).toBe(true) // rejected by an API
    const third = await client.getToken()
    const fourth = await client.getToken({ forceRefresh: true })
    // Background renewal inside the advisory window (5 minutes before expiry).
    await clock.advance(TOKEN_LIFETIME - 299_000, { settle })
    const fifth = await client.getToken()

    expect([first, second, third, fourth, fifth].map((token) => token.value)).toEqual([
      'SECRET-access-1',
      'SECRET-access-2',
      'SECRET-access-3',
      'SECRET-access-4',
      'SECRET-access-5',
    ])
    expect(keycloak.count('password')).toBe(1)
    expect(keycloak.count('refresh_token')).toBe(4)
    expect(keycloak.killedSessions).toBe(0)
  })

  it('always uses and persists only the newest (rotated) refresh token', async () => {
    const store = new SharedTestStore()
    const { keycloak, client, clock } = setup({ store })
    const loginAt = clock.now()
    await client.getToken()
    for (let round = 0; round < 3; round++) {
      clock.set(clock.now() + TOKEN_LIFETIME + 1)
      await client.getToken()
    }
    expect(keycloak.presentedRefreshTokens()).toEqual([
      'SECRET-refresh-1',
      'SECRET-refresh-2',
      'SECRET-refresh-3',
    ])
    // The store entry holds the newest refresh token, and the 14 days still count from the login.
    expect(store.only()?.state).toEqual({ refreshToken: 'SECRET-refresh-4', loginAt })
    expect(store.only()?.stateExpiresAt).toBe(loginAt + 14 * DAY)
    expect(keycloak.killedSessions).toBe(0)
  })

  it('drops a refused refresh token and logs in with the password exactly once, in the same call', async () => {
    const { keycloak, client, clock } = setup()
    await client.getToken()
    keycloak.endSessions() // idle timeout, admin logout, ...
    clock.set(clock.now() + TOKEN_LIFETIME + 1)

    const token = await client.getToken()
    expect(token.value).toBe('SECRET-access-2')
    expect(keycloak.grants()).toEqual(['password', 'refresh_token', 'password'])

    // The new session's refresh token is used next, the dead one never again.
    clock.set(clock.now() + TOKEN_LIFETIME + 1)
    await client.getToken()
    expect(keycloak.presentedRefreshTokens()).toEqual(['SECRET-refresh-1', 'SECRET-refresh-2'])
    expect(keycloak.grants()).toEqual(['password', 'refresh_token', 'password', 'refresh_token'])
  })

  it.each(['session-not-active', 'refresh-token-reused'])(
    'falls back to one password login on invalid_grant (%s)',
    async (name) => {
      const { keycloak, client, clock } = setup()
      await client.getToken()
      keycloak.next.refresh_token.push({ status: 400, body: fixture(name) })
      clock.set(clock.now() + TOKEN_LIFETIME + 1)
      await expect(client.getToken()).resolves.toMatchObject({ value: 'SECRET-access-2' })
      expect(keycloak.grants()).toEqual(['password', 'refresh_token', 'password'])
    },
  )

  it('keeps the refresh token after a 5xx and sends it again on the next attempt', async () => {
    const { keycloak, client, clock } = setup({ backoff: { initial: 1000, max: 1000 } })
    await client.getToken()
    keycloak.next.refresh_token.push({ status: 503, body: 'Service Unavailable' })
    clock.set(clock.now() + TOKEN_LIFETIME + 1)
    await expect(client.getToken()).rejects.toMatchObject({
      code: 'TOKEN_ENDPOINT_UNAVAILABLE',
      retryable: true,
    })
    clock.set(clock.now() + 1001)
    await expect(client.getToken()).resolves.toMatchObject({ value: 'SECRET-access-2' })
    expect(keycloak.presentedRefreshTokens()).toEqual(['SECRET-refresh-1', 'SECRET-refresh-1'])
    expect(keycloak.count('password')).toBe(1)
  })

  it('never sends a refresh token twice from one source, even if it is handed the same state again', async () => {
    const agent = createMockAgent()
    const keycloak = new MockKeycloak(agent)
    const { createUndiciTransport } = await import('@tokenkeeper/auth-core')
    const { transport, close } = createUndiciTransport({ dispatcher: agent })
    try {
      const source = apiaxTokenSource({ username: USERNAME, password: PASSWORD })
      const now = Date.now()
      const login = await source.requestToken({
        transport,
        signal: new AbortController().signal,
        now: () => now,
        previous: undefined,
        reason: 'initial',
      })
      const previous = storedWithRefresh(String(login.state?.refreshToken), now)
      const context = {
        transport,
        signal: new AbortController().signal,
        now: () => now,
        previous,
        reason: 'expired' as const,
      }
      // Two concurrent requests with the same state: one refresh, the other logs in afresh.
      await Promise.all([source.requestToken(context), source.requestToken(context)])
      // And once more later with the same (stale) state: a login, never a reuse.
      await source.requestToken(context)
      expect(keycloak.grants()).toEqual(['password', 'refresh_token', 'password', 'password'])
      expect(keycloak.killedSessions).toBe(0)
    } finally {
      await close()
      await agent.close()
    }
  })

  it('the mock kills the session on reuse (control: two sources that share nothing)', async () => {
    const agent = createMockAgent()
    const keycloak = new MockKeycloak(agent)
    const { createUndiciTransport } = await import('@tokenkeeper/auth-core')
    const { transport, close } = createUndiciTransport({ dispatcher: agent })
    try {
      const now = Date.now()
      const base = { transport, signal: new AbortController().signal, now: () => now }
      const first = apiaxTokenSource({ username: USERNAME, password: PASSWORD })
      const login = await first.requestToken({ ...base, previous: undefined, reason: 'initial' })
      const previous = storedWithRefresh(String(login.state?.refreshToken), now)
      await first.requestToken({ ...base, previous, reason: 'expired' })
      const second = apiaxTokenSource({ username: USERNAME, password: PASSWORD })
      await second.requestToken({ ...base, previous, reason: 'expired' })
      expect(keycloak.killedSessions).toBe(1)
    } finally {
      await close()
      await agent.close()
    }
  })
})

describe('the 14-day refresh limit', () => {
  it('uses the refresh token until 14 days after the password login, then logs in again', async () => {
    // A store that never evicts: the source's own tracking decides.
    const store = new SharedTestStore()
    const { keycloak, client, clock } = setup({ store })
    const loginAt = clock.now()
    await client.getToken()

    clock.set(loginAt + 14 * DAY - 2 * 3600_000)
    await client.getToken()
    expect(keycloak.grants()).toEqual(['password', 'refresh_token'])
    expect(store.only()?.state).toMatchObject({ loginAt })

    clock.set(loginAt + 14 * DAY - 30_000)
    await client.getToken()
    expect(keycloak.grants()).toEqual(['password', 'refresh_token', 'password'])
    const newLogin = clock.now()
    expect(store.only()?.state).toEqual({ refreshToken: 'SECRET-refresh-3', loginAt: newLogin })
    expect(store.only()?.stateExpiresAt).toBe(newLogin + 14 * DAY)
  })

  it('honours a non-zero refresh_expires_in as well', async () => {
    const store = new SharedTestStore()
    const { keycloak, client, clock } = setup({ store })
    keycloak.refreshExpiresIn = 3600
    const loginAt = clock.now()
    await client.getToken()
    expect(store.only()?.stateExpiresAt).toBe(loginAt + 3600_000)

    clock.set(loginAt + TOKEN_LIFETIME + 1)
    await client.getToken()
    const refreshedAt = clock.now()
    expect(store.only()?.stateExpiresAt).toBe(refreshedAt + 3600_000)

    clock.set(refreshedAt + 3600_000)
    await client.getToken()
    expect(keycloak.grants()).toEqual(['password', 'refresh_token', 'password'])
  })

  it('honours a shorter refreshTokenMaxAge', async () => {
    const store = new SharedTestStore()
    const { keycloak, client, clock } = setup({ store, refreshTokenMaxAge: 3 * 3600 })
    const loginAt = clock.now()
    await client.getToken()
    clock.set(loginAt + 2 * 3600_000)
    await client.getToken()
    clock.set(loginAt + 3 * 3600_000)
    await client.getToken()
    expect(keycloak.grants()).toEqual(['password', 'refresh_token', 'password'])
  })

  it('ignores refresh state that is malformed or past its end', async () => {
    const source = apiaxTokenSource({ username: USERNAME, password: PASSWORD })
    const now = Date.parse('2026-02-01T00:00:00Z')
    const cases = [
      storedWithRefresh('', now),
      { ...storedWithRefresh('r', now), state: { refreshToken: 'r', loginAt: 'yesterday' } },
      { ...storedWithRefresh('r', now), state: { token: 'r' } },
      storedWithRefresh('r', now - 15 * DAY),
      storedWithRefresh('r', now - DAY, { stateExpiresAt: now }),
    ]
    for (const previous of cases) {
      const { context, requests } = fakeContext(
        [json(200, { access_token: 'a', expires_in: 60 })],
        {
          now,
          previous,
        },
      )
      await source.requestToken(context)
      expect(requests).toHaveLength(1)
      expect(requests[0]?.body).toContain('grant_type=password')
    }
  })
})

describe('2FA client assertion', () => {
  let privateKey: KeyObject
  let publicKey: KeyObject
  beforeAll(() => {
    ;({ privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }))
  })

  async function verify(
    assertion: string | null | undefined,
    at: number,
    clientId: string,
    audience = TOKEN_URL,
  ) {
    const { payload } = await jwtVerify(String(assertion), publicKey, {
      algorithms: ['RS256'],
      issuer: clientId,
      subject: clientId,
      audience,
      currentDate: new Date(at),
    })
    return payload
  }

  it('signs a fresh RS256 assertion (iss = sub = client id, aud = token URL, jti, 60 s) for the login and every refresh', async () => {
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const { keycloak, client, clock } = setup({
      clientAssertion: { privateKey: pem, clientId: 'acme-2fa' },
    })
    const times = [clock.now()]
    await client.getToken()
    clock.set(clock.now() + TOKEN_LIFETIME + 1)
    times.push(clock.now())
    await client.getToken()

    expect(keycloak.grants()).toEqual(['password', 'refresh_token'])
    const jtis = new Set<unknown>()
    for (const [index, request] of keycloak.requests.entries()) {
      const at = times[index] ?? 0
      expect(request.form.get('client_id')).toBe('acme-2fa')
      expect(request.form.get('client_assertion_type')).toBe(CLIENT_ASSERTION_TYPE)
      const assertion = request.form.get('client_assertion')
      expect(decodeProtectedHeader(String(assertion))).toEqual({ alg: 'RS256', typ: 'JWT' })
      const payload = await verify(assertion, at, 'acme-2fa')
      expect(payload.aud).toBe(TOKEN_URL)
      expect(payload.iat).toBe(Math.floor(at / 1000))
      expect(payload.exp).toBe(Math.floor(at / 1000) + 60)
      expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/)
      jtis.add(payload.jti)
    }
    expect(jtis.size).toBe(2)
    expect(keycloak.requests[0]?.form.get('password')).toBe(PASSWORD)
  })

  it('sets aud to a custom tokenUrl exactly', async () => {
    const tokenUrl = 'https://login.example.test/auth/realms/apiax/protocol/openid-connect/token'
    const { keycloak, client, clock } = setup({
      tokenUrl,
      clientAssertion: { privateKey, clientId: 'acme-2fa' },
    })
    await client.getToken()
    const payload = await verify(
      keycloak.requests[0]?.form.get('client_assertion'),
      clock.now(),
      'acme-2fa',
      tokenUrl,
    )
    expect(payload.aud).toBe(tokenUrl)
  })

  it('reads PKCS#1 PEM, a JWK object (its kid becomes the header kid), JWK text and a Secret', async () => {
    const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'acme-key-1' }
    const inputs = [
      { key: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(), kid: undefined },
      { key: jwk, kid: 'acme-key-1' },
      { key: JSON.stringify(jwk), kid: 'acme-key-1' },
      {
        key: new Secret(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
        kid: undefined,
      },
    ]
    for (const input of inputs) {
      const { keycloak, client, clock } = setup({
        clientAssertion: { privateKey: input.key, clientId: 'acme-2fa' },
      })
      await client.getToken()
      const assertion = keycloak.requests[0]?.form.get('client_assertion')
      await verify(assertion, clock.now(), 'acme-2fa')
      expect(decodeProtectedHeader(String(assertion)).kid).toBe(input.kid)
    }
  })

  it('is enabled by APIAX_ASSERTION_PRIVATE_KEY (one-line PEM with \\n escapes) and APIAX_ASSERTION_CLIENT_ID', async () => {
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    process.env.APIAX_ASSERTION_PRIVATE_KEY = pem.replace(/\n/g, '\\n')
    process.env.APIAX_ASSERTION_CLIENT_ID = 'acme-env'
    process.env.APIAX_ASSERTION_KEY_ID = 'env-key'
    const { keycloak, client, clock } = setup()
    await client.getToken()
    const assertion = keycloak.requests[0]?.form.get('client_assertion')
    await verify(assertion, clock.now(), 'acme-env')
    expect(decodeProtectedHeader(String(assertion)).kid).toBe('env-key')
    expect(keycloak.requests[0]?.form.get('client_id')).toBe('acme-env')
  })

  it('reads a JWK from APIAX_ASSERTION_PRIVATE_KEY, taking its kid', async () => {
    process.env.APIAX_ASSERTION_PRIVATE_KEY = JSON.stringify({
      ...privateKey.export({ format: 'jwk' }),
      kid: 'jwk-env-key',
    })
    process.env.APIAX_ASSERTION_CLIENT_ID = 'acme-env'
    const { keycloak, client, clock } = setup()
    await client.getToken()
    const assertion = keycloak.requests[0]?.form.get('client_assertion')
    await verify(assertion, clock.now(), 'acme-env')
    expect(decodeProtectedHeader(String(assertion)).kid).toBe('jwk-env-key')
  })
})
