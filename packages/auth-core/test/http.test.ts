import { Readable } from 'node:stream'
import { Agent, type Dispatcher, type MockAgent, request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { createTokenClient, type FetchInit, ManualClock, type TokenClient } from '../src/index.ts'
import {
  API_ORIGIN,
  exampleSource,
  headerOf,
  mockAgent,
  numberedTokens,
  TOKEN_ORIGIN,
  tokenEndpoint,
} from './helpers.ts'

const clients: TokenClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()))
})

/** An API on the mock agent that accepts only the token values in `valid`. */
function api(agent: MockAgent, valid: Set<string>, status = 401) {
  const seen = {
    accepted: 0,
    rejected: 0,
    bodies: [] as string[],
    authHeaders: [] as (string | undefined)[],
  }
  const pool = agent.get(API_ORIGIN)
  for (const method of ['GET', 'POST']) {
    pool
      .intercept({ path: '/things', method })
      .reply((options) => {
        const authorization = headerOf(options.headers, 'authorization')
        seen.authHeaders.push(authorization)
        if (typeof options.body === 'string') seen.bodies.push(options.body)
        const token = authorization?.replace(/^Bearer /, '')
        if (token && valid.has(token)) {
          seen.accepted++
          return { statusCode: 200, data: JSON.stringify({ ok: true }) }
        }
        seen.rejected++
        return { statusCode: status, data: JSON.stringify({ errors: 'Forbidden' }) }
      })
      .persist()
  }
  return seen
}

describe('fetch()', () => {
  it('attaches the source headers, not always Authorization alone', async () => {
    const agent = mockAgent()
    tokenEndpoint(agent, numberedTokens())
    let seenHeader: string | undefined
    agent
      .get(API_ORIGIN)
      .intercept({ path: '/things', method: 'GET' })
      .reply((options) => {
        seenHeader = headerOf(options.headers, 'x-example')
        return { statusCode: 200, data: '{}' }
      })
    const client = createTokenClient(exampleSource(), {
      dispatcher: agent,
      clock: new ManualClock(),
    })
    clients.push(client)
    const response = await client.fetch(`${API_ORIGIN}/things`, {
      headers: { accept: 'application/json' },
    })
    expect(response.status).toBe(200)
    expect(seenHeader).toBe('yes')
  })

  for (const method of ['GET', 'POST'] as const) {
    it(`100 ${method} requests in flight when the token is revoked: 1 renewal, 0 failed calls`, async () => {
      const agent = mockAgent()
      const endpoint = tokenEndpoint(agent, numberedTokens())
      const valid = new Set(['token-1'])
      const seen = api(agent, valid)
      const client = createTokenClient(exampleSource(), {
        dispatcher: agent,
        clock: new ManualClock(),
      })
      clients.push(client)
      await client.getToken()
      // The vendor revokes token-1; token-2 (the next one issued) will be valid.
      valid.delete('token-1')
      valid.add('token-2')

      const responses = await Promise.all(
        Array.from({ length: 100 }, (_, index) =>
          client.fetch(
            `${API_ORIGIN}/things`,
            method === 'POST' ? { method, body: JSON.stringify({ index }) } : { method },
          ),
        ),
      )

      expect(responses.map((response) => response.status)).toEqual(Array(100).fill(200))
      expect(endpoint.count).toBe(2)
      expect(seen.accepted).toBe(100)
      if (method === 'POST') expect(new Set(seen.bodies).size).toBe(100)
    })
  }

  it('does not retry a request whose body is a stream', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const seen = api(agent, new Set())
    const client = createTokenClient(exampleSource(), {
      dispatcher: agent,
      clock: new ManualClock(),
    })
    clients.push(client)
    const body = Readable.from(['chunk'])
    const response = await client.fetch(`${API_ORIGIN}/things`, {
      method: 'POST',
      body,
      duplex: 'half',
    } as FetchInit)
    expect(response.status).toBe(401)
    expect(seen.rejected).toBe(1)
    expect(endpoint.count).toBe(1)
  })

  it('retries only once: a second rejection is returned to the caller', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const seen = api(agent, new Set())
    const client = createTokenClient(exampleSource(), {
      dispatcher: agent,
      clock: new ManualClock(),
    })
    clients.push(client)
    const response = await client.fetch(`${API_ORIGIN}/things`)
    expect(response.status).toBe(401)
    expect(seen.rejected).toBe(2)
    expect(endpoint.count).toBe(2)
  })

  it('treats 403 as a rejection only when the source says so', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const valid = new Set(['token-2'])
    api(agent, valid, 403)
    const plain = createTokenClient(exampleSource(), {
      dispatcher: agent,
      clock: new ManualClock(),
    })
    const akamaiLike = createTokenClient(
      exampleSource({ rejectionStatuses: [401, 403], key: 'other' }),
      {
        dispatcher: agent,
        clock: new ManualClock(),
      },
    )
    clients.push(plain, akamaiLike)
    expect((await plain.fetch(`${API_ORIGIN}/things`)).status).toBe(403)
    expect(endpoint.count).toBe(1)
    // The second client's first token is token-2 (valid); revoke it to force a renewal.
    valid.clear()
    valid.add('token-3')
    expect((await akamaiLike.fetch(`${API_ORIGIN}/things`)).status).toBe(200)
    expect(endpoint.count).toBe(3)
  })

  it('a credential the API always refuses costs one extra token request, not one per call', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const seen = api(agent, new Set(), 403) // e.g. a token with the wrong scope
    const client = createTokenClient(exampleSource({ rejectionStatuses: [401, 403] }), {
      dispatcher: agent,
      clock: new ManualClock(),
    })
    clients.push(client)
    const statuses: number[] = []
    for (let call = 0; call < 20; call++)
      statuses.push((await client.fetch(`${API_ORIGIN}/things`)).status)
    expect(statuses).toEqual(Array(20).fill(403))
    expect(endpoint.count).toBe(2)
    expect(seen.rejected).toBe(21)
  })

  it('returns a rejected promise (never throws) for a bad setting', async () => {
    const source = exampleSource()
    source.origins = () => {
      throw new Error('no location configured')
    }
    const client = createTokenClient(source, { clock: new ManualClock() })
    clients.push(client)
    const result = client.fetch(`${API_ORIGIN}/things`)
    await expect(result).rejects.toThrow('no location configured')
  })

  it('refuses plain HTTP to non-loopback hosts and origins outside the allow-list, sending nothing', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const client = createTokenClient(exampleSource(), {
      dispatcher: agent,
      clock: new ManualClock(),
      origins: [API_ORIGIN],
    })
    clients.push(client)
    await expect(client.fetch('http://api.example.com/things')).rejects.toMatchObject({
      code: 'INSECURE_TRANSPORT',
    })
    await expect(client.fetch('https://evil.example.net/things')).rejects.toMatchObject({
      code: 'ORIGIN_NOT_ALLOWED',
    })
    expect(endpoint.count).toBe(0)
  })

  it('does not follow redirects (the token would travel to the redirect target)', async () => {
    const agent = mockAgent()
    tokenEndpoint(agent, numberedTokens())
    agent
      .get(API_ORIGIN)
      .intercept({ path: '/things', method: 'GET' })
      .reply(302, '', { headers: { location: 'https://evil.example.net/steal' } })
    const client = createTokenClient(exampleSource(), {
      dispatcher: agent,
      clock: new ManualClock(),
    })
    clients.push(client)
    const response = await client.fetch(`${API_ORIGIN}/things`)
    expect(response.status).toBe(302)
  })
})

describe('interceptor()', () => {
  function compose(agent: MockAgent, client: TokenClient, origins?: string[]) {
    return agent.compose(client.interceptor(origins ? { origins } : {})) as Dispatcher
  }

  it('attaches headers only for configured origins', async () => {
    const agent = mockAgent()
    tokenEndpoint(agent, numberedTokens())
    const authOf: Record<string, string | undefined> = {}
    for (const origin of [API_ORIGIN, 'https://other.example.com']) {
      agent
        .get(origin)
        .intercept({ path: '/x', method: 'GET' })
        .reply((options) => {
          authOf[origin] = headerOf(options.headers, 'authorization')
          return { statusCode: 200, data: '{}' }
        })
    }
    const client = createTokenClient(exampleSource(), {
      dispatcher: agent,
      clock: new ManualClock(),
    })
    clients.push(client)
    const dispatcher = compose(agent, client, [API_ORIGIN])
    await (await request(`${API_ORIGIN}/x`, { dispatcher })).body.text()
    await (await request('https://other.example.com/x', { dispatcher })).body.text()
    expect(authOf[API_ORIGIN]).toBe('Bearer token-1')
    expect(authOf['https://other.example.com']).toBeUndefined()
  })

  it('needs origins, and refuses plain-HTTP non-loopback origins', () => {
    const client = createTokenClient(exampleSource(), { clock: new ManualClock() })
    clients.push(client)
    expect(() => client.interceptor()).toThrow(/origins/)
    expect(() => client.interceptor({ origins: ['http://api.example.com'] })).toThrowError(
      expect.objectContaining({ code: 'INSECURE_TRANSPORT' }),
    )
    expect(() => client.interceptor({ origins: ['http://127.0.0.1:8080'] })).not.toThrow()
  })

  it('re-dispatches once with the current token after a rejection: 100 in flight, 1 renewal', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens())
    const valid = new Set(['token-1'])
    api(agent, valid)
    const client = createTokenClient(exampleSource({ origins: [API_ORIGIN] }), {
      dispatcher: agent,
      clock: new ManualClock(),
    })
    clients.push(client)
    const dispatcher = compose(agent, client)
    await client.getToken()
    valid.clear()
    valid.add('token-2')
    const statuses = await Promise.all(
      Array.from({ length: 100 }, async (_, index) => {
        const response = await request(`${API_ORIGIN}/things`, {
          dispatcher,
          method: index % 2 ? 'POST' : 'GET',
          ...(index % 2 ? { body: `{"index":${index}}` } : {}),
        })
        const body = await response.body.json()
        expect(body).toEqual({ ok: true })
        return response.statusCode
      }),
    )
    expect(statuses).toEqual(Array(100).fill(200))
    expect(endpoint.count).toBe(2)
  })

  it('works with a cold cache (first request waits for the token)', async () => {
    const agent = mockAgent()
    const endpoint = tokenEndpoint(agent, numberedTokens())
    api(agent, new Set(['token-1']))
    const client = createTokenClient(exampleSource(), {
      dispatcher: agent,
      clock: new ManualClock(),
    })
    clients.push(client)
    const dispatcher = compose(agent, client, [API_ORIGIN])
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        request(`${API_ORIGIN}/things`, { dispatcher }).then((r) => r.statusCode),
      ),
    )
    expect(responses).toEqual(Array(20).fill(200))
    expect(endpoint.count).toBe(1)
  })

  it('reports a token failure as a request error', async () => {
    const agent = mockAgent()
    tokenEndpoint(agent, () => ({ status: 401, body: { error: 'invalid_client' } }))
    const client = createTokenClient(exampleSource(), {
      dispatcher: agent,
      clock: new ManualClock(),
    })
    clients.push(client)
    const dispatcher = compose(agent, client, [API_ORIGIN])
    await expect(request(`${API_ORIGIN}/things`, { dispatcher })).rejects.toMatchObject({
      code: 'TOKEN_ENDPOINT_REJECTED',
    })
  })

  it('never sends token requests through itself', async () => {
    // The intercepted dispatcher is the only path to the API; token requests use the client's
    // own dispatcher (here a separate MockAgent), so an interceptor on the API path cannot recurse.
    const tokenAgent = mockAgent()
    const endpoint = tokenEndpoint(tokenAgent, numberedTokens())
    const apiAgent = mockAgent()
    api(apiAgent, new Set(['token-1']))
    const client = createTokenClient(exampleSource(), {
      dispatcher: tokenAgent,
      clock: new ManualClock(),
    })
    clients.push(client)
    const dispatcher = apiAgent.compose(client.interceptor({ origins: [API_ORIGIN, TOKEN_ORIGIN] }))
    const response = await request(`${API_ORIGIN}/things`, { dispatcher })
    expect(response.statusCode).toBe(200)
    await response.body.text()
    expect(endpoint.count).toBe(1)
  })

  it('composes onto a real Agent', () => {
    const client = createTokenClient(exampleSource(), { clock: new ManualClock() })
    clients.push(client)
    const agent = new Agent()
    const composed = agent.compose(client.interceptor({ origins: [API_ORIGIN] }))
    expect(typeof composed.dispatch).toBe('function')
    return agent.close()
  })
})
