import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  APIAX_DEFAULT_CONFIGURATION,
  type Emulator,
  EmulatorError,
  startEmulator,
} from '../src/index.ts'
import { decodeJwtParts, postForm, sendJson, signAssertion } from './helpers.ts'

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
let emulator: Emulator
let assertionKey: KeyObject

beforeAll(async () => {
  // Time moves only through emulator.clock.advance, so a loaded machine cannot shift a second.
  const frozen = Date.now()
  emulator = await startEmulator({ now: () => frozen })
  assertionKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  emulator.apiax.registerAssertionClient({ clientId: 'customer-2fa', publicKey: assertionKey })
})
afterAll(() => emulator.stop())
beforeEach(() => emulator.apiax.configure(APIAX_DEFAULT_CONFIGURATION))
afterEach(() => emulator.faults.clear())

interface TokenAnswer {
  access_token: string
  refresh_token: string
  expires_in: number
  refresh_expires_in: number
  token_type: string
  session_state: string
}

function token(fields: Record<string, string>): Promise<Response> {
  return postForm(emulator.urls.apiax.tokenUrl, fields)
}

function login(overrides: Record<string, string> = {}): Promise<Response> {
  return token({
    client_id: 'integration-api',
    grant_type: 'password',
    username: emulator.demo.apiax.username,
    password: emulator.demo.apiax.password,
    ...overrides,
  })
}

async function session(): Promise<TokenAnswer> {
  const response = await login()
  expect(response.status).toBe(200)
  return (await response.json()) as TokenAnswer
}

function refresh(refreshToken: string, clientId = 'integration-api'): Promise<Response> {
  return token({ client_id: clientId, grant_type: 'refresh_token', refresh_token: refreshToken })
}

async function refreshed(refreshToken: string): Promise<TokenAnswer> {
  const response = await refresh(refreshToken)
  expect(response.status).toBe(200)
  return (await response.json()) as TokenAnswer
}

async function expectKeycloakError(
  response: Response,
  status: number,
  error: string,
  description?: string | RegExp,
) {
  expect(response.status).toBe(status)
  const body = (await response.json()) as { error: string; error_description: string }
  expect(body.error).toBe(error)
  if (typeof description === 'string') expect(body.error_description).toBe(description)
  else if (description) expect(body.error_description).toMatch(description)
}

function evaluate(
  accessToken: string | undefined,
  apiKey: string | null = emulator.demo.apiax.apiKey,
) {
  return sendJson(
    `${emulator.urls.apiax.apiUrl}/api/v3/rules/eval`,
    'POST',
    {
      products: [{ productId: 'p1', familyId: 'f1' }],
      regimes: ['CH'],
      versionFilter: 'latest',
      attributes: [{ name: 'clientDomicile', value: 'CH' }],
    },
    {
      ...(accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` }),
      ...(apiKey === null ? {} : { apikey: apiKey }),
    },
  )
}

async function assertion(overrides: Partial<Parameters<typeof signAssertion>[1]> = {}) {
  return signAssertion(assertionKey, {
    alg: 'RS256',
    issuer: 'customer-2fa',
    audience: emulator.urls.apiax.tokenUrl,
    nowMs: emulator.clock.now(),
    ...overrides,
  })
}

describe('Apiax password grant', () => {
  it('answers the Keycloak token body with a lower-case bearer type', async () => {
    const response = await login()
    expect(response.status).toBe(200)
    const body = (await response.json()) as Record<string, unknown>
    expect(body).toMatchObject({
      expires_in: 1800,
      refresh_expires_in: 0,
      token_type: 'bearer',
      'not-before-policy': 0,
      scope: 'profile email',
    })
    expect(body.session_state).toMatch(/^[0-9a-f-]{36}$/)
    const { header, payload } = decodeJwtParts(body.access_token as string)
    expect(header.alg).toBe('RS256')
    expect((payload.exp as number) - (payload.iat as number)).toBe(1800)
    expect(payload).toMatchObject({ azp: 'integration-api', sid: body.session_state })
    expect(typeof body.refresh_token).toBe('string')
  })

  it('answers Keycloak errors for credentials', async () => {
    await expectKeycloakError(
      await login({ password: 'wrong' }),
      401,
      'invalid_grant',
      'Invalid user credentials',
    )
    await expectKeycloakError(
      await login({ username: 'nobody' }),
      401,
      'invalid_grant',
      'Invalid user credentials',
    )
    await expectKeycloakError(
      await login({ username: '' }),
      401,
      'invalid_request',
      'Missing parameter: username',
    )
    emulator.apiax.registerUser({ username: 'disabled', password: 'pw', enabled: false })
    await expectKeycloakError(
      await login({ username: 'disabled', password: 'pw' }),
      400,
      'invalid_grant',
      'Account disabled',
    )
    emulator.apiax.registerUser({ username: 'new-user', password: 'pw', setupComplete: false })
    await expectKeycloakError(
      await login({ username: 'new-user', password: 'pw' }),
      400,
      'invalid_grant',
      'Account is not fully set up',
    )
    // User names are case-insensitive in Keycloak.
    expect((await login({ username: emulator.demo.apiax.username.toUpperCase() })).status).toBe(200)
  })

  it('answers Keycloak errors for clients and grants', async () => {
    await expectKeycloakError(
      await login({ client_id: '' }),
      400,
      'invalid_client',
      'Missing client_id parameter',
    )
    await expectKeycloakError(
      await login({ client_id: 'unknown' }),
      401,
      'invalid_client',
      'Invalid client or Invalid client credentials',
    )
    emulator.apiax.registerClient({ clientId: 'browser-app', directAccessGrants: false })
    await expectKeycloakError(
      await login({ client_id: 'browser-app' }),
      400,
      'unauthorized_client',
      'Client not allowed for direct access grants',
    )
    await expectKeycloakError(
      await token({ client_id: 'integration-api' }),
      400,
      'invalid_request',
      'Missing form parameter: grant_type',
    )
    await expectKeycloakError(
      await login({ grant_type: 'client_credentials' }),
      400,
      'unsupported_grant_type',
      'Unsupported grant_type',
    )
    const duplicated = await fetch(emulator.urls.apiax.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=password&grant_type=password&client_id=integration-api',
    })
    await expectKeycloakError(duplicated, 400, 'invalid_request', 'duplicated parameter')
    expect(
      (await sendJson(emulator.urls.apiax.tokenUrl, 'POST', { grant_type: 'password' })).status,
    ).toBe(415)
  })
})

describe('Apiax refresh_token grant', () => {
  it('returns a new refresh token on every refresh; without single use the old one still works', async () => {
    const first = await session()
    const second = await refreshed(first.refresh_token)
    expect(second.refresh_token).not.toBe(first.refresh_token)
    expect(second.access_token).not.toBe(first.access_token)
    expect(second.session_state).toBe(first.session_state)
    expect((await refresh(first.refresh_token)).status).toBe(200)
    expect(emulator.counters().apiax.byGrant.refresh_token).toBeGreaterThanOrEqual(2)
  })

  it('refuses malformed, missing and foreign refresh tokens', async () => {
    await expectKeycloakError(
      await refresh('not-a-token'),
      400,
      'invalid_grant',
      'Invalid refresh token',
    )
    await expectKeycloakError(
      await token({ client_id: 'integration-api', grant_type: 'refresh_token' }),
      400,
      'invalid_request',
      'No refresh token',
    )
    const { refresh_token: refreshToken, access_token: accessToken } = await session()
    await expectKeycloakError(
      await refresh(accessToken),
      400,
      'invalid_grant',
      'Invalid refresh token',
    )
    emulator.apiax.registerClient({ clientId: 'other-public' })
    await expectKeycloakError(
      await refresh(refreshToken, 'other-public'),
      400,
      'invalid_grant',
      /Token client and authorized client don't match/,
    )
  })

  it('single-use refresh tokens: reuse is refused and kills the session', async () => {
    emulator.apiax.configure({ revokeRefreshToken: true })
    const before = emulator.counters().apiax.sessionsKilled
    const first = await session()
    const second = await refreshed(first.refresh_token)
    await expectKeycloakError(
      await refresh(first.refresh_token),
      400,
      'invalid_grant',
      'Maximum allowed refresh token reuse exceeded',
    )
    // The newest token died with the session.
    await expectKeycloakError(
      await refresh(second.refresh_token),
      400,
      'invalid_grant',
      'Offline session not active',
    )
    const counters = emulator.counters().apiax
    expect(counters.sessionsKilled).toBe(before + 1)
    expect(counters.refreshReuseRejected).toBeGreaterThanOrEqual(1)
    // A new password login starts over.
    expect((await login()).status).toBe(200)
  })

  it('refuses an older refresh token as stale once a newer one was used', async () => {
    emulator.apiax.configure({ revokeRefreshToken: true })
    const first = await session()
    const second = await refreshed(first.refresh_token)
    await refreshed(second.refresh_token)
    await expectKeycloakError(
      await refresh(first.refresh_token),
      400,
      'invalid_grant',
      'Stale token',
    )
  })

  it('allows refreshTokenMaxReuse extra uses', async () => {
    emulator.apiax.configure({ revokeRefreshToken: true, refreshTokenMaxReuse: 1 })
    const first = await session()
    await refreshed(first.refresh_token)
    await refreshed(first.refresh_token)
    await expectKeycloakError(
      await refresh(first.refresh_token),
      400,
      'invalid_grant',
      'Maximum allowed refresh token reuse exceeded',
    )
  })

  it('online refresh tokens expire with the session idle timeout and maximum', async () => {
    emulator.apiax.configure({ offlineRefresh: false, ssoSessionIdle: 600, ssoSessionMax: 900 })
    const first = await session()
    expect(first.refresh_expires_in).toBe(600)
    expect(decodeJwtParts(first.refresh_token).payload.typ).toBe('Refresh')
    emulator.clock.advance(500_000)
    const second = await refreshed(first.refresh_token)
    // The maximum (900 s from login) is now nearer than the idle timeout.
    expect(second.refresh_expires_in).toBe(400)
    emulator.clock.advance(401_000)
    await expectKeycloakError(
      await refresh(second.refresh_token),
      400,
      'invalid_grant',
      'Token is not active',
    )

    const idle = await session()
    emulator.clock.advance(601_000)
    await expectKeycloakError(
      await refresh(idle.refresh_token),
      400,
      'invalid_grant',
      'Token is not active',
    )
  })

  it('offline-style refresh tokens have no exp but still end at the session limits', async () => {
    emulator.apiax.configure({ ssoSessionIdle: 600 })
    const first = await session()
    expect(first.refresh_expires_in).toBe(0)
    const claims = decodeJwtParts(first.refresh_token).payload
    expect(claims.typ).toBe('Offline')
    expect(claims.exp).toBeUndefined()
    emulator.clock.advance(601_000)
    await expectKeycloakError(
      await refresh(first.refresh_token),
      400,
      'invalid_grant',
      'Offline session not active',
    )
  })

  it('ends every session on demand', async () => {
    const live = await session()
    expect(emulator.apiax.activeSessions()).toBeGreaterThan(0)
    expect(emulator.apiax.killSessions()).toBeGreaterThan(0)
    expect(emulator.apiax.activeSessions()).toBe(0)
    await expectKeycloakError(
      await refresh(live.refresh_token),
      400,
      'invalid_grant',
      /session not active/i,
    )
    emulator.apiax.configure({ offlineRefresh: false })
    const online = await session()
    emulator.apiax.killSessions()
    await expectKeycloakError(
      await refresh(online.refresh_token),
      400,
      'invalid_grant',
      'Session not active',
    )
  })

  it('validates the realm configuration', () => {
    expect(() => emulator.apiax.configure({ accessTokenLifespan: 0 })).toThrow(EmulatorError)
    expect(() => emulator.apiax.configure({ revokeRefreshToken: 'yes' as never })).toThrow(
      /boolean/,
    )
    expect(emulator.apiax.configure({ accessTokenLifespan: 300 }).accessTokenLifespan).toBe(300)
  })
})

describe('Apiax client assertion (2FA)', () => {
  function loginWithAssertion(clientAssertion: string, extra: Record<string, string> = {}) {
    return login({
      client_id: 'customer-2fa',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: clientAssertion,
      ...extra,
    })
  }

  it('accepts an RS256 assertion with aud = the token URL, once', async () => {
    const signed = await assertion()
    expect((await loginWithAssertion(signed)).status).toBe(200)
    await expectKeycloakError(
      await loginWithAssertion(signed),
      400,
      'invalid_client',
      /Token reuse detected/,
    )
    expect(emulator.counters().apiax.assertionReplays).toBe(1)
    // client_id may be left out: the assertion's subject names the client.
    const withoutClientId = await token({
      grant_type: 'password',
      username: emulator.demo.apiax.username,
      password: emulator.demo.apiax.password,
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: await assertion(),
    })
    expect(withoutClientId.status).toBe(200)
  })

  it('refuses a bad assertion with invalid_client', async () => {
    await expectKeycloakError(
      await loginWithAssertion(
        await assertion({ audience: `${emulator.urls.apiax.apiUrl}/auth/realms/apiax` }),
      ),
      400,
      'invalid_client',
      /signed JWT failed/,
    )
    await expectKeycloakError(
      await loginWithAssertion(await assertion({ alg: 'RS512' })),
      400,
      'invalid_client',
    )
    await expectKeycloakError(
      await loginWithAssertion(await assertion({ nowMs: emulator.clock.now() - 600_000 })),
      400,
      'invalid_client',
      /expired/,
    )
    await expectKeycloakError(
      await loginWithAssertion(await assertion({ lifetime: 86_400 })),
      400,
      'invalid_client',
      /too far in the future/,
    )
    await expectKeycloakError(
      await loginWithAssertion(await assertion(), { client_id: 'integration-api' }),
      400,
      'invalid_client',
      'client_id parameter not matching with client from JWT token',
    )
    await expectKeycloakError(
      await login({ client_id: 'customer-2fa' }),
      400,
      'invalid_client',
      'Parameter client_assertion_type is missing',
    )
    await expectKeycloakError(
      await login({ client_id: 'customer-2fa', client_assertion: await assertion() }),
      400,
      'invalid_client',
      'Parameter client_assertion_type is missing',
    )
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    await expectKeycloakError(
      await loginWithAssertion(
        await signAssertion(stranger, {
          alg: 'RS256',
          issuer: 'customer-2fa',
          audience: emulator.urls.apiax.tokenUrl,
          nowMs: emulator.clock.now(),
        }),
      ),
      400,
      'invalid_client',
      /signature/,
    )
    await expectKeycloakError(
      await loginWithAssertion(await assertion({ issuer: 'nobody', subject: 'nobody' }), {
        client_id: 'nobody',
      }),
      401,
      'invalid_client',
    )
  })
})

describe('Apiax rule engine', () => {
  it('evaluates and inspects with both the bearer token and Apikey', async () => {
    const { access_token: accessToken } = await session()
    const response = await evaluate(accessToken)
    expect(response.status).toBe(200)
    const body = (await response.json()) as { results: unknown[] }
    expect(body.results).toHaveLength(1)
    const inspect = await sendJson(
      `${emulator.urls.apiax.apiUrl}/api/v3/rules/inspect`,
      'POST',
      { products: [], regimes: ['CH'] },
      { authorization: `Bearer ${accessToken}`, apikey: emulator.demo.apiax.apiKey },
    )
    expect(inspect.status).toBe(200)
  })

  it('needs the Apikey header (403) and a live bearer token (401)', async () => {
    emulator.resetCounters()
    const { access_token: accessToken } = await session()
    expect((await evaluate(accessToken, null)).status).toBe(403)
    expect((await evaluate(accessToken, 'wrong-key')).status).toBe(403)
    const missing = await evaluate(undefined)
    expect(missing.status).toBe(401)
    expect(missing.headers.get('www-authenticate')).toBe('Bearer')
    expect((await evaluate('a.b.c')).status).toBe(401)

    emulator.clock.advance(1800_000)
    const expired = await evaluate(accessToken)
    expect(expired.status).toBe(401)
    expect(expired.headers.get('www-authenticate')).toMatch(/invalid_token.*expired/)

    const revoked = await session()
    emulator.revokeTokens('apiax')
    expect((await evaluate(revoked.access_token)).status).toBe(401)
    const forced = await session()
    emulator.expireTokens('apiax')
    expect((await evaluate(forced.access_token)).status).toBe(401)

    expect(emulator.counters().apiax.apiRejectedByReason).toEqual({
      missing: 1,
      invalid: 1,
      expired: 2,
      revoked: 1,
      forbidden: 2,
    })
  })

  it('answers 400 for a body without products', async () => {
    const { access_token: accessToken } = await session()
    const response = await sendJson(
      `${emulator.urls.apiax.apiUrl}/api/v3/rules/eval`,
      'POST',
      { regimes: [] },
      { authorization: `Bearer ${accessToken}`, apikey: emulator.demo.apiax.apiKey },
    )
    expect(response.status).toBe(400)
  })
})
