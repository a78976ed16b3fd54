import { TokenKeeperError } from '@tokenkeeper/auth-core'
import { headerRecord } from '@tokenkeeper/auth-core/testing'
import { request as undiciRequest } from 'undici'
import { describe, expect, it } from 'vitest'
import { API_KEY, API_ORIGIN } from '../test/mock-keycloak.ts'
import { isolate, setup } from '../test/setup.ts'
import { ApiaxApiError, apiaxRules } from './index.ts'

isolate()

const request = {
  products: [{ productId: 'P-100', familyId: 'F-7' }],
  regimes: ['CH'],
  versionFilter: 'latest',
  attributes: [{ name: 'clientDomicile', value: 'DE' }],
}

interface Seen {
  path: string
  authorization: string | undefined
  apikey: string | undefined
  contentType: string | undefined
  body: unknown
}

function ruleEngine(
  agent: ReturnType<typeof setup>['agent'],
  answers: Array<{ status: number; body: string }>,
  origin = API_ORIGIN,
): Seen[] {
  const seen: Seen[] = []
  const pool = agent.get(origin)
  for (const answer of answers) {
    pool
      .intercept({ path: (path) => path.startsWith('/api/v3/rules/'), method: 'POST' })
      .reply((options) => {
        seen.push({
          path: options.path,
          authorization: headerRecord(options.headers).authorization,
          apikey: headerRecord(options.headers).apikey,
          contentType: headerRecord(options.headers)['content-type'],
          body: JSON.parse(String(options.body)),
        })
        return {
          statusCode: answer.status,
          data: answer.body,
          responseOptions: { headers: { 'content-type': 'application/json' } },
        }
      })
  }
  return seen
}

describe('apiaxRules', () => {
  it('evaluate() posts JSON to /api/v3/rules/eval with Bearer and Apikey and returns the answer', async () => {
    const { agent, client } = setup()
    const seen = ruleEngine(agent, [
      { status: 200, body: '{"results":[{"ruleId":"R-1","value":true}]}' },
    ])
    const result = await apiaxRules(client).evaluate<{ results: unknown[] }>(request)
    expect(result).toEqual({ results: [{ ruleId: 'R-1', value: true }] })
    expect(seen).toEqual([
      {
        path: '/api/v3/rules/eval',
        authorization: 'Bearer SECRET-access-1',
        apikey: API_KEY,
        contentType: 'application/json',
        body: request,
      },
    ])
    agent.assertNoPendingInterceptors()
  })

  it('inspect() posts to /api/v3/rules/inspect', async () => {
    const { agent, client } = setup()
    const seen = ruleEngine(agent, [{ status: 200, body: '{"attributes":[]}' }])
    await expect(
      apiaxRules(client).inspect({ products: request.products, regimes: ['CH'] }),
    ).resolves.toEqual({ attributes: [] })
    expect(seen[0]?.path).toBe('/api/v3/rules/inspect')
  })

  it('retries once with a refreshed token after a 401', async () => {
    const { agent, client, keycloak } = setup()
    const seen = ruleEngine(agent, [
      { status: 401, body: '{"message":"token expired"}' },
      { status: 200, body: '{"results":[]}' },
    ])
    await expect(apiaxRules(client).evaluate(request)).resolves.toEqual({ results: [] })
    expect(seen.map((call) => call.authorization)).toEqual([
      'Bearer SECRET-access-1',
      'Bearer SECRET-access-2',
    ])
    expect(keycloak.grants()).toEqual(['password', 'refresh_token'])
  })

  it('uses the apiUrl the client was created with, or an explicit one', async () => {
    const { agent, client } = setup({ apiUrl: 'https://rules.example.test' })
    const seen = ruleEngine(agent, [{ status: 200, body: '{}' }], 'https://rules.example.test')
    await apiaxRules(client).evaluate(request)
    expect(seen).toHaveLength(1)

    const other = ruleEngine(agent, [{ status: 200, body: '{}' }], 'https://rules.example.test')
    await apiaxRules(client, { apiUrl: 'https://rules.example.test/' }).inspect(request)
    expect(other).toHaveLength(1)
  })

  it('turns error answers into an ApiaxApiError with status, path and details', async () => {
    const { agent, client } = setup()
    ruleEngine(agent, [
      { status: 403, body: '{"message":"Invalid API key"}' },
      { status: 200, body: 'not json' },
    ])
    const rules = apiaxRules(client)
    const error = await rules.evaluate(request).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ApiaxApiError)
    expect(TokenKeeperError.is(error)).toBe(true)
    expect(error).toMatchObject({
      code: 'API_REQUEST_FAILED',
      retryable: false,
      status: 403,
      path: '/api/v3/rules/eval',
      details: { message: 'Invalid API key' },
    })
    expect((error as Error).message).toContain('Invalid API key')
    expect((error as Error).message).toContain('APIAX_API_KEY')
    expect((error as Error).message).not.toContain(API_KEY)

    await expect(rules.evaluate(request)).rejects.toThrow(/not JSON/)
  })
})

describe('interceptor()', () => {
  it('attaches Bearer and Apikey to rule engine requests only', async () => {
    const { agent, client } = setup()
    const seen: Array<{ origin: string; authorization?: string; apikey?: string }> = []
    for (const origin of [API_ORIGIN, 'https://elsewhere.example.test']) {
      agent
        .get(origin)
        .intercept({ path: '/ping', method: 'GET' })
        .reply((options) => {
          seen.push({
            origin,
            authorization: headerRecord(options.headers).authorization,
            apikey: headerRecord(options.headers).apikey,
          })
          return { statusCode: 200, data: 'pong' }
        })
    }
    const dispatcher = agent.compose(client.interceptor())
    for (const origin of [API_ORIGIN, 'https://elsewhere.example.test']) {
      const response = await undiciRequest(`${origin}/ping`, { dispatcher })
      expect(await response.body.text()).toBe('pong')
    }
    expect(seen).toEqual([
      { origin: API_ORIGIN, authorization: 'Bearer SECRET-access-1', apikey: API_KEY },
      { origin: 'https://elsewhere.example.test', authorization: undefined, apikey: undefined },
    ])
  })
})
