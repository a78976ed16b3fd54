import { generateKeyPairSync } from 'node:crypto'
import {
  InvalidTokenResponseError,
  TokenEndpointError,
  type TransportResponse,
} from '@tokenkeeper/auth-core'
import { describe, expect, it } from 'vitest'
import { PASSWORD, USERNAME } from '../test/mock-keycloak.ts'
import { fakeContext, fixture, json, storedWithRefresh } from '../test/setup.ts'
import { type ApiaxSettings, apiaxTokenSource } from './index.ts'

const now = Date.parse('2026-01-01T00:00:00Z')

async function failure(
  answer: TransportResponse,
  settings: ApiaxSettings = {},
  grant: 'password' | 'refresh_token' = 'password',
): Promise<TokenEndpointError | InvalidTokenResponseError> {
  const source = apiaxTokenSource({ username: USERNAME, password: PASSWORD, ...settings })
  const { context } = fakeContext(
    [answer],
    grant === 'refresh_token'
      ? { now, previous: storedWithRefresh('SECRET-refresh-9', now) }
      : { now },
  )
  const error = await source.requestToken(context).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error, 'expected the request to fail').toBeDefined()
  return error as TokenEndpointError
}

describe('password grant errors', () => {
  it.each([
    {
      name: 'wrong user name or password (401 invalid_grant)',
      answer: json(401, fixture('invalid-user-credentials')),
      code: 'TOKEN_ENDPOINT_REJECTED',
      retryable: false,
      says: ['Invalid user credentials', 'APIAX_USERNAME', 'APIAX_PASSWORD', 'lock'],
    },
    {
      name: 'wrong password from a Keycloak that answers 400',
      answer: json(400, fixture('invalid-user-credentials')),
      code: 'TOKEN_ENDPOINT_REJECTED',
      retryable: false,
      says: ['password is wrong', 'APIAX_PASSWORD', 'lock'],
    },
    {
      name: 'account disabled (400 invalid_grant)',
      answer: json(400, fixture('account-disabled')),
      code: 'TOKEN_ENDPOINT_REJECTED',
      retryable: false,
      says: ['Account disabled', 'Apiax support'],
    },
    {
      name: 'client may not use the password grant (400 unauthorized_client)',
      answer: json(400, fixture('unauthorized-client')),
      code: 'TOKEN_ENDPOINT_REJECTED',
      retryable: false,
      says: ['unauthorized_client', 'integration-api', 'APIAX_CLIENT_ID'],
    },
    {
      name: 'unknown client (401 invalid_client)',
      answer: json(401, fixture('invalid-client')),
      code: 'TOKEN_ENDPOINT_REJECTED',
      retryable: false,
      says: ['invalid_client', 'APIAX_CLIENT_ID', 'clientAssertion'],
    },
    {
      name: 'bad request (400 invalid_request)',
      answer: json(400, {
        error: 'invalid_request',
        error_description: 'Missing form parameter: grant_type',
      }),
      code: 'TOKEN_ENDPOINT_REJECTED',
      retryable: false,
      says: ['invalid_request', 'APIAX_TOKEN_URL'],
    },
    {
      name: 'no token endpoint there (404 HTML)',
      answer: {
        status: 404,
        headers: { 'content-type': 'text/html' },
        body: '<html>Not Found</html>',
      },
      code: 'TOKEN_ENDPOINT_REJECTED',
      retryable: false,
      says: ['HTTP 404', 'tokenUrl'],
    },
    {
      name: 'rate limited (429 with Retry-After)',
      answer: json(429, '', { 'retry-after': '120' }),
      code: 'TOKEN_ENDPOINT_RATE_LIMITED',
      retryable: true,
      says: ['HTTP 429'],
    },
    {
      name: 'server error (503)',
      answer: { status: 503, headers: {}, body: 'Service Unavailable' },
      code: 'TOKEN_ENDPOINT_UNAVAILABLE',
      retryable: true,
      says: ['HTTP 503', 'retrying'],
    },
  ])('$name', async ({ answer, code, retryable, says }) => {
    const error = await failure(answer)
    expect(error).toBeInstanceOf(TokenEndpointError)
    expect(error).toMatchObject({ code, retryable, status: answer.status })
    for (const text of says) expect(error.message).toContain(text)
    expect(error.message).not.toContain(PASSWORD)
    expect(error.message).not.toContain(USERNAME)
  })

  it('redacts the password or refresh token if a proxy echoes it in error_description', async () => {
    const echoed = await failure(
      json(400, { error: 'invalid_request', error_description: `bad password ${PASSWORD}` }),
    )
    expect(echoed.message).toContain('bad password [redacted]')
    expect(echoed.message).not.toContain(PASSWORD)
    const refresh = await failure(
      json(400, { error: 'invalid_request', error_description: 'token SECRET-refresh-9 refused' }),
      {},
      'refresh_token',
    )
    expect(refresh.message).toContain('token [redacted] refused')
  })

  it('reads Retry-After into retryAt', async () => {
    const error = await failure(json(429, '', { 'retry-after': '120' }))
    expect(error.retryAt).toBe(now + 120_000)
  })

  it('blames the client assertion for invalid_client in 2FA mode', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const error = await failure(json(400, fixture('invalid-client')), {
      clientAssertion: { privateKey, clientId: 'acme-2fa' },
    })
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_REJECTED', oauthError: 'invalid_client' })
    expect(error.message).toContain('clientAssertion.privateKey')
    expect(error.message).toContain('clock')
  })

  it.each([
    [
      'an HTML page',
      {
        status: 200,
        headers: { 'content-type': 'text/html' },
        body: '<!doctype html><p>login</p>',
      },
      'HTML',
    ],
    ['no access_token', json(200, { token_type: 'bearer', expires_in: 1800 }), 'access_token'],
    ['a bad expires_in', json(200, { access_token: 'a', expires_in: 'soon' }), 'expires_in'],
    ['a bad refresh_token', json(200, { access_token: 'a', refresh_token: 5 }), 'refresh_token'],
    ['truncated JSON', json(200, '{"access_token": "SECRET-access-9", "expi'), 'JSON'],
  ])('rejects a 2xx answer with %s as an invalid (retryable) response', async (_, answer, says) => {
    const error = await failure(answer)
    expect(error).toBeInstanceOf(InvalidTokenResponseError)
    expect(error).toMatchObject({ code: 'INVALID_TOKEN_RESPONSE', retryable: true })
    expect(error.message).toContain(says)
    expect(error.message).not.toContain('SECRET')
  })
})

describe('refresh grant errors', () => {
  it.each([['session-not-active'], ['refresh-token-reused']])(
    'treats invalid_grant (%s) as "log in with the password" rather than an error',
    async (name) => {
      const source = apiaxTokenSource({ username: USERNAME, password: PASSWORD })
      const { context, requests } = fakeContext(
        [json(400, fixture(name)), json(200, fixture('password-grant'))],
        { now, previous: storedWithRefresh('SECRET-refresh-9', now) },
      )
      const issued = await source.requestToken(context)
      expect(issued.value).toBe(fixture('password-grant').access_token)
      expect(
        requests.map((request) => new URLSearchParams(request.body).get('grant_type')),
      ).toEqual(['refresh_token', 'password'])
    },
  )

  it.each([
    ['invalid_client', json(401, fixture('invalid-client')), 'TOKEN_ENDPOINT_REJECTED'],
    ['unauthorized_client', json(400, fixture('unauthorized-client')), 'TOKEN_ENDPOINT_REJECTED'],
    ['a 502', { status: 502, headers: {}, body: 'Bad Gateway' }, 'TOKEN_ENDPOINT_UNAVAILABLE'],
  ])('reports %s from a refresh without falling back to the password', async (_, answer, code) => {
    const error = await failure(answer, {}, 'refresh_token')
    expect(error).toMatchObject({ code })
    expect(error.message).not.toContain('SECRET')
  })
})
