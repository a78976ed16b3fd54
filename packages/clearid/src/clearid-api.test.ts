import {
  ApiRequestError,
  ConfigurationError,
  ManualClock,
  TokenKeeperError,
} from '@tokenkeeper/auth-core'
import { createMockAgent } from '@tokenkeeper/auth-core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { ClearIdApiError, clearIdApiUrl, identitiesUrl, listIdentities } from './clearid-api.ts'
import { clearIdServiceUrl } from './clearid-environments.ts'
import { createClearId } from './clearid-provider.ts'
import {
  CLIENT_ID,
  CLIENT_SECRET,
  fixture,
  IDENTITY_API,
  isolateEnvironment,
  mockSts,
  tokens,
} from './test-helpers.ts'

isolateEnvironment()

const agents: Array<ReturnType<typeof createMockAgent>> = []
afterEach(async () => {
  for (const created of agents.splice(0)) {
    created.assertNoPendingInterceptors()
    await created.close()
  }
})

function setup() {
  const mock = createMockAgent()
  agents.push(mock)
  const clock = new ManualClock()
  mockSts(
    mock,
    tokens(() => clock.now()),
  )
  const settings = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }
  const client = createClearId({ ...settings, dispatcher: mock, clock })
  return { mock, client, settings }
}

describe('URLs', () => {
  it('clearIdApiUrl gives the Identity service of an environment or of settings', () => {
    expect(clearIdApiUrl()).toBe('https://identityservice.clearid.io')
    expect(clearIdApiUrl('demo')).toBe('https://identityservice-demo.clearid.io')
    expect(clearIdApiUrl('eu')).toBe('https://identityservice.eu.clearid.io')
    expect(clearIdApiUrl({ stsUrl: 'https://sts.eu.clearid.io' })).toBe(
      'https://identityservice.eu.clearid.io',
    )
    expect(clearIdApiUrl({ apiUrl: 'http://127.0.0.1:4010/identity/' })).toBe(
      'http://127.0.0.1:4010/identity',
    )
    process.env.CLEARID_ENVIRONMENT = 'demo'
    expect(clearIdApiUrl({})).toBe('https://identityservice-demo.clearid.io')
  })

  it('identitiesUrl builds the v2 path and refuses account ids that would change it', () => {
    expect(identitiesUrl('acme-account')).toBe(
      'https://identityservice.clearid.io/api/v2/accounts/acme-account/identities',
    )
    expect(identitiesUrl('acme-account', 'demo')).toBe(
      'https://identityservice-demo.clearid.io/api/v2/accounts/acme-account/identities',
    )
    expect(() => identitiesUrl('../admin')).toThrow(/accountId must be a ClearID account id/)
  })

  it('clearIdServiceUrl builds any service host and refuses anything but a name', () => {
    expect(clearIdServiceUrl('siteservice', 'eu')).toBe('https://siteservice.eu.clearid.io')
    expect(clearIdServiceUrl('roleservice', 'demo')).toBe('https://roleservice-demo.clearid.io')
    expect(() => clearIdServiceUrl('evil.example.com/')).toThrow(
      /service must be a ClearID service name/,
    )
  })
})

describe('listIdentities', () => {
  it('GETs the account identities with the token and the query', async () => {
    const { mock, client, settings } = setup()
    let authorization: string | undefined
    mock
      .get(IDENTITY_API)
      .intercept({
        path: '/api/v2/accounts/acme-account/identities?take=50&active=true',
        method: 'GET',
      })
      .reply((request) => {
        authorization = (request.headers as Record<string, string>).authorization
        return {
          statusCode: 200,
          data: fixture('identities.json'),
          responseOptions: { headers: { 'content-type': 'application/json' } },
        }
      })
    const result = await listIdentities(client, {
      ...settings,
      query: { take: 50, active: true, skip: undefined },
    })
    expect(result.identities.map((identity) => identity.id)).toEqual([
      '6e1f2a7c-0b4d-4f5e-9a8b-1c2d3e4f5a6b',
      '7f2a3b8d-1c5e-4a6f-8b9c-2d3e4f5a6b7c',
    ])
    expect(authorization).toBe(`Bearer ${(await client.getToken()).value}`)
    await client.close()
  })

  it('finds the list inside a paging envelope and keeps the body', async () => {
    const { mock, client, settings } = setup()
    const envelope = { items: JSON.parse(fixture('identities.json')), total: 2, skip: 0 }
    mock
      .get(IDENTITY_API)
      .intercept({ path: '/api/v2/accounts/acme-account/identities', method: 'GET' })
      .reply(200, JSON.stringify(envelope), { headers: { 'content-type': 'application/json' } })
    const result = await listIdentities(client, settings)
    expect(result.identities).toHaveLength(2)
    expect(result.body).toMatchObject({ total: 2 })
    await client.close()
  })

  it('an error status becomes a ClearIdApiError with a hint and the trace id', async () => {
    const { mock, client, settings } = setup()
    mock
      .get(IDENTITY_API)
      .intercept({ path: '/api/v2/accounts/acme-account/identities', method: 'GET' })
      .reply(403, fixture('forbidden.json'), {
        headers: { 'content-type': 'application/problem+json' },
      })
    const error = await listIdentities(client, settings).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ClearIdApiError)
    expect(error).toBeInstanceOf(ApiRequestError)
    expect(TokenKeeperError.is(error)).toBe(true)
    expect(error).toMatchObject({
      code: 'API_REQUEST_FAILED',
      retryable: false,
      status: 403,
      traceId: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00',
    })
    expect((error as Error).message).toBe(
      'clearid: GET https://identityservice.clearid.io/api/v2/accounts/acme-account/identities answered HTTP 403 (Forbidden) [traceId 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00]; the API integration lacks the permission for this call; check its roles in the ClearID portal',
    )
    await client.close()
  })

  it('a 2xx without a list is an error', async () => {
    const { mock, client, settings } = setup()
    mock
      .get(IDENTITY_API)
      .intercept({ path: '/api/v2/accounts/acme-account/identities', method: 'GET' })
      .reply(200, '{"unexpected":true}', { headers: { 'content-type': 'application/json' } })
    await expect(listIdentities(client, settings)).rejects.toThrow(/without a list of identities/)
  })

  it('a 5xx is a retryable ClearIdApiError', async () => {
    const { mock, client, settings } = setup()
    mock
      .get(IDENTITY_API)
      .intercept({ path: '/api/v2/accounts/acme-account/identities', method: 'GET' })
      .reply(503, '', {})
    await expect(listIdentities(client, settings)).rejects.toMatchObject({
      name: 'ClearIdApiError',
      status: 503,
      retryable: true,
    })
    await client.close()
  })

  it('needs an account id, and asks for it before any request', async () => {
    const calls: unknown[] = []
    const client = {
      fetch: async (input: string | URL) => {
        calls.push(input)
        return new Response('[]')
      },
    }
    await expect(listIdentities(client, { clientId: 'no-account-part' })).rejects.toBeInstanceOf(
      ConfigurationError,
    )
    await expect(listIdentities(client, { clientId: 'no-account-part' })).rejects.toThrow(
      /accountId is missing/,
    )
    expect(calls).toEqual([])
  })
})
