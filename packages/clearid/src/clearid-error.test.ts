import {
  InvalidTokenResponseError,
  ManualClock,
  TokenEndpointError,
  type TokenKeeperError,
  type TransportResponse,
} from '@tokenkeeper/auth-core'
import { createMockAgent } from '@tokenkeeper/auth-core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { clearIdTokenError } from './clearid-error.ts'
import { createClearId } from './clearid-provider.ts'
import type { ClearIdGrant } from './clearid-settings.ts'
import {
  CLIENT_ID,
  CLIENT_SECRET,
  fixture,
  isolateEnvironment,
  mockSts,
  START,
  STS,
  testKeys,
} from './test-helpers.ts'

isolateEnvironment()

const SECRET_GRANT: ClearIdGrant = 'client_credentials'
const ASSERTION_GRANT: ClearIdGrant = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

function answer(
  status: number,
  body: string,
  headers: Record<string, string> = {},
): TransportResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body }
}

function mapped(
  response: TransportResponse,
  grant: ClearIdGrant = SECRET_GRANT,
  sentSecrets: string[] = [],
) {
  return clearIdTokenError(response, {
    grant,
    now: START,
    tokenUrl: `${STS}/connect/token`,
    sentSecrets,
  })
}

describe('IdentityServer errors become typed, non-retryable errors that name the setting', () => {
  it.each([
    [
      'invalid-client.json',
      SECRET_GRANT,
      'invalid_client',
      /clientId and clientSecret.*regenerated/,
    ],
    [
      'invalid-client.json',
      ASSERTION_GRANT,
      'invalid_client',
      /clientId and privateKey.*regenerat/,
    ],
    [
      'invalid-grant.json',
      ASSERTION_GRANT,
      'invalid_grant',
      /clock.*privateKey belongs to clientId/,
    ],
    ['invalid-grant.json', SECRET_GRANT, 'invalid_grant', /clientId and clientSecret/],
    ['unsupported-grant-type.json', SECRET_GRANT, 'unsupported_grant_type', /stsUrl/],
    ['invalid-request.json', SECRET_GRANT, 'invalid_request', /clientId \(it has the form/],
    [
      'unauthorized-client.json',
      ASSERTION_GRANT,
      'unauthorized_client',
      /API integrations.*clientSecret instead of privateKey/,
    ],
  ] as const)('%s (%s)', (file, grant, oauthError, hint) => {
    const error = mapped(answer(400, fixture(file)), grant)
    expect(error).toBeInstanceOf(TokenEndpointError)
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_REJECTED',
      retryable: false,
      status: 400,
      oauthError,
    })
    expect(error.message).toMatch(/^clearid: token endpoint answered HTTP 400 \(/)
    expect(error.message).toContain(oauthError)
    expect(error.message).toMatch(hint)
  })

  it('names the environment as a suspect for bad credentials (demo credentials on production)', () => {
    expect(mapped(answer(400, fixture('invalid-client.json'))).message).toContain(
      'stsUrl/environment is the environment (demo, global, eu) where the integration was created',
    )
  })

  it('keeps the server description, with an echo of what was sent redacted in every spelling', () => {
    expect(mapped(answer(400, fixture('invalid-grant.json')), ASSERTION_GRANT).message).toContain(
      'invalid_grant: The assertion is not valid',
    )
    const formEncoded = new URLSearchParams({ client_secret: CLIENT_SECRET }).toString()
    const echo = JSON.stringify({
      error: 'invalid_client',
      error_description: `bad secret ${CLIENT_SECRET}; body ${formEncoded}; url ${encodeURIComponent(CLIENT_SECRET)}`,
    })
    const error = mapped(answer(400, echo), SECRET_GRANT, [CLIENT_SECRET])
    expect(error.message).toContain(
      'bad secret [redacted]; body client_secret=[redacted]; url [redacted]',
    )
    expect(error.message).not.toContain('SECRET-sentinel')
    expect(error.oauthError).toBe('invalid_client')
  })

  it('redacts an echoed secret in the error code and before the description is shortened', () => {
    const echo = JSON.stringify({
      error: `x ${encodeURIComponent(CLIENT_SECRET)}`,
      error_description: `${'.'.repeat(190)} ${CLIENT_SECRET}`,
    })
    const error = mapped(answer(400, echo), SECRET_GRANT, [CLIENT_SECRET])
    expect(error.oauthError).toBe('x [redacted]')
    expect(error.message).toContain('[redacted]')
    expect(`${error.message} ${JSON.stringify(error)}`).not.toContain('SECRET-sentinel')
  })

  it('401 or 403 without an OAuth body points at the credential too', () => {
    const error = mapped(answer(401, ''))
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_REJECTED', retryable: false, status: 401 })
    expect(error.message).toContain('Check clientId and clientSecret')
  })

  it('404 says there is no token endpoint at the STS origin', () => {
    const error = mapped(answer(404, '<html>Not found</html>', { 'content-type': 'text/html' }))
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_REJECTED', status: 404 })
    expect(error.message).toContain('no token endpoint at https://sts.clearid.io; check stsUrl')
    expect(error.message).not.toContain('<html>')
  })

  it('a redirect is not followed and points at stsUrl', () => {
    const error = mapped(answer(302, '', { location: 'https://login.example.com/' }))
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_REJECTED', retryable: false, status: 302 })
    expect(error.message).toContain('redirect, which is not followed; check stsUrl')
  })
})

describe('429 and 5xx are retryable', () => {
  it('429 is rate limited, honours Retry-After and says so', () => {
    const error = mapped(answer(429, '', { 'retry-after': '120' }))
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_RATE_LIMITED',
      retryable: true,
      retryAt: START + 120_000,
    })
    expect(error.message).toContain('rate limiting')
    expect(error.message).toContain('Not retrying before 2026-01-01T00:02:00.000Z')
  })

  it.each([500, 502, 503])(
    '%i is unavailable and retryable, and an HTML page is never quoted',
    (status) => {
      const error = mapped(
        answer(status, fixture('gateway-error.html'), { 'content-type': 'text/html' }),
      )
      expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_UNAVAILABLE', retryable: true, status })
      expect(error.message).not.toContain('Bad Gateway')
      expect(error.message).toContain('retried with backoff')
    },
  )
})

describe('through the client', () => {
  const agents: Array<ReturnType<typeof createMockAgent>> = []
  afterEach(async () => {
    for (const created of agents.splice(0)) {
      created.assertNoPendingInterceptors()
      await created.close()
    }
  })

  async function failing(status: number, body: string, settings: Record<string, unknown> = {}) {
    const mock = createMockAgent()
    agents.push(mock)
    const clock = new ManualClock()
    const sts = mockSts(mock, () => ({ status, body }))
    const client = createClearId({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      dispatcher: mock,
      clock,
      ...settings,
    })
    return { client, sts, clock }
  }

  it('a rejected credential is remembered briefly instead of hammering the STS', async () => {
    const { client, sts, clock } = await failing(400, fixture('invalid-client.json'))
    const first = await client.getToken().catch((error: TokenKeeperError) => error)
    const second = await client.getToken().catch((error: TokenKeeperError) => error)
    expect(first).toMatchObject({ code: 'TOKEN_ENDPOINT_REJECTED', oauthError: 'invalid_client' })
    expect(second).toBe(first)
    expect(sts.requests).toHaveLength(1)
    await clock.advance(31_000)
    await client.getToken().catch(() => {})
    expect(sts.requests).toHaveLength(2)
    await client.close()
  })

  it('an assertion refused as invalid_grant mentions clocks and the key', async () => {
    const { client } = await failing(400, fixture('invalid-grant.json'), {
      clientSecret: undefined,
      privateKey: testKeys().pkcs8,
    })
    const error = await client.getToken().catch((caught: TokenKeeperError) => caught)
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_REJECTED', oauthError: 'invalid_grant' })
    expect((error as Error).message).toContain('clock')
    await client.close()
  })

  it.each([
    ['HTML instead of JSON', '<!DOCTYPE html><html>BODY-sentinel-77</html>'],
    ['truncated JSON', '{"access_token": "BODY-sentinel-77'],
    ['no access_token', '{"token_type":"Bearer","expires_in":3600}'],
    ['a JWT that cannot be decoded', '{"access_token":"a.b.c","expires_in":3600}'],
  ])('a 200 with %s is an InvalidTokenResponseError', async (_name, body) => {
    const { client } = await failing(200, body)
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(InvalidTokenResponseError)
    expect((error as Error).message).not.toContain('BODY-sentinel-77')
    await client.close()
  })
})
