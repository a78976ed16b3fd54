import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CLEAR_DAILY_QUOTA, type Emulator, EmulatorError, startEmulator } from '../src/index.ts'
import { sendJson } from './helpers.ts'

// 2030-01-01T10:00:00Z: a fixed base so the quota's UTC day boundary is predictable.
const BASE = Date.UTC(2030, 0, 1, 10, 0, 0)
let emulator: Emulator
let secretCounter = 0

beforeAll(async () => {
  emulator = await startEmulator({ now: () => BASE })
})
afterAll(() => emulator.stop())
afterEach(() => emulator.faults.clear())

function tokenUrl(): string {
  return `${emulator.urls.clear.baseUrl}/integration/v1/authz/token`
}

function requestToken(secret: string | undefined): Promise<Response> {
  return fetch(tokenUrl(), {
    headers: secret === undefined ? {} : { 'x-clear-client-secret': secret },
  })
}

async function tokenFor(
  secret: string,
): Promise<{ access_token: string; valid_till: string | null }> {
  const response = await requestToken(secret)
  expect(response.status).toBe(200)
  return (await response.json()) as { access_token: string; valid_till: string | null }
}

function freshSecret(options: { validity?: number | null; quota?: number } = {}): string {
  secretCounter += 1
  const secret = `clear-test-secret-${secretCounter}+/=`
  emulator.clear.registerSecret({ secret, ...options })
  return secret
}

function presign(
  token: string | undefined,
  type = 'sales',
  fileName: string | null = 'invoices.csv',
) {
  const query = fileName === null ? '' : `?fileName=${encodeURIComponent(fileName)}`
  return fetch(`${emulator.urls.clear.baseUrl}/integration/v1/generatePreSign/${type}${query}`, {
    headers: token === undefined ? {} : { 'x-cleartax-auth-token': token },
  })
}

async function expectTokenApiError(response: Response, status: number, code: string) {
  expect(response.status).toBe(status)
  const body = (await response.json()) as { errors: Record<string, unknown>[] }
  expect(body.errors).toHaveLength(1)
  expect(body.errors[0]).toMatchObject({ error_code: code, error_source: 'CLEAR' })
  expect(typeof body.errors[0]!.error_message).toBe('string')
}

async function expectAuthorizationFailed(response: Response) {
  expect(response.status).toBe(401)
  const body = (await response.json()) as Record<string, unknown>
  expect(body.errorCode).toBe('AUTHORIZATION_FAILED')
  expect(typeof body.errorMessage).toBe('string')
}

describe('Clear token endpoint', () => {
  it('issues { access_token, valid_till } with valid_till in UTC +00:00 format', async () => {
    const secret = freshSecret({ validity: 3600 })
    const body = await tokenFor(secret)
    expect(body.access_token.length).toBeGreaterThan(20)
    expect(body.access_token.length).toBeLessThanOrEqual(256)
    expect(body.valid_till).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/)
    expect(Date.parse(body.valid_till!)).toBe(
      emulator.clock.now() - (emulator.clock.now() % 1000) + 3_600_000,
    )
  })

  it('answers valid_till null for a secret that never expires, and the token keeps working', async () => {
    const secret = freshSecret({ validity: null })
    const body = await tokenFor(secret)
    expect(body.valid_till).toBeNull()
    emulator.clock.advance(400 * 86_400_000)
    expect((await presign(body.access_token)).status).toBe(200)
  })

  it('answers 401 with the errors[] body for a missing, null or unknown secret', async () => {
    await expectTokenApiError(await requestToken(undefined), 401, 'INVALID_CLIENT_SECRET')
    await expectTokenApiError(await requestToken(''), 401, 'INVALID_CLIENT_SECRET')
    await expectTokenApiError(await requestToken('null'), 401, 'INVALID_CLIENT_SECRET')
    await expectTokenApiError(await requestToken('not-registered'), 401, 'INVALID_CLIENT_SECRET')
    expect((await fetch(tokenUrl(), { method: 'POST' })).status).toBe(405)
  })

  it('answers 401 when the caller IP is outside the allow-list', async () => {
    const secret = freshSecret()
    emulator.clear.setIpAllowed(secret, false)
    await expectTokenApiError(await requestToken(secret), 401, 'IP_NOT_ALLOWED')
    emulator.clear.setIpAllowed(secret, true)
    expect((await requestToken(secret)).status).toBe(200)
  })

  it('revokes the previous token of a secret when issuing a new one', async () => {
    emulator.resetCounters()
    const secret = freshSecret()
    const first = await tokenFor(secret)
    expect((await presign(first.access_token)).status).toBe(200)
    const second = await tokenFor(secret)
    await expectAuthorizationFailed(await presign(first.access_token))
    expect((await presign(second.access_token)).status).toBe(200)
    const counters = emulator.counters().clear
    expect(counters.revokedByReissue).toBe(1)
    expect(counters.apiRejectedByReason.revoked).toBe(1)
    expect(counters.apiAccepted).toBe(2)
    expect(counters.byGrant).toEqual({ client_secret: 2 })
    expect(counters.tokensIssued).toBe(2)
  })

  it('does not let one secret revoke the token of another', async () => {
    const one = await tokenFor(freshSecret())
    await tokenFor(freshSecret())
    expect((await presign(one.access_token)).status).toBe(200)
  })

  it(`allows ${CLEAR_DAILY_QUOTA} token requests per secret and UTC day, then 429 until 00:00 UTC`, async () => {
    emulator.resetCounters()
    const secret = freshSecret()
    for (let index = 0; index < CLEAR_DAILY_QUOTA; index += 1) {
      const response = await requestToken(secret)
      expect(response.status).toBe(200)
      await response.arrayBuffer()
    }
    const refused = await requestToken(secret)
    expect(refused.headers.get('retry-after')).toBeNull()
    await expectTokenApiError(refused, 429, 'RATE_LIMIT_EXCEEDED')
    expect(emulator.clear.quotaUsed(secret)).toBe(CLEAR_DAILY_QUOTA)
    expect(emulator.counters().clear.quotaRejected).toBe(1)
    expect(emulator.counters().clear.tokenErrors).toBe(1)

    // Just before midnight UTC (emulator time) it is still refused; at midnight the count resets.
    const now = emulator.clock.now()
    const midnight = Date.UTC(
      new Date(now).getUTCFullYear(),
      new Date(now).getUTCMonth(),
      new Date(now).getUTCDate() + 1,
    )
    emulator.clock.advance(midnight - now - 1)
    expect((await requestToken(secret)).status).toBe(429)
    emulator.clock.advance(1)
    expect((await requestToken(secret)).status).toBe(200)
    expect(emulator.clear.quotaUsed(secret)).toBe(1)
  })

  it('applies a configured quota', async () => {
    const secret = freshSecret({ quota: 2 })
    expect((await requestToken(secret)).status).toBe(200)
    expect((await requestToken(secret)).status).toBe(200)
    expect((await requestToken(secret)).status).toBe(429)
  })

  it('can spell the token field access-token', async () => {
    emulator.clear.configure({ accessTokenField: 'access-token' })
    try {
      const body = (await (await requestToken(freshSecret())).json()) as Record<string, unknown>
      expect(typeof body['access-token']).toBe('string')
      expect(body.access_token).toBeUndefined()
    } finally {
      emulator.clear.configure({ accessTokenField: 'access_token' })
    }
    expect(() => emulator.clear.configure({ accessTokenField: 'token' as never })).toThrow(
      EmulatorError,
    )
  })

  it('refuses bad registrations with a message that does not echo the secret', () => {
    expect(() => emulator.clear.registerSecret({ secret: '' })).toThrow(EmulatorError)
    expect(() => emulator.clear.registerSecret({ secret: 'hidden-value', validity: -1 })).toThrow(
      /validity/,
    )
    try {
      emulator.clear.setIpAllowed('hidden-value-unknown', false)
      expect.unreachable()
    } catch (error) {
      expect(String(error)).not.toContain('hidden-value-unknown')
    }
  })
})

describe('Clear business APIs', () => {
  it('answers 401 AUTHORIZATION_FAILED for a missing, unknown, expired or revoked token', async () => {
    emulator.resetCounters()
    await expectAuthorizationFailed(await presign(undefined))
    await expectAuthorizationFailed(await presign('never-issued'))
    const secret = freshSecret({ validity: 60 })
    const short = await tokenFor(secret)
    emulator.clock.advance(60_000)
    await expectAuthorizationFailed(await presign(short.access_token))
    const live = await tokenFor(secret)
    emulator.revokeTokens('clear')
    await expectAuthorizationFailed(await presign(live.access_token))
    const again = await tokenFor(secret)
    emulator.expireTokens('clear')
    await expectAuthorizationFailed(await presign(again.access_token))
    expect(emulator.counters().clear.apiRejectedByReason).toEqual({
      missing: 1,
      invalid: 1,
      expired: 2,
      revoked: 1,
      forbidden: 0,
    })
  })

  it('kills the token of a deleted secret and refuses the secret', async () => {
    const secret = freshSecret()
    const body = await tokenFor(secret)
    expect(emulator.clear.removeSecret(secret)).toBe(true)
    await expectAuthorizationFailed(await presign(body.access_token))
    await expectTokenApiError(await requestToken(secret), 401, 'INVALID_CLIENT_SECRET')
  })

  it('generates a pre-signed URL that accepts the upload', async () => {
    const { access_token: token } = await tokenFor(freshSecret())
    const response = await presign(token, 'purchase', 'march 2030.csv')
    expect(response.status).toBe(200)
    const body = (await response.json()) as { preSignedS3Url: string; fileName: string }
    expect(body.fileName).toBe('march 2030.csv')
    const upload = await fetch(body.preSignedS3Url, { method: 'PUT', body: 'a,b\n1,2\n' })
    expect(upload.status).toBe(200)
    expect((await presign(token, 'refunds')).status).toBe(400)
    expect((await presign(token, 'sales', null)).status).toBe(400)
  })

  it('ingests a file', async () => {
    const { access_token: token } = await tokenFor(freshSecret())
    const url = `${emulator.urls.clear.baseUrl}/integration/v1/ingest/file/SALES_TEMPLATE`
    const response = await sendJson(
      url,
      'POST',
      { fileInfo: { s3FileUrl: 'x', userFileName: 'a.csv' } },
      { 'x-cleartax-auth-token': token },
    )
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({
      templateType: 'SALES_TEMPLATE',
      status: 'QUEUED',
    })
    expect(
      (await sendJson(url, 'POST', undefined, { 'x-cleartax-auth-token': token })).status,
    ).toBe(400)
    await expectAuthorizationFailed(
      await sendJson(url, 'POST', {}, { authorization: `Bearer ${token}` }),
    )
    expect((await fetch(url, { headers: { 'x-cleartax-auth-token': token } })).status).toBe(405)
  })
})
