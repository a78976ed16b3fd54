import {
  createTokenClient,
  InvalidTokenResponseError,
  ManualClock,
  type TokenClient,
  TokenEndpointError,
  type TransportResponse,
} from '@tokenkeeper/auth-core'
import { createMockAgent } from '@tokenkeeper/auth-core/testing'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  CLIENT_SECRET,
  fixture,
  numberedTokens,
  PORTAL_TOKEN,
  settleIo,
  TOKEN_PATH,
  tokenEndpoint,
} from '../test/helpers.ts'
import { CLEAR_ENVIRONMENTS } from './clear-cfc-environments.ts'
import { nextQuotaReset } from './clear-cfc-error.ts'
import { createClearCfc } from './clear-cfc-provider.ts'
import {
  clearCfcTokenSource,
  normaliseValidTill,
  parseClearTokenResponse,
} from './clear-cfc-token-source.ts'

const clients: TokenClient[] = []
function track<T extends TokenClient>(client: T): T {
  clients.push(client)
  return client
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()))
  vi.unstubAllEnvs()
})

const START = Date.parse('2026-01-01T00:00:00Z')

function response(body: string, status = 200, headers: Record<string, string> = {}) {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body }
}

function json(value: unknown, status = 200): TransportResponse {
  return response(JSON.stringify(value), status)
}

describe('the token request on the wire', () => {
  it('is a GET of {baseUrl}/integration/v1/authz/token with x-clear-client-secret and no body', async () => {
    const agent = createMockAgent()
    const endpoint = tokenEndpoint(agent, () => ({
      body: JSON.parse(fixture('token-response.json')),
    }))
    const client = track(
      createClearCfc({
        clientSecret: CLIENT_SECRET,
        environment: 'india-sandbox',
        dispatcher: agent,
        clock: new ManualClock(START),
      }),
    )

    const token = await client.getToken()

    expect(endpoint.count).toBe(1)
    const [request] = endpoint.requests
    expect(request?.method).toBe('GET')
    expect(request?.path).toBe(TOKEN_PATH)
    expect(request?.headers['x-clear-client-secret']).toBe(CLIENT_SECRET)
    expect(request?.headers.accept).toBe('application/json')
    expect(request?.headers.authorization).toBeUndefined()
    expect(request?.headers['content-type']).toBeUndefined()
    expect(request?.body ?? undefined).toBeUndefined()
    expect(token.value).toBe('1.fixture-0b6c-4e2a-9dcd-5524c42eb99e_4d05f5b02559a70d65c')
    expect(token.expiresAt).toBe(Date.parse('2026-01-02T00:00:00Z'))
    agent.assertNoPendingInterceptors()
  })

  it.each(Object.entries(CLEAR_ENVIRONMENTS))(
    'environment %s sends the secret to %s',
    async (environment, baseUrl) => {
      const agent = createMockAgent()
      const endpoint = tokenEndpoint(
        agent,
        numberedTokens(() => null),
        baseUrl,
      )
      const client = track(
        createClearCfc({
          clientSecret: CLIENT_SECRET,
          environment: environment as keyof typeof CLEAR_ENVIRONMENTS,
          dispatcher: agent,
        }),
      )
      await client.getToken()
      expect(endpoint.count).toBe(1)
    },
  )

  it('uses baseUrl as given, with a path prefix and without a trailing slash', async () => {
    const agent = createMockAgent()
    const requests: string[] = []
    agent
      .get('https://proxy.example.com')
      .intercept({ path: `/clear${TOKEN_PATH}`, method: 'GET' })
      .reply((options) => {
        requests.push(options.path)
        return { statusCode: 200, data: { access_token: 'proxied', valid_till: null } }
      })
    const client = track(
      createClearCfc({
        clientSecret: CLIENT_SECRET,
        baseUrl: 'https://proxy.example.com/clear/',
        dispatcher: agent,
      }),
    )
    expect((await client.getToken()).value).toBe('proxied')
    expect(requests).toEqual([`/clear${TOKEN_PATH}`])
  })

  it('refuses to send the secret over plain HTTP to a non-loopback host', async () => {
    const agent = createMockAgent()
    let caught: unknown
    try {
      track(
        createClearCfc({
          clientSecret: CLIENT_SECRET,
          baseUrl: 'http://api-sandbox.clear.in',
          dispatcher: agent,
        }),
      )
    } catch (error) {
      caught = error
    }
    expect(caught).toMatchObject({ code: 'INSECURE_TRANSPORT' })
    expect(String((caught as Error).message)).not.toContain(CLIENT_SECRET)
  })
})

describe('parsing the token response', () => {
  it('reads the fixture: access_token and valid_till with an offset', () => {
    expect(parseClearTokenResponse(response(fixture('token-response.json')))).toEqual({
      value: '1.fixture-0b6c-4e2a-9dcd-5524c42eb99e_4d05f5b02559a70d65c',
      expiresAt: '2026-01-02T00:00:00.000+00:00',
    })
  })

  it('reads valid_till null as "never expires"', () => {
    expect(parseClearTokenResponse(response(fixture('token-response-never-expires.json')))).toEqual(
      { value: '1.fixture-7f31-4c1d-8e0a-1f2b3c4d5e6f_never', neverExpires: true },
    )
  })

  it('reads an absent valid_till like null (serialisers drop null fields)', () => {
    expect(parseClearTokenResponse(json({ access_token: 'abc' }))).toEqual({
      value: 'abc',
      neverExpires: true,
    })
  })

  it('accepts the access-token spelling, and prefers access_token when both are present', () => {
    expect(parseClearTokenResponse(response(fixture('token-response-hyphenated.json')))).toEqual({
      value: '1.fixture-hyphen-4e2a-9dcd-5524c42eb99e',
      expiresAt: '2026-01-01T06:00:00.000+00:00',
    })
    expect(
      parseClearTokenResponse(
        json({ access_token: 'one', 'access-token': 'two', valid_till: null }),
      ).value,
    ).toBe('one')
  })

  it('treats a valid_till more than 400 days away as "never expires" instead of discarding the token', () => {
    const parsed = parseClearTokenResponse(
      json({ access_token: 'long', valid_till: '2099-01-01T00:00:00+00:00' }),
      { now: START },
    )
    expect(parsed).toEqual({ value: 'long', neverExpires: true })
  })

  it.each([
    ['2026-01-01T12:00:00+00:00', '2026-01-01T12:00:00.000+00:00'],
    ['2026-01-01T12:00:00Z', '2026-01-01T12:00:00.000Z'],
    ['2026-01-01T12:00:00', '2026-01-01T12:00:00.000Z'],
    ['2026-01-01 12:00:00', '2026-01-01T12:00:00.000Z'],
    ['2026-01-01T12:00', '2026-01-01T12:00:00.000Z'],
    ['2026-01-01T17:30:00+05:30', '2026-01-01T17:30:00.000+05:30'],
    ['2026-01-01T17:30:00+0530', '2026-01-01T17:30:00.000+05:30'],
    ['2026-01-01T07:00:00-05', '2026-01-01T07:00:00.000-05:00'],
    ['2026-01-01T12:00:00.123456+00:00', '2026-01-01T12:00:00.123+00:00'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
  ])('normalises valid_till %s to %s', (input, expected) => {
    expect(normaliseValidTill(input)).toBe(expected)
    expect(Number.isNaN(Date.parse(expected))).toBe(false)
  })

  it('reads offsets correctly: all of these are 12:00 UTC', () => {
    for (const text of [
      '2026-01-01T12:00:00+00:00',
      '2026-01-01T12:00:00',
      '2026-01-01T17:30:00+05:30',
      '2026-01-01T07:00:00-05:00',
    ]) {
      expect(Date.parse(normaliseValidTill(text) ?? '')).toBe(Date.parse('2026-01-01T12:00:00Z'))
    }
  })

  it.each([
    ['tomorrow'],
    [''],
    ['2026-01-01'],
    ['2026-02-30T00:00:00Z'],
    ['2027-02-29T00:00:00Z'],
    ['2026-13-01T00:00:00Z'],
    ['2026-01-01T24:00:00Z'],
    ['2026-01-01T12:60:00Z'],
    ['2026-01-01T12:00:00+25:00'],
    ['1767225600'],
    ['Thu, 01 Jan 2026 12:00:00 GMT'],
  ])('rejects valid_till %j as not an ISO 8601 date-time', (validTill) => {
    const attempt = () =>
      parseClearTokenResponse(json({ access_token: 'abc', valid_till: validTill }))
    expect(attempt).toThrow(InvalidTokenResponseError)
    expect(attempt).toThrow(/valid_till that is not an ISO 8601 date-time/)
  })

  it.each([[1767225600], [true], [{}], [[]]])(
    'rejects valid_till of the wrong type (%j)',
    (validTill) => {
      expect(() =>
        parseClearTokenResponse(json({ access_token: 'abc', valid_till: validTill })),
      ).toThrow(/valid_till that is neither an ISO 8601 date-time nor null/)
    },
  )

  it.each([
    ['an HTML page', fixture('gateway-error.html'), /an HTML page/],
    ['an empty body', '', /an empty body/],
    ['truncated JSON', '{"access_token": "abc", "valid_t', /malformed or truncated JSON/],
    ['a JSON array', '[]', /not an object/],
    ['a JSON string', '"abc"', /not an object/],
    ['no token', '{"valid_till": null}', /has no access_token/],
    ['a null token', '{"access_token": null}', /has no access_token/],
    ['a numeric token', '{"access_token": 12345}', /not a non-empty string/],
    ['an empty token', '{"access_token": "  "}', /not a non-empty string/],
    ['an object token', '{"access_token": {"value": "x"}}', /not a non-empty string/],
  ])('rejects a 200 answer with %s, without quoting it', (_label, body, message) => {
    let caught: unknown
    try {
      parseClearTokenResponse(response(body))
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(InvalidTokenResponseError)
    expect(caught).toMatchObject({ code: 'INVALID_TOKEN_RESPONSE', retryable: true })
    expect((caught as Error).message).toMatch(message)
    expect((caught as Error).message).not.toContain('Bad Gateway')
  })

  it('names Clear errors that arrive with status 200', () => {
    expect(() => parseClearTokenResponse(response(fixture('error-500.json')))).toThrow(
      /has errors instead of an access_token \(INTERNAL_ERROR: Something went wrong \[error_id fixture-err-500e7b\]\)/,
    )
  })
})

describe('parseClearTokenResponse with the secret that was sent', () => {
  it('redacts it from the errors of a 2xx in every spelling', () => {
    const said = `bad ${CLIENT_SECRET} ${encodeURIComponent(CLIENT_SECRET)} ${new URLSearchParams({ s: CLIENT_SECRET })}`
    const answer = json({ errors: [{ error_code: said, error_message: said, error_id: said }] })
    const caught = (() => {
      try {
        parseClearTokenResponse(answer, { secrets: [CLIENT_SECRET] })
      } catch (error) {
        return error as Error
      }
      return undefined
    })()
    expect(caught).toBeInstanceOf(InvalidTokenResponseError)
    expect(caught?.message).toContain('bad [redacted] [redacted] s=[redacted]')
    expect(caught?.message).not.toContain('SECRET-sentinel')
  })
})

describe('valid_till through the client (expiry on the local clock)', () => {
  async function issue(validTill: unknown, headers: Record<string, string> = {}) {
    const agent = createMockAgent()
    const clock = new ManualClock(START)
    tokenEndpoint(agent, () => ({ body: { access_token: 'abc', valid_till: validTill }, headers }))
    const client = track(
      createClearCfc({
        clientSecret: CLIENT_SECRET,
        environment: 'india-sandbox',
        dispatcher: agent,
        clock,
      }),
    )
    return client.getToken()
  }

  it('future with offset: expires then', async () => {
    expect((await issue('2026-01-01T06:00:00+05:30')).expiresAt).toBe(
      Date.parse('2026-01-01T00:30:00Z'),
    )
  })

  it('no offset: read as UTC', async () => {
    expect((await issue('2026-01-01T01:00:00')).expiresAt).toBe(Date.parse('2026-01-01T01:00:00Z'))
  })

  it('null: never expires', async () => {
    expect((await issue(null)).expiresAt).toBeNull()
  })

  it('past: an invalid response (check the clocks), not a token', async () => {
    await expect(issue('2025-12-31T23:00:00+00:00')).rejects.toMatchObject({
      code: 'INVALID_TOKEN_RESPONSE',
      message: expect.stringMatching(/already expired; check the server and local clocks/),
    })
  })

  it('is corrected by the skew between the server Date and the local clock', async () => {
    // The server's clock is one hour ahead: its valid_till one hour after its now is one hour
    // after our now (less the second of uncertainty in Date, taken conservatively).
    const token = await issue('2026-01-01T02:00:00+00:00', {
      date: 'Thu, 01 Jan 2026 01:00:00 GMT',
    })
    expect(token.expiresAt).toBe(Date.parse('2026-01-01T00:59:59Z'))
  })

  it('a server clock behind ours does not make a valid token look expired', async () => {
    const token = await issue('2025-12-31T23:30:00+00:00', {
      date: 'Wed, 31 Dec 2025 23:00:00 GMT',
    })
    expect(token.expiresAt).toBe(Date.parse('2026-01-01T00:29:59Z'))
  })
})

describe('token endpoint errors', () => {
  async function failWith(answer: {
    status: number
    body: string
    headers?: Record<string, string>
  }) {
    const agent = createMockAgent()
    const endpoint = tokenEndpoint(agent, () => answer)
    const client = track(
      createClearCfc({
        clientSecret: CLIENT_SECRET,
        environment: 'india-sandbox',
        dispatcher: agent,
        clock: new ManualClock(START),
      }),
    )
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(endpoint.count).toBe(1)
    expect(error).toBeInstanceOf(TokenEndpointError)
    return error as TokenEndpointError
  }

  it('401 (wrong, missing or deleted secret): not retryable, names clientSecret and CLEAR_CLIENT_SECRET', async () => {
    const error = await failWith({ status: 401, body: fixture('error-401-invalid-secret.json') })
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_REJECTED',
      retryable: false,
      status: 401,
      vendorErrorCode: 'INVALID_CLIENT_SECRET',
      vendorErrorId: 'fixture-err-3b8f1c',
    })
    expect(error.message).toContain('clientSecret')
    expect(error.message).toContain('CLEAR_CLIENT_SECRET')
    expect(error.message).toContain('IP allow-list')
    expect(error.message).toContain('https://api-sandbox.clear.in')
    expect(error.message).toContain('[error_id fixture-err-3b8f1c]')
  })

  it('401 because the IP address is not allowed: same mapping, Clear error kept', async () => {
    const error = await failWith({ status: 401, body: fixture('error-401-ip-not-allowed.json') })
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_REJECTED',
      retryable: false,
      vendorErrorCode: 'IP_NOT_WHITELISTED',
      vendorErrorId: 'fixture-err-91aa20',
    })
    expect(error.message).toContain('Request IP address is not allowed')
    expect(error.message).toContain(
      "this machine's public IP address is on the API client's IP allow-list",
    )
  })

  it('401 with an HTML body from a gateway: still the 401 mapping, body not quoted', async () => {
    const error = await failWith({
      status: 401,
      body: fixture('gateway-error.html'),
      headers: { 'content-type': 'text/html' },
    })
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_REJECTED', retryable: false })
    expect(error.vendorErrorCode).toBeUndefined()
    expect(error.message).not.toContain('Bad Gateway')
  })

  it('500: retryable, keeps error_id for Clear support', async () => {
    const error = await failWith({ status: 500, body: fixture('error-500.json') })
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_UNAVAILABLE',
      retryable: true,
      status: 500,
      vendorErrorCode: 'INTERNAL_ERROR',
      vendorErrorId: 'fixture-err-500e7b',
    })
    expect(error.message).toContain('quote the error_id to Clear support')
  })

  it('429 without Retry-After: retryAt is just after the next 00:00 UTC, and the message says so', async () => {
    const error = await failWith({ status: 429, body: fixture('error-429-quota.json') })
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_RATE_LIMITED',
      retryable: true,
      status: 429,
      retryAt: Date.parse('2026-01-02T00:01:00Z'),
      vendorErrorCode: 'RATE_LIMIT_EXCEEDED',
      vendorErrorId: 'fixture-err-429c0d',
    })
    expect(error.message).toContain('288 token requests per client secret per day')
    expect(error.message).toContain('Not retrying before 2026-01-02T00:01:00.000Z')
  })

  it('429 with Retry-After in seconds or as a date: retryAt follows it', async () => {
    const seconds = await failWith({
      status: 429,
      body: fixture('error-429-quota.json'),
      headers: { 'retry-after': '3600' },
    })
    expect(seconds.retryAt).toBe(START + 3_600_000)
    expect(seconds.message).toContain('Not retrying before 2026-01-01T01:00:00.000Z')
    const date = await failWith({
      status: 429,
      body: '{}',
      headers: { 'retry-after': 'Thu, 01 Jan 2026 00:30:00 GMT' },
    })
    expect(date.retryAt).toBe(Date.parse('2026-01-01T00:30:00Z'))
  })

  it("429 near midnight: the reset is midnight on Clear's clock (from Date), not ours", async () => {
    // Our clock says 00:00:00 on Jan 1; Clear's says 23:50 on Dec 31, so its count resets in
    // ten minutes (asked again a minute after), not in a day.
    const behind = await failWith({
      status: 429,
      body: '{}',
      headers: { date: 'Wed, 31 Dec 2025 23:50:00 GMT' },
    })
    expect(behind.retryAt).toBe(START + 11 * 60_000)
    // Clear's clock is ten minutes ahead (00:10 on Jan 1): its next reset is at 23:50 on Jan 1
    // by our clock.
    const ahead = await failWith({
      status: 429,
      body: '{}',
      headers: { date: 'Thu, 01 Jan 2026 00:10:00 GMT' },
    })
    expect(ahead.retryAt).toBe(Date.parse('2026-01-01T23:51:00Z'))
  })

  it('429 with a Date on the last day Date can represent: the local clock decides the reset', async () => {
    for (const date of [
      new Date(8.64e15).toUTCString(),
      'Fri, 12 Sep 275760 23:59:59 GMT',
      new Date(-8.64e15).toUTCString(),
    ]) {
      const error = await failWith({ status: 429, body: '{}', headers: { date } })
      expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_RATE_LIMITED', retryable: true })
      expect(Number.isFinite(error.retryAt)).toBe(true)
      expect(error.message).toContain('Not retrying before')
    }
    expect(
      nextQuotaReset({ sentAt: START, receivedAt: START, date: new Date(8.64e15).toUTCString() }),
    ).toBe(Date.parse('2026-01-02T00:01:00Z'))
    expect(
      nextQuotaReset({ sentAt: START, receivedAt: START, date: new Date(-8.64e15).toUTCString() }),
    ).toBe(Date.parse('2026-01-02T00:01:00Z'))
  })

  it.each([
    [302, /redirected/],
    [404, /not a Clear token endpoint/],
    [403, /product and IP restrictions/],
  ])('%i: a hint about the likely setting', async (status, hint) => {
    const error = await failWith({ status, body: '' })
    expect(error.message).toMatch(hint)
  })

  it('never repeats the secret even if Clear echoes it', async () => {
    const error = await failWith({
      status: 401,
      body: JSON.stringify({
        errors: [{ error_code: 'BAD', error_message: `secret ${CLIENT_SECRET} is wrong` }],
      }),
    })
    expect(error.message).toContain('secret [redacted] is wrong')
    expect(error.message).not.toContain(CLIENT_SECRET)
  })
})

describe('static-token mode (a token generated in the Clear portal)', () => {
  it('never calls the token endpoint and never expires', async () => {
    const agent = createMockAgent() // no interceptors: any request would fail the test
    const clock = new ManualClock(START)
    const client = track(
      createClearCfc({
        accessToken: PORTAL_TOKEN,
        environment: 'india-sandbox',
        dispatcher: agent,
        clock,
      }),
    )
    const token = await client.getToken()
    expect(token.value).toBe(PORTAL_TOKEN)
    expect(token.expiresAt).toBeNull()
    await clock.advance(400 * 24 * 3_600_000)
    expect((await client.getToken({ forceRefresh: true })).value).toBe(PORTAL_TOKEN)
    expect(await client.getAuthHeaders()).toEqual({ 'x-cleartax-auth-token': PORTAL_TOKEN })
  })

  it('reads CLEAR_ACCESS_TOKEN', async () => {
    vi.stubEnv('CLEAR_ACCESS_TOKEN', PORTAL_TOKEN)
    vi.stubEnv('CLEAR_CLIENT_SECRET', '')
    const client = track(createClearCfc({ environment: 'eu', dispatcher: createMockAgent() }))
    expect((await client.getToken()).value).toBe(PORTAL_TOKEN)
  })

  it('a rejected portal token is a configuration error, not a loop', async () => {
    const client = track(
      createClearCfc({
        accessToken: PORTAL_TOKEN,
        environment: 'india-sandbox',
        dispatcher: createMockAgent(),
      }),
    )
    const token = await client.getToken()
    expect(client.invalidate(token)).toBe(true)
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'CONFIGURATION_INVALID', setting: 'accessToken' })
    expect((error as Error).message).toMatch(/Generate a new one in the Clear portal/)
    expect((error as Error).message).not.toContain(PORTAL_TOKEN)
  })
})

describe('the source itself', () => {
  it('declares reissueRevokesPrevious and the vendor', () => {
    const source = clearCfcTokenSource({ clientSecret: CLIENT_SECRET, environment: 'eu' })
    expect(source.reissueRevokesPrevious).toBe(true)
    expect(source.vendor).toBe('clear-cfc')
    expect(source.rejectionStatuses).toBeUndefined() // 401, the core's default
    expect(source.origins?.()).toEqual(['https://api.eu.cleartax.com'])
  })

  it('works with createTokenClient directly (what the n8n package does)', async () => {
    const agent = createMockAgent()
    const endpoint = tokenEndpoint(
      agent,
      numberedTokens(() => '2026-01-01T08:00:00Z'),
    )
    const client = track(
      createTokenClient(
        clearCfcTokenSource({ clientSecret: CLIENT_SECRET, environment: 'india-sandbox' }),
        { dispatcher: agent, clock: new ManualClock(START) },
      ),
    )
    expect((await client.getToken()).value).toBe('clear-token-1')
    expect(endpoint.count).toBe(1)
    await settleIo()
  })
})
