import { inspect } from 'node:util'
import {
  clientSecretBasic,
  createTokenClient,
  InvalidTokenResponseError,
  ManualClock,
  Secret,
  TokenEndpointError,
  type TransportResponse,
} from '@tokenkeeper/auth-core'
import { createMockAgent } from '@tokenkeeper/auth-core/testing'
import type { MockAgent } from 'undici'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  BASE_URL,
  CLIENT_ID,
  CLIENT_SECRET,
  CUSTOMER_ID,
  fixture,
  numberedTokens,
  TOKEN_PATH,
  tokenEndpoint,
} from './__fixtures__/harness.ts'
import {
  AKAMAI_IDENTITY_ENVIRONMENT,
  createSettingsResolver,
  type ResolvedAkamaiIdentitySettings,
} from './akamai-identity-settings.ts'
import {
  akamaiIdentityTokenSource,
  buildAkamaiIdentityTokenRequest,
  processAkamaiIdentityTokenResponse,
} from './akamai-identity-token-source.ts'

const settings = {
  region: 'us',
  customerId: CUSTOMER_ID,
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
}

let agent: MockAgent
let clock: ManualClock

beforeEach(() => {
  for (const name of Object.values(AKAMAI_IDENTITY_ENVIRONMENT)) vi.stubEnv(name, '')
  agent = createMockAgent()
  clock = new ManualClock()
})

afterEach(async () => {
  vi.unstubAllEnvs()
  await agent.close()
})

function resolved(overrides = {}): ResolvedAkamaiIdentitySettings {
  return createSettingsResolver({ ...settings, ...overrides }).resolve()
}

function response(
  status: number,
  body: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): TransportResponse {
  return { status, headers, body }
}

/** Decodes a Basic header into the two encoded halves and what a server would decode. */
function decodeBasic(header: string) {
  expect(header.startsWith('Basic ')).toBe(true)
  const pair = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8')
  const colon = pair.indexOf(':')
  const user = pair.slice(0, colon)
  const password = pair.slice(colon + 1)
  // RFC 6749 appendix B: the server form-decodes each half.
  const formDecode = (value: string) => new URLSearchParams(`v=${value}`).get('v')
  return {
    pair,
    colons: pair.split(':').length - 1,
    user,
    password,
    formDecoded: [formDecode(user), formDecode(password)],
    percentDecoded: [decodeURIComponent(user), decodeURIComponent(password)],
  }
}

describe('the token request on the wire', () => {
  it('POSTs the form to {baseUrl}/{customerId}/login/token with HTTP Basic', async () => {
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const client = createTokenClient(akamaiIdentityTokenSource(settings), {
      dispatcher: agent,
      clock,
    })
    await client.getToken()
    expect(endpoint.requests).toHaveLength(1)
    const [request] = endpoint.requests
    expect(request).toEqual({
      method: 'POST',
      path: `/${CUSTOMER_ID}/login/token`,
      headers: {
        authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: 'grant_type=client_credentials&scope=*%3Awebhooks%2F**',
    })
    expect(Object.fromEntries(new URLSearchParams(request?.body))).toEqual({
      grant_type: 'client_credentials',
      scope: '*:webhooks/**',
    })
    agent.assertNoPendingInterceptors()
    await client.close()
  })

  it('sends several scopes space-separated in one form field', () => {
    const request = buildAkamaiIdentityTokenRequest(
      resolved({ scope: ['*:config/**', '*:webhooks/**'] }),
    )
    expect(request.body).toBe(
      'grant_type=client_credentials&scope=*%3Aconfig%2F**+*%3Awebhooks%2F**',
    )
    expect(new URLSearchParams(request.body).get('scope')).toBe('*:config/** *:webhooks/**')
    expect(request.url).toBe(`${BASE_URL}${TOKEN_PATH}`)
    expect(request.method).toBe('POST')
  })

  it.each([
    ['colons', 'client:with:colons', 'SECRET-sentinel-123:a:b'],
    ['percent signs', 'client%41id', 'SECRET-sentinel-123%20%zz'],
    ['plus signs', 'client+id', 'SECRET-sentinel-123+plus'],
    ['spaces', 'client id', 'SECRET-sentinel-123 with spaces '],
    ['non-ASCII', 'clïent-日本', 'SECRET-sentinel-123-ü-秘密-🔑'],
    ['everything', 'a:b%c+d e/é', 'SECRET-sentinel-123:%+ /?#&=é'],
  ])(
    'form-encodes ids and secrets with %s before Basic encoding (RFC 6749 §2.3.1)',
    async (_, clientId, clientSecret) => {
      const endpoint = tokenEndpoint(agent, numberedTokens())
      const client = createTokenClient(
        akamaiIdentityTokenSource({ ...settings, clientId, clientSecret }),
        { dispatcher: agent, clock },
      )
      await client.getToken()
      const header = endpoint.requests[0]?.headers.authorization ?? ''
      const expected = `${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`
      expect(header).toBe(`Basic ${Buffer.from(expected, 'utf8').toString('base64')}`)
      const decoded = decodeBasic(header)
      // Exactly one colon: the separator; any colon in the values is encoded.
      expect(decoded.colons).toBe(1)
      expect(decoded.pair).toMatch(/^[A-Za-z0-9%!'()*._~-]+:[A-Za-z0-9%!'()*._~-]+$/)
      // Both a form-decoding server and a percent-decoding one recover the original values.
      expect(decoded.formDecoded).toEqual([clientId, clientSecret])
      expect(decoded.percentDecoded).toEqual([clientId, clientSecret])
      await client.close()
    },
  )

  it('leaves the usual alphanumeric credentials unchanged', () => {
    expect(clientSecretBasic('abc123', 'XyZ-789_.~')).toBe(
      `Basic ${Buffer.from('abc123:XyZ-789_.~').toString('base64')}`,
    )
  })

  it('accepts the secret as a Secret', async () => {
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const client = createTokenClient(
      akamaiIdentityTokenSource({ ...settings, clientSecret: new Secret(CLIENT_SECRET) }),
      { dispatcher: agent, clock },
    )
    await client.getToken()
    expect(decodeBasic(endpoint.requests[0]?.headers.authorization ?? '').password).toBe(
      CLIENT_SECRET,
    )
    await client.close()
  })

  it('uses the host and customer of oidcUrl', async () => {
    const endpoint = tokenEndpoint(agent, numberedTokens(), {
      origin: 'https://v1.api.eu.janrain.com',
      path: '/cust-eu/login/token',
    })
    const client = createTokenClient(
      akamaiIdentityTokenSource({
        oidcUrl: 'https://v1.api.eu.janrain.com/cust-eu/login',
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
      }),
      { dispatcher: agent, clock },
    )
    await client.getToken()
    expect(endpoint.requests).toHaveLength(1)
    await client.close()
  })

  it('declares 401 and 403 as token rejections and presents the token as Bearer', () => {
    const source = akamaiIdentityTokenSource(settings)
    expect(source.vendor).toBe('akamai-identity')
    expect(source.rejectionStatuses).toEqual([401, 403])
    expect(source.origins?.()).toEqual([BASE_URL])
    expect(source.reissueRevokesPrevious).toBeUndefined()
    const headers = source.authHeaders({
      value: 'opaque-token-1',
      type: 'Bearer',
      expiresAt: null,
      issuedAt: 0,
      id: 'x',
    })
    expect(headers).toEqual({ authorization: 'Bearer opaque-token-1' })
  })
})

describe('parsing the token response', () => {
  it('reads the vendor fixture', () => {
    const issued = processAkamaiIdentityTokenResponse(
      response(200, fixture('token-response.json')),
      resolved(),
      clock.now(),
    )
    expect(issued).toEqual({
      value: 'fixture-opaque-AbCdEf012345-ghIJkl6789-MnOpQr',
      type: 'Bearer',
      expiresIn: 3600,
      scope: ['*:webhooks/**'],
    })
    expect(issued.jwt).toBeUndefined()
  })

  it('normalises token_type and accepts expires_in as a string of digits', () => {
    const issued = processAkamaiIdentityTokenResponse(
      response(200, JSON.stringify({ access_token: 't', token_type: 'bearer', expires_in: '60' })),
      resolved(),
      clock.now(),
    )
    expect(issued).toMatchObject({ type: 'Bearer', expiresIn: 60 })
  })

  it('takes expires_in as the only expiry signal, even for a token that looks like a JWT', async () => {
    // A JWT-shaped value whose exp lies in the past: opaque tokens are never parsed.
    const header = Buffer.from('{"alg":"none"}').toString('base64url')
    const payload = Buffer.from(JSON.stringify({ exp: 1 })).toString('base64url')
    const jwtLooking = `${header}.${payload}.sig`
    tokenEndpoint(agent, () => ({ body: { access_token: jwtLooking, expires_in: 1800 } }))
    const client = createTokenClient(akamaiIdentityTokenSource(settings), {
      dispatcher: agent,
      clock,
    })
    const token = await client.getToken()
    expect(token.expiresAt).toBe(clock.now() + 1_800_000)
    await client.close()
  })

  it('falls back to the client defaultLifetime when expires_in is missing', async () => {
    tokenEndpoint(agent, () => ({ body: { access_token: 'opaque' } }))
    const client = createTokenClient(akamaiIdentityTokenSource(settings), {
      dispatcher: agent,
      clock,
      defaultLifetime: 120,
    })
    expect((await client.getToken()).expiresAt).toBe(clock.now() + 120_000)
    await client.close()
  })

  it.each([
    [JSON.stringify({ expires_in: 3600 }), 'has no access_token'],
    [JSON.stringify({ access_token: '', expires_in: 3600 }), 'not a non-empty string'],
    [JSON.stringify({ access_token: 't', expires_in: 'soon' }), 'expires_in'],
    ['[]', 'not an object'],
    [fixture('gateway-error.html'), 'HTML page'],
    ['', 'empty body'],
  ])('rejects a 2xx body %# as an InvalidTokenResponseError', (body, message) => {
    let caught: unknown
    try {
      processAkamaiIdentityTokenResponse(response(200, body), resolved(), clock.now())
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(InvalidTokenResponseError)
    expect((caught as InvalidTokenResponseError).code).toBe('INVALID_TOKEN_RESPONSE')
    expect((caught as Error).message).toContain(message)
    expect((caught as Error).message).not.toContain('<html')
  })
})

describe('token endpoint errors', () => {
  function mapped(status: number, body: string, headers?: Record<string, string>, overrides = {}) {
    try {
      processAkamaiIdentityTokenResponse(
        response(status, body, headers),
        resolved(overrides),
        clock.now(),
      )
    } catch (error) {
      expect(error).toBeInstanceOf(TokenEndpointError)
      return error as TokenEndpointError
    }
    throw new Error('expected a TokenEndpointError')
  }

  it('401 invalid_client names clientId and clientSecret', () => {
    const error = mapped(401, fixture('invalid-client.json'))
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_REJECTED',
      status: 401,
      oauthError: 'invalid_client',
      retryable: false,
    })
    expect(error.message).toBe(
      'akamai-identity: token endpoint answered HTTP 401 (invalid_client: client authentication failed). Check clientId and clientSecret (AKAMAI_IDENTITY_CLIENT_ID, AKAMAI_IDENTITY_CLIENT_SECRET): they must be the configuration client Akamai set up for this customer, not a login or API client',
    )
  })

  it('400 invalid_client is a credential problem too', () => {
    const error = mapped(400, fixture('invalid-client.json'))
    expect(error).toMatchObject({ status: 400, oauthError: 'invalid_client', retryable: false })
    expect(error.message).toContain('Check clientId and clientSecret')
  })

  it('401 without a JSON body still names the credentials', () => {
    const error = mapped(401, 'Unauthorized', { 'content-type': 'text/plain' })
    expect(error).toMatchObject({ status: 401, code: 'TOKEN_ENDPOINT_REJECTED' })
    expect(error.oauthError).toBeUndefined()
    expect(error.message).toContain('clientId and clientSecret')
  })

  it('invalid_scope names the scope and the scopes a token policy can allow', () => {
    const error = mapped(400, fixture('invalid-scope.json'), undefined, { scope: '*:config/**' })
    expect(error).toMatchObject({ status: 400, oauthError: 'invalid_scope', retryable: false })
    expect(error.message).toContain('scope "*:config/**"')
    expect(error.message).toContain('AKAMAI_IDENTITY_SCOPE')
    for (const scope of [
      '*:webhooks/** for Webhooks v3',
      '*:config/** for the configuration APIs',
      '*:** for the Custom Providers API',
    ]) {
      expect(error.message).toContain(scope)
    }
  })

  it('unauthorized_client points to the token policy', () => {
    const error = mapped(400, JSON.stringify({ error: 'unauthorized_client' }))
    expect(error.oauthError).toBe('unauthorized_client')
    expect(error.message).toContain('token policy')
  })

  it('keeps an unknown OAuth error code as sent', () => {
    const error = mapped(
      400,
      JSON.stringify({ error: 'temporarily_weird', error_description: 'x' }),
    )
    expect(error.oauthError).toBe('temporarily_weird')
    expect(error.message).toBe(
      'akamai-identity: token endpoint answered HTTP 400 (temporarily_weird: x)',
    )
  })

  it('403 {"errors":"Forbidden"} keeps the vendor text and names credentials and scope', () => {
    const error = mapped(403, fixture('forbidden.json'))
    expect(error).toMatchObject({ status: 403, code: 'TOKEN_ENDPOINT_REJECTED' })
    expect(error.message).toContain('(Forbidden)')
    expect(error.message).toContain('scope "*:webhooks/**"')
  })

  it('404 names customerId and the location settings', () => {
    const error = mapped(404, fixture('gateway-error.html'), { 'content-type': 'text/html' })
    expect(error.status).toBe(404)
    expect(error.message).toContain(`${BASE_URL} has no token endpoint for this customer`)
    expect(error.message).toContain('customerId (AKAMAI_IDENTITY_CUSTOMER_ID)')
    expect(error.message).not.toContain('<')
  })

  it('a redirect is refused with a hint', () => {
    const error = mapped(302, '', { location: 'https://elsewhere.example' })
    expect(error.message).toContain('redirects are not followed')
    expect(error.message).not.toContain('elsewhere')
  })

  it('429 is retryable and honours Retry-After', () => {
    const error = mapped(429, JSON.stringify({ errors: 'Too Many Requests' }), {
      'content-type': 'application/json',
      'retry-after': '120',
    })
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_RATE_LIMITED',
      retryable: true,
      retryAt: clock.now() + 120_000,
    })
  })

  it('5xx with an HTML page is retryable and never quotes the page', () => {
    const error = mapped(502, fixture('gateway-error.html'), { 'content-type': 'text/html' })
    expect(error).toMatchObject({
      code: 'TOKEN_ENDPOINT_UNAVAILABLE',
      retryable: true,
      status: 502,
    })
    expect(error.message).toBe(
      'akamai-identity: token endpoint answered HTTP 502. The request is retried with backoff',
    )
  })

  it('never repeats the client secret even if the server echoes it', () => {
    const encoded = encodeURIComponent('SECRET-sentinel-123 x')
    const error = mapped(
      401,
      JSON.stringify({
        error: 'invalid_client',
        error_description: `bad secret SECRET-sentinel-123 x or ${encoded}`,
      }),
      undefined,
      { clientSecret: 'SECRET-sentinel-123 x' },
    )
    expect(error.message).toContain('bad secret [redacted] or [redacted]')
    for (const output of [error.message, inspect(error), JSON.stringify(error)]) {
      expect(output).not.toContain('SECRET-sentinel-123')
    }
  })

  it('reaches getToken() as the same typed error', async () => {
    tokenEndpoint(agent, () => ({ status: 401, body: JSON.parse(fixture('invalid-client.json')) }))
    const client = createTokenClient(akamaiIdentityTokenSource(settings), {
      dispatcher: agent,
      clock,
    })
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(TokenEndpointError)
    expect(error).toMatchObject({ status: 401, oauthError: 'invalid_client', retryable: false })
    await client.close()
  })
})
