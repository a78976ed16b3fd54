import { ManualClock, Secret, type TransportResponse } from '@tokenkeeper/auth-core'
import { createMockAgent } from '@tokenkeeper/auth-core/testing'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { createClearId } from './clearid-provider.ts'
import { resolveClearIdSettings } from './clearid-settings.ts'
import {
  buildClearIdTokenRequest,
  clearIdTokenSource,
  processClearIdTokenResponse,
} from './clearid-token-source.ts'
import {
  CLIENT_ID,
  CLIENT_SECRET,
  DEMO_STS,
  EU_STS,
  fixture,
  isolateEnvironment,
  mockSts,
  START,
  STS,
  testKeys,
  tokens,
} from './test-helpers.ts'

isolateEnvironment()

const agents: Array<ReturnType<typeof createMockAgent>> = []
function agent() {
  const created = createMockAgent()
  agents.push(created)
  return created
}
afterEach(async () => {
  for (const created of agents.splice(0)) {
    created.assertNoPendingInterceptors()
    await created.close()
  }
})

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('client secret grant (client_credentials)', () => {
  it('posts the form-encoded client id and secret to {sts}/connect/token', async () => {
    const mock = agent()
    const clock = new ManualClock()
    const sts = mockSts(
      mock,
      tokens(() => clock.now()),
    )
    const client = createClearId({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      dispatcher: mock,
      clock,
    })

    const token = await client.getToken()

    expect(sts.requests).toHaveLength(1)
    const [request] = sts.requests
    expect(request?.method).toBe('POST')
    expect(request?.path).toBe('/connect/token')
    expect(request?.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(request?.headers.accept).toBe('application/json')
    // Exact bytes: ':' in the client id and '+', '/', '=' in the secret are percent-encoded.
    expect(request?.body).toBe(
      'grant_type=client_credentials' +
        '&client_id=3f2504e0-4f89-41d3-9a0c-0305e82c3301%3Aacme-account' +
        '&client_secret=SECRET-sentinel-123%2B%2F%3D%3D',
    )
    expect(request?.form.get('client_secret')).toBe(CLIENT_SECRET)
    expect(request?.form.has('scope')).toBe(false)
    expect(token.type).toBe('Bearer')
    expect(token.scope).toEqual([
      'iams-all-permissions-delegated',
      'iams-api',
      'iams-roles',
      'openid',
    ])
    expect(await client.getAuthHeaders()).toEqual({ authorization: `Bearer ${token.value}` })
    await client.close()
  })

  it('accepts the secret as a Secret', async () => {
    const mock = agent()
    const clock = new ManualClock()
    const sts = mockSts(
      mock,
      tokens(() => clock.now()),
    )
    const client = createClearId({
      clientId: CLIENT_ID,
      clientSecret: new Secret(CLIENT_SECRET),
      dispatcher: mock,
      clock,
    })
    await client.getToken()
    expect(sts.requests[0]?.form.get('client_secret')).toBe(CLIENT_SECRET)
    await client.close()
  })
})

describe('JWT assertion grant (urn:ietf:params:oauth:grant-type:jwt-bearer)', () => {
  const keys = testKeys()

  async function assertionFor(privateKey: unknown) {
    const mock = agent()
    const clock = new ManualClock()
    const sts = mockSts(
      mock,
      tokens(() => clock.now()),
    )
    const client = createClearId({
      clientId: CLIENT_ID,
      privateKey: privateKey as string,
      dispatcher: mock,
      clock,
    })
    await client.getToken()
    await client.close()
    const form = sts.requests[0]?.form
    return { form, body: sts.requests[0]?.body ?? '', clock }
  }

  it('sends grant_type, client_id and an RS512 assertion with the documented header and claims', async () => {
    const { form, body, clock } = await assertionFor(keys.pkcs8)

    expect(form?.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer')
    expect(form?.get('client_id')).toBe(CLIENT_ID)
    expect(form?.has('client_secret')).toBe(false)
    expect(body).toContain('grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer')
    expect(body).toContain('client_id=3f2504e0-4f89-41d3-9a0c-0305e82c3301%3Aacme-account')
    const assertion = form?.get('assertion') ?? ''

    expect(decodeProtectedHeader(assertion)).toEqual({ alg: 'RS512', kid: CLIENT_ID, typ: 'JWT' })
    // The signature verifies with the public key, and the claims are exactly what ClearID expects.
    const now = Math.floor(clock.now() / 1000)
    const { payload } = await jwtVerify(assertion, keys.publicKey, {
      algorithms: ['RS512'],
      issuer: CLIENT_ID,
      subject: CLIENT_ID,
      audience: 'iams-sts',
      currentDate: new Date(clock.now()),
    })
    expect(payload.aud).toBe('iams-sts') // a literal string, not a URL or a list
    expect(payload.iat).toBe(now - 30)
    expect(payload.nbf).toBe(now - 30)
    expect(payload.exp).toBe(now + 300)
    expect(payload.jti).toMatch(UUID)
    expect(Object.keys(payload).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'sub'])
  })

  it('uses a fresh jti and the current time for every request', async () => {
    const mock = agent()
    const clock = new ManualClock()
    const sts = mockSts(
      mock,
      tokens(() => clock.now()),
    )
    const client = createClearId({
      clientId: CLIENT_ID,
      privateKey: keys.pkcs8,
      dispatcher: mock,
      clock,
    })
    await client.getToken()
    await clock.advance(20 * 60_000)
    await client.getToken({ forceRefresh: true })
    await client.close()

    expect(sts.requests).toHaveLength(2)
    const claims = await Promise.all(
      sts.requests.map(async (request) => {
        const { payload } = await jwtVerify(request.form.get('assertion') ?? '', keys.publicKey, {
          currentDate: new Date(START + 20 * 60_000),
          clockTolerance: 3600,
        })
        return payload
      }),
    )
    expect(claims[0]?.jti).not.toBe(claims[1]?.jti)
    expect((claims[1]?.iat ?? 0) - (claims[0]?.iat ?? 0)).toBe(20 * 60)
  })

  it.each([
    ['PKCS#8 PEM', () => keys.pkcs8],
    ['PKCS#1 PEM', () => keys.pkcs1],
    ['JWK object', () => keys.jwk],
    ['JWK JSON text', () => JSON.stringify(keys.jwk)],
    ['PEM in a Secret', () => new Secret(keys.pkcs1)],
    ['PEM with literal \\n (one-line environment value)', () => keys.pkcs8.replace(/\n/g, '\\n')],
  ])('signs with a key given as %s', async (_name, key) => {
    const { form } = await assertionFor(key())
    const assertion = form?.get('assertion') ?? ''
    await expect(
      jwtVerify(assertion, keys.publicKey, { currentDate: new Date(START), algorithms: ['RS512'] }),
    ).resolves.toBeDefined()
  })

  it('prefers the private key when a secret is configured in the same place', async () => {
    const { form } = await assertionFor(keys.pkcs8)
    expect(form?.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer')
    const both = resolveClearIdSettings({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      privateKey: keys.pkcs8,
    })
    expect(both.credential.grant).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer')
  })
})

describe('environments and URLs', () => {
  it.each([
    ['demo', DEMO_STS],
    ['global', STS],
    ['eu', EU_STS],
  ] as const)('environment %s requests tokens from %s', async (environment, origin) => {
    const mock = agent()
    const clock = new ManualClock()
    const sts = mockSts(
      mock,
      tokens(() => clock.now()),
      { origin },
    )
    const client = createClearId({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      environment,
      dispatcher: mock,
      clock,
    })
    await client.getToken()
    expect(sts.requests).toHaveLength(1)
    await client.close()
  })

  it('stsUrl overrides the environment; a pasted token endpoint is trimmed; a path prefix is kept', async () => {
    const mock = agent()
    const clock = new ManualClock()
    const sts = mockSts(
      mock,
      tokens(() => clock.now()),
      {
        origin: 'http://127.0.0.1:4010',
        path: '/clearid/connect/token',
      },
    )
    for (const stsUrl of [
      'http://127.0.0.1:4010/clearid',
      'http://127.0.0.1:4010/clearid/',
      'http://127.0.0.1:4010/clearid/connect/token',
    ]) {
      const client = createClearId({
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        stsUrl,
        dispatcher: mock,
        clock,
      })
      await client.getToken()
      await client.close()
    }
    expect(sts.requests).toHaveLength(3)
  })

  it('declares renewal at half-life and the environment API hosts as origins', () => {
    const source = clearIdTokenSource({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      environment: 'demo',
    })
    expect(source.vendor).toBe('clearid')
    expect(source.refreshWindowRatio).toBe(0.5)
    expect(source.reissueRevokesPrevious).toBeUndefined()
    expect(source.origins?.()).toEqual([
      'https://identityservice-demo.clearid.io',
      'https://searchservice-demo.clearid.io',
      'https://locationservice-demo.clearid.io',
      'https://siteservice-demo.clearid.io',
      'https://roleservice-demo.clearid.io',
      'https://principalservice-demo.clearid.io',
    ])
    expect(source.cacheKey()).toBe(`clearid|${DEMO_STS}|${CLIENT_ID}`)
  })

  it('with apiUrl, only that origin may receive the token', () => {
    const source = clearIdTokenSource({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      apiUrl: 'https://proxy.example.com/clearid/',
    })
    expect(source.origins?.()).toEqual(['https://proxy.example.com'])
  })

  it('a custom STS outside ClearID defaults the API to the same origin (the emulator)', () => {
    const source = clearIdTokenSource({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      stsUrl: 'http://127.0.0.1:4010/sts',
    })
    expect(source.origins?.()).toEqual(['http://127.0.0.1:4010'])
    expect(source.cacheKey()).toBe(`clearid|http://127.0.0.1:4010/sts|${CLIENT_ID}`)
  })

  it('fetch() refuses hosts outside the environment', async () => {
    const mock = agent()
    const clock = new ManualClock()
    const client = createClearId({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      dispatcher: mock,
      clock,
    })
    await expect(client.fetch('https://identityservice-demo.clearid.io/x')).rejects.toMatchObject({
      code: 'ORIGIN_NOT_ALLOWED',
    })
    await client.close()
  })
})

describe('building and processing without HTTP', () => {
  it('builds the request from resolved settings', async () => {
    const settings = resolveClearIdSettings({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET })
    const built = await buildClearIdTokenRequest(settings, { now: START })
    expect(built.grant).toBe('client_credentials')
    expect(built.request.url).toBe(`${STS}/connect/token`)
    expect(built.request.method).toBe('POST')
    expect(built.sentSecrets).toEqual([CLIENT_SECRET])
  })

  it('parses the vendor response and marks the access token as a JWT', () => {
    const response: TransportResponse = {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: fixture('token-response.json'),
    }
    const issued = processClearIdTokenResponse(response, {
      grant: 'client_credentials',
      now: START,
      tokenUrl: `${STS}/connect/token`,
      sentSecrets: [],
    })
    expect(issued).toMatchObject({
      type: 'Bearer',
      expiresIn: 3600,
      jwt: true,
      scope: ['iams-all-permissions-delegated', 'iams-api', 'iams-roles', 'openid'],
    })
  })

  it('treats a token that is not a compact JWS as opaque', () => {
    const issued = processClearIdTokenResponse(
      {
        status: 200,
        headers: {},
        body: JSON.stringify({
          access_token: 'D8A1F0C2B3E4',
          expires_in: 3600,
          token_type: 'Bearer',
        }),
      },
      {
        grant: 'client_credentials',
        now: START,
        tokenUrl: `${STS}/connect/token`,
        sentSecrets: [],
      },
    )
    expect(issued.jwt).toBeUndefined()
    expect(issued.expiresIn).toBe(3600)
  })
})
