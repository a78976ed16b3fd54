import { ConfigurationError, ManualClock, type TokenClient } from '@tokenkeeper/auth-core'
import { createMockAgent, headerRecord } from '@tokenkeeper/auth-core/testing'
import type { MockAgent } from 'undici'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  BASE_URL,
  CLIENT_ID,
  CLIENT_SECRET,
  CUSTOMER_ID,
  fixture,
  numberedTokens,
  tokenEndpoint,
} from './__fixtures__/harness.ts'
import { createAkamaiIdentity } from './akamai-identity-provider.ts'
import { AKAMAI_IDENTITY_ENVIRONMENT } from './akamai-identity-settings.ts'
import { AkamaiIdentityApiError, createAkamaiWebhooks } from './akamai-identity-webhooks.ts'

const SUBSCRIPTIONS_PATH = `/${CUSTOMER_ID}/webhooks/subscriptions`
const SUBSCRIPTION_ID = '7d6d9a1e-8f4e-4c59-9a1c-1f0b8a1d0c11'

const settings = {
  oidcUrl: `${BASE_URL}/${CUSTOMER_ID}/login`,
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
}

interface ApiCall {
  method: string
  path: string
  authorization: string | undefined
  contentType: string | undefined
  body: string
}

let agent: MockAgent
let client: TokenClient
let tokenRequests: { requests: unknown[] }

beforeEach(() => {
  for (const name of Object.values(AKAMAI_IDENTITY_ENVIRONMENT)) vi.stubEnv(name, '')
  agent = createMockAgent()
  tokenRequests = tokenEndpoint(agent, numberedTokens())
  client = createAkamaiIdentity({ ...settings, dispatcher: agent, clock: new ManualClock() })
})

afterEach(async () => {
  vi.unstubAllEnvs()
  await client.close()
  await agent.close()
})

async function text(body: unknown): Promise<string> {
  if (body === undefined || body === null) return ''
  if (typeof body === 'string') return body
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8')
  const chunks: Buffer[] = []
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk))
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** One API route on the mock agent; records calls, answers from `answer`. */
function route(
  method: string,
  path: string,
  answer: (index: number) => { status: number; body?: string },
) {
  const calls: Array<Promise<ApiCall>> = []
  agent
    .get(BASE_URL)
    .intercept({ method, path })
    .reply((options) => {
      calls.push(
        text(options.body).then((body) => ({
          method: options.method,
          path: options.path,
          authorization: headerRecord(options.headers).authorization,
          contentType: headerRecord(options.headers)['content-type'],
          body,
        })),
      )
      const result = answer(calls.length - 1)
      return {
        statusCode: result.status,
        data: result.body ?? '',
        responseOptions: { headers: { 'content-type': 'application/json' } },
      }
    })
    .persist()
  return { calls: () => Promise.all(calls) }
}

describe('createAkamaiWebhooks', () => {
  it('lists subscriptions from the HAL body', async () => {
    const api = route('GET', SUBSCRIPTIONS_PATH, () => ({
      status: 200,
      body: fixture('subscriptions.json'),
    }))
    const webhooks = createAkamaiWebhooks(client, settings)
    const list = await webhooks.list()
    expect(list).toHaveLength(1)
    expect(list[0]).toMatchObject({
      id: SUBSCRIPTION_ID,
      title: 'CRM sync',
      enabled: true,
      events: ['entityCreated', 'entityUpdated'],
    })
    const [call] = await api.calls()
    expect(call).toMatchObject({ method: 'GET', authorization: 'Bearer opaque-token-1' })
  })

  it('creates with POST and a JSON body', async () => {
    const api = route('POST', SUBSCRIPTIONS_PATH, () => ({
      status: 201,
      body: fixture('subscription.json'),
    }))
    const input = {
      title: 'CRM sync',
      endpoint: 'https://hooks.example.com/akamai',
      events: ['entityCreated', 'entityUpdated'],
      enabled: true,
    }
    const created = await createAkamaiWebhooks(client, settings).create(input)
    expect(created.id).toBe(SUBSCRIPTION_ID)
    const [call] = await api.calls()
    expect(call?.contentType).toBe('application/json')
    expect(JSON.parse(call?.body ?? '')).toEqual(input)
  })

  it('gets, patches (merge-patch) and deletes one subscription, encoding the id', async () => {
    const odd = 'id/with?odd#chars'
    const itemPath = `${SUBSCRIPTIONS_PATH}/${encodeURIComponent(odd)}`
    const get = route('GET', itemPath, () => ({ status: 200, body: fixture('subscription.json') }))
    const patch = route('PATCH', itemPath, () => ({
      status: 200,
      body: fixture('subscription.json'),
    }))
    const remove = route('DELETE', itemPath, () => ({ status: 204 }))
    const webhooks = createAkamaiWebhooks(client, settings)

    expect((await webhooks.get(odd)).id).toBe(SUBSCRIPTION_ID)
    expect((await webhooks.update(odd, { enabled: false })).id).toBe(SUBSCRIPTION_ID)
    await expect(webhooks.delete(odd)).resolves.toBeUndefined()

    const [patched] = await patch.calls()
    expect(patched?.contentType).toBe('application/merge-patch+json')
    expect(JSON.parse(patched?.body ?? '')).toEqual({ enabled: false })
    expect((await get.calls())[0]?.path).toBe(itemPath)
    expect((await remove.calls())[0]?.method).toBe('DELETE')
    agent.assertNoPendingInterceptors()
  })

  it('renews the token and retries once on 403 Forbidden', async () => {
    const api = route('GET', SUBSCRIPTIONS_PATH, (index) =>
      index === 0
        ? { status: 403, body: fixture('forbidden.json') }
        : { status: 200, body: fixture('subscriptions.json') },
    )
    const list = await createAkamaiWebhooks(client, settings).list()
    expect(list).toHaveLength(1)
    expect((await api.calls()).map((call) => call.authorization)).toEqual([
      'Bearer opaque-token-1',
      'Bearer opaque-token-2',
    ])
    expect(tokenRequests.requests).toHaveLength(2)
  })

  it('retries a POST with the same body after a 403', async () => {
    const api = route('POST', SUBSCRIPTIONS_PATH, (index) =>
      index === 0
        ? { status: 403, body: fixture('forbidden.json') }
        : { status: 201, body: fixture('subscription.json') },
    )
    const input = { title: 'CRM sync', endpoint: 'https://hooks.example.com/a', events: [] }
    await createAkamaiWebhooks(client, settings).create(input)
    const calls = await api.calls()
    expect(calls.map((call) => JSON.parse(call.body))).toEqual([input, input])
  })

  it('throws AkamaiIdentityApiError with the status and the API text', async () => {
    route('GET', `${SUBSCRIPTIONS_PATH}/missing`, () => ({
      status: 404,
      body: JSON.stringify({ errors: 'Not Found' }),
    }))
    route('GET', SUBSCRIPTIONS_PATH, () => ({ status: 403, body: fixture('forbidden.json') }))
    const webhooks = createAkamaiWebhooks(client, settings)

    const missing = await webhooks.get('missing').catch((caught: unknown) => caught)
    expect(missing).toBeInstanceOf(AkamaiIdentityApiError)
    expect(missing).toMatchObject({ status: 404, apiMessage: 'Not Found', retryable: false })
    expect((missing as Error).message).toBe(
      `akamai-identity: GET ${SUBSCRIPTIONS_PATH}/missing answered HTTP 404 (Not Found)`,
    )

    const forbidden = await webhooks.list().catch((caught: unknown) => caught)
    expect(forbidden).toMatchObject({ status: 403, apiMessage: 'Forbidden' })
    expect((forbidden as Error).message).not.toContain('opaque-token')
  })

  it('rejects bodies that are not what the API documents', async () => {
    route('GET', SUBSCRIPTIONS_PATH, () => ({ status: 200, body: '{"_embedded":{}}' }))
    route('GET', `${SUBSCRIPTIONS_PATH}/x`, () => ({ status: 200, body: '<html></html>' }))
    const webhooks = createAkamaiWebhooks(client, settings)
    await expect(webhooks.list()).rejects.toThrow('did not return a list of subscriptions')
    await expect(webhooks.get('x')).rejects.toThrow('with a body that is not JSON')
  })

  it('refuses an empty subscription id', async () => {
    const webhooks = createAkamaiWebhooks(client, settings)
    await expect(webhooks.get('')).rejects.toBeInstanceOf(ConfigurationError)
  })

  it('locates the API from the environment like the client', async () => {
    vi.stubEnv(AKAMAI_IDENTITY_ENVIRONMENT.oidcUrl, `${BASE_URL}/${CUSTOMER_ID}/login`)
    route('GET', SUBSCRIPTIONS_PATH, () => ({ status: 200, body: '[]' }))
    await expect(createAkamaiWebhooks(client).list()).resolves.toEqual([])
  })
})
