import { describe, expect, it } from 'vitest'
import {
  clientSecretBasic,
  InvalidTokenResponseError,
  normaliseTokenType,
  parseOAuthTokenResponse,
  parseRetryAfter,
  readOAuthError,
  TokenEndpointError,
  type TransportResponse,
  tokenEndpointError,
} from '../src/index.ts'

const response = (
  body: string,
  status = 200,
  headers: Record<string, string> = {},
): TransportResponse => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body,
})

describe('parseOAuthTokenResponse', () => {
  it('reads a complete RFC 6749 response', () => {
    const parsed = parseOAuthTokenResponse(
      response(
        JSON.stringify({
          access_token: 'abc',
          token_type: 'bearer',
          expires_in: 1800,
          refresh_token: 'r',
          refresh_expires_in: 0,
          scope: 'a b',
        }),
      ),
      'v',
    )
    expect(parsed).toMatchObject({
      accessToken: 'abc',
      tokenType: 'bearer',
      expiresIn: 1800,
      refreshToken: 'r',
      refreshExpiresIn: 0,
      scope: ['a', 'b'],
    })
    expect(normaliseTokenType(parsed.tokenType)).toBe('Bearer')
  })

  it.each([
    ['an HTML page', '<!DOCTYPE html><html><body>Gateway</body></html>', /HTML page/],
    ['an empty body', '', /empty body/],
    ['truncated JSON', '{"access_token": "abc", "expires', /malformed or truncated JSON/],
    ['a JSON array', '[1,2]', /not an object/],
    ['no access_token', '{"expires_in": 3600}', /has no access_token/],
    ['an empty access_token', '{"access_token": ""}', /non-empty string/],
    ['a numeric access_token', '{"access_token": 42}', /non-empty string/],
    ['expires_in as text', '{"access_token": "abc", "expires_in": "an hour"}', /expires_in/],
    ['a bad scope', '{"access_token": "abc", "scope": {"a": 1}}', /scope/],
    ['a bad refresh_token', '{"access_token": "abc", "refresh_token": 5}', /refresh_token/],
  ])('rejects %s with a typed error', (_, body, message) => {
    let caught: unknown
    try {
      parseOAuthTokenResponse(response(body), 'vendor')
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(InvalidTokenResponseError)
    expect((caught as Error).message).toMatch(message)
    expect((caught as InvalidTokenResponseError).code).toBe('INVALID_TOKEN_RESPONSE')
  })

  it('never quotes the body in its messages', () => {
    const secretBody = '<html>SECRET-sentinel-8472</html>'
    expect(() => parseOAuthTokenResponse(response(secretBody), 'v')).toThrow(
      expect.not.objectContaining({ message: expect.stringContaining('SECRET') }),
    )
  })
})

describe('tokenEndpointError', () => {
  it('maps statuses to codes and retryability', () => {
    const now = Date.parse('2026-03-01T12:00:00Z')
    const cases: Array<[number, string, boolean]> = [
      [302, 'TOKEN_ENDPOINT_REJECTED', false],
      [400, 'TOKEN_ENDPOINT_REJECTED', false],
      [401, 'TOKEN_ENDPOINT_REJECTED', false],
      [408, 'TOKEN_ENDPOINT_UNAVAILABLE', true],
      [429, 'TOKEN_ENDPOINT_RATE_LIMITED', true],
      [500, 'TOKEN_ENDPOINT_UNAVAILABLE', true],
      [503, 'TOKEN_ENDPOINT_UNAVAILABLE', true],
    ]
    for (const [status, code, retryable] of cases) {
      const error = tokenEndpointError(response('{}', status), { vendor: 'v', now })
      expect(error).toBeInstanceOf(TokenEndpointError)
      expect(error).toMatchObject({ code, retryable, status })
    }
  })

  it('keeps the OAuth error, a short description, Retry-After and the hint', () => {
    const now = Date.parse('2026-03-01T12:00:00Z')
    const answer = response(
      JSON.stringify({ error: 'invalid_client', error_description: 'Unknown client\n' }),
      400,
    )
    const oauth = readOAuthError(answer)
    const error = tokenEndpointError(answer, {
      vendor: 'ClearID',
      now,
      hint: 'Check clientId and clientSecret',
      ...(oauth.error ? { oauthError: oauth.error } : {}),
      ...(oauth.errorDescription ? { description: oauth.errorDescription } : {}),
    })
    expect(error.message).toBe(
      'ClearID: token endpoint answered HTTP 400 (invalid_client: Unknown client). Check clientId and clientSecret',
    )
    expect(error.oauthError).toBe('invalid_client')
    const limited = tokenEndpointError(response('', 429, { 'retry-after': '30' }), {
      vendor: 'v',
      now,
    })
    expect(limited.retryAt).toBe(now + 30_000)
  })
})

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-03-01T12:00:00Z')
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter({ 'retry-after': '120' }, now)).toBe(now + 120_000)
    expect(parseRetryAfter({ 'retry-after': 'Sun, 01 Mar 2026 12:10:00 GMT' }, now)).toBe(
      now + 600_000,
    )
    expect(parseRetryAfter({ 'retry-after': 'Sun, 01 Mar 2026 11:00:00 GMT' }, now)).toBe(now)
    expect(parseRetryAfter({ 'retry-after': 'soon' }, now)).toBeUndefined()
    expect(parseRetryAfter({}, now)).toBeUndefined()
  })
})

describe('clientSecretBasic', () => {
  it('form-encodes id and secret before Base64 (RFC 6749 §2.3.1)', () => {
    const header = clientSecretBasic('client:id é', 'se:cr%et+ /')
    const decoded = Buffer.from(header.replace('Basic ', ''), 'base64').toString('utf8')
    expect(decoded.split(':')).toHaveLength(2)
    const [id, secret] = decoded.split(':').map((part) => decodeURIComponent(part))
    expect(id).toBe('client:id é')
    expect(secret).toBe('se:cr%et+ /')
    expect(clientSecretBasic('abc', 'XyZ-789_.~')).toBe(
      `Basic ${Buffer.from('abc:XyZ-789_.~').toString('base64')}`,
    )
  })
})

describe('redactSecrets and tokenEndpointError secrets', () => {
  it('removes raw, URL-encoded and form-encoded spellings', async () => {
    const { redactSecrets, Secret } = await import('../src/index.ts')
    const secret = 'p@ss word+/='
    const text = `got ${secret} and ${encodeURIComponent(secret)} and ${new URLSearchParams({ v: secret }).toString().slice(2)}`
    expect(redactSecrets(text, [new Secret(secret), undefined, 'ab'])).toBe(
      'got [redacted] and [redacted] and [redacted]',
    )
  })

  it('scrubs an echoed secret from the description', () => {
    const answer = response(
      JSON.stringify({
        error: 'invalid_client',
        error_description: 'bad secret SECRET-sentinel-8472',
      }),
      400,
    )
    const oauth = readOAuthError(answer)
    const error = tokenEndpointError(answer, {
      vendor: 'v',
      now: 0,
      secrets: ['SECRET-sentinel-8472'],
      ...(oauth.error ? { oauthError: oauth.error } : {}),
      ...(oauth.errorDescription ? { description: oauth.errorDescription } : {}),
    })
    expect(error.message).toBe(
      'v: token endpoint answered HTTP 400 (invalid_client: bad secret [redacted])',
    )
  })

  it('caps absurd Retry-After values', () => {
    const now = Date.parse('2026-03-01T12:00:00Z')
    expect(parseRetryAfter({ 'retry-after': '9'.repeat(400) }, now)).toBe(
      now + 7 * 24 * 3600 * 1000,
    )
    expect(
      parseRetryAfter({ 'retry-after': 'Tue, 01 Jan 275761 00:00:00 GMT' }, now),
    ).toBeUndefined()
  })
})

describe('readOAuthError with secrets', () => {
  it('redacts before shortening, so no part of a secret survives the cut', () => {
    const secret = 'SECRET-sentinel-8472-long-enough'
    const description = `${'x'.repeat(190)}${secret}`
    const answer = response(
      JSON.stringify({ error: 'invalid_client', error_description: description }),
      400,
    )
    const read = readOAuthError(answer, { secrets: [secret] })
    expect(read.errorDescription).not.toContain('SECRET')
    expect(readOAuthError(answer).errorDescription).toContain('SECRET') // the cut alone does not help
  })
})
