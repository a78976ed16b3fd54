import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Emulator, EmulatorError, startEmulator, VENDORS } from '../src/index.ts'
import { basic, decodeJwtParts, postForm, sendJson } from './helpers.ts'

const BASE = Date.UTC(2031, 5, 15, 12, 0, 0)
let emulator: Emulator
let admin: (path: string, method?: string, body?: unknown) => Promise<Response>

beforeAll(async () => {
  emulator = await startEmulator({ now: () => BASE })
  admin = (path, method = 'GET', body) =>
    sendJson(`${emulator.urls.admin}/_emulator${path}`, method, body)
})
afterAll(() => emulator.stop())

function clearToken(secret = emulator.demo.clear.clientSecret): Promise<Response> {
  return fetch(`${emulator.urls.clear.baseUrl}/integration/v1/authz/token`, {
    headers: { 'x-clear-client-secret': secret },
  })
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

describe('servers', () => {
  it('serves every vendor on its own loopback origin', () => {
    const origins = new Set([
      emulator.urls.admin,
      emulator.urls.clearid.stsUrl,
      emulator.urls.clear.baseUrl,
      emulator.urls.akamai.baseUrl,
      new URL(emulator.urls.apiax.tokenUrl).origin,
    ])
    expect(origins.size).toBe(5)
    for (const origin of origins) expect(origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(emulator.urls.clearid.apiUrl).toBe(emulator.urls.clearid.stsUrl)
    expect(emulator.urls.apiax.tokenUrl).toBe(
      `${emulator.urls.apiax.apiUrl}/auth/realms/apiax/protocol/openid-connect/token`,
    )
  })

  it('refuses non-loopback hosts', async () => {
    for (const host of ['0.0.0.0', '192.168.1.10', 'example.com', '::']) {
      await expect(startEmulator({ host })).rejects.toMatchObject({ code: 'NON_LOOPBACK_HOST' })
    }
    await expect(startEmulator({ host: '0.0.0.0' })).rejects.toThrow(/loopback/)
  })

  it('accepts localhost and fixed ports', async () => {
    const port = await freePort()
    const local = await startEmulator({ host: 'localhost', ports: { clear: port }, seed: false })
    try {
      expect(local.urls.clear.baseUrl).toBe(`http://127.0.0.1:${port}`)
      // seed: false registers nothing: the demo secret is unknown.
      const response = await fetch(`${local.urls.clear.baseUrl}/integration/v1/authz/token`, {
        headers: { 'x-clear-client-secret': local.demo.clear.clientSecret },
      })
      expect(response.status).toBe(401)
    } finally {
      await local.stop()
    }
  })

  it('fails cleanly when a port is taken, closing what it had opened', async () => {
    const taken = Number(new URL(emulator.urls.clear.baseUrl).port)
    const clearidPort = await freePort()
    const error = await startEmulator({ ports: { clearid: clearidPort, clear: taken } }).catch(
      (caught) => caught,
    )
    expect(EmulatorError.is(error)).toBe(true)
    expect(error.code).toBe('START_FAILED')
    expect(error.message).toMatch(/clear server could not listen/)
    // The ClearID server opened before Clear failed was closed again: its port is free.
    await new Promise<void>((resolve, reject) => {
      const probe = createServer()
      probe.once('error', reject)
      probe.listen(clearidPort, '127.0.0.1', () => probe.close(() => resolve()))
    })
    await expect(startEmulator({ ports: { clear: -1 } })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    })
    await expect(startEmulator({ ports: { web: 0 } as never })).rejects.toThrow(/ports.web/)
  })

  it('refuses a path that does not URL-decode', async () => {
    const response = await fetch(`${emulator.urls.akamai.baseUrl}/%E0%A4%A/login/token`, {
      method: 'POST',
    })
    expect(response.status).toBe(400)
  })

  it('stop() is idempotent and closes every port', async () => {
    const other = await startEmulator({ seed: false })
    await Promise.all([other.stop(), other.stop()])
    await other.stop()
    await expect(fetch(`${other.urls.admin}/_emulator`)).rejects.toThrow()
    await expect(fetch(other.urls.clear.baseUrl)).rejects.toThrow()
  })
})

describe('clock', () => {
  it('stamps the Date header from the emulator clock, including advance and skew', async () => {
    const first = await clearToken()
    expect(first.headers.get('date')).toBe(new Date(BASE).toUTCString())
    emulator.clock.advance(90_000)
    emulator.clock.setSkew(-3_600_000)
    try {
      const response = await fetch(`${emulator.urls.akamai.baseUrl}/nothing`)
      expect(response.headers.get('date')).toBe(new Date(BASE + 90_000 - 3_600_000).toUTCString())
      expect(emulator.clock.now()).toBe(BASE + 90_000 - 3_600_000)
      expect(emulator.clock.advanced).toBe(90_000)
      expect(emulator.clock.skew).toBe(-3_600_000)
      // Issued JWTs follow the same clock.
      const body = (await (
        await postForm(`${emulator.urls.clearid.stsUrl}/connect/token`, {
          grant_type: 'client_credentials',
          client_id: emulator.demo.clearid.clientId,
          client_secret: emulator.demo.clearid.clientSecret,
        })
      ).json()) as { access_token: string }
      expect(decodeJwtParts(body.access_token).payload.iat).toBe(
        Math.floor((BASE + 90_000 - 3_600_000) / 1000),
      )
    } finally {
      emulator.clock.setSkew(0)
    }
    // setSkew replaces, advance accumulates.
    expect(emulator.clock.now()).toBe(BASE + 90_000)
    expect(() => emulator.clock.advance(Number.NaN)).toThrow(EmulatorError)
  })

  it('stamps the Date header on faulted and admin answers too', async () => {
    emulator.faults.set('clear.token', { kind: 'status', status: 503, times: 1 })
    expect((await clearToken()).headers.get('date')).toBe(
      new Date(emulator.clock.now()).toUTCString(),
    )
    expect((await admin('/clock')).headers.get('date')).toBe(
      new Date(emulator.clock.now()).toUTCString(),
    )
  })
})

describe('admin API', () => {
  it('describes the emulator', async () => {
    const response = await admin('')
    expect(response.status).toBe(200)
    const body = (await response.json()) as {
      urls: unknown
      demo: { clear: unknown }
      vendors: string[]
    }
    expect(body.urls).toEqual(emulator.urls)
    expect(body.demo.clear).toEqual(emulator.demo.clear)
    expect(body.vendors).toEqual([...VENDORS])
  })

  it('reads and resets counters', async () => {
    await clearToken()
    const counters = (await (await admin('/counters')).json()) as {
      clear: { tokenRequests: number; byGrant: Record<string, number> }
    }
    expect(counters.clear.tokenRequests).toBeGreaterThan(0)
    expect(counters.clear.byGrant.client_secret).toBeGreaterThan(0)
    const reset = (await (await admin('/counters/reset', 'POST')).json()) as {
      clear: { tokenRequests: number }
    }
    expect(reset.clear.tokenRequests).toBe(0)
    expect(emulator.counters().clear.tokenRequests).toBe(0)
  })

  it('sets, lists and clears faults', async () => {
    const set = await admin('/faults/clear.token', 'PUT', { kind: 'status', status: 502, times: 1 })
    expect(set.status).toBe(200)
    expect(await set.json()).toEqual([
      { target: 'clear.token', fault: { kind: 'status', status: 502, times: 1 }, remaining: 1 },
    ])
    expect((await clearToken()).status).toBe(502)
    await admin('/faults/akamai.api', 'PUT', { kind: 'reset' })
    await admin('/faults/apiax.api', 'PUT', { kind: 'reset' })
    expect(((await (await admin('/faults')).json()) as unknown[]).length).toBe(2)
    await admin('/faults/akamai.api', 'DELETE')
    expect(emulator.faults.list().map((entry) => entry.target)).toEqual(['apiax.api'])
    await admin('/faults', 'DELETE')
    expect(emulator.faults.list()).toEqual([])
    const invalid = await admin('/faults/clear.token', 'PUT', { kind: 'status', status: 42 })
    expect(invalid.status).toBe(400)
    expect(await invalid.json()).toMatchObject({ error: 'INVALID_OPTION' })
    expect((await admin('/faults/clear.nope', 'PUT', { kind: 'reset' })).status).toBe(400)
  })

  it('advances and skews the clock', async () => {
    const before = emulator.clock.now()
    const advanced = (await (await admin('/clock/advance', 'POST', { ms: 5000 })).json()) as {
      now: number
    }
    expect(advanced.now).toBe(before + 5000)
    const skewed = (await (await admin('/clock/skew', 'PUT', { ms: 1000 })).json()) as {
      now: number
      skew: number
    }
    expect(skewed).toMatchObject({ now: before + 6000, skew: 1000 })
    await admin('/clock/skew', 'PUT', { ms: 0 })
    expect((await admin('/clock/advance', 'POST', { ms: 'soon' })).status).toBe(400)
  })

  it('revokes and expires tokens per vendor', async () => {
    const { access_token: token } = (await (await clearToken()).json()) as { access_token: string }
    const presign = () =>
      fetch(`${emulator.urls.clear.baseUrl}/integration/v1/generatePreSign/sales?fileName=a`, {
        headers: { 'x-cleartax-auth-token': token },
      })
    expect((await presign()).status).toBe(200)
    expect((await admin('/clear/revoke', 'POST')).status).toBe(200)
    expect((await presign()).status).toBe(401)
    const akamaiToken = (await (
      await postForm(
        `${emulator.urls.akamai.oidcUrl}/token`,
        { grant_type: 'client_credentials', scope: '*:webhooks/**' },
        { authorization: basic(emulator.demo.akamai.clientId, emulator.demo.akamai.clientSecret) },
      )
    ).json()) as { access_token: string }
    expect((await admin('/akamai/expire', 'POST')).status).toBe(200)
    const webhooks = await fetch(
      `${emulator.urls.akamai.baseUrl}/${emulator.demo.akamai.customerId}/webhooks/subscriptions`,
      { headers: { authorization: `Bearer ${akamaiToken.access_token}` } },
    )
    expect(webhooks.status).toBe(403)
    expect((await admin('/mars/revoke', 'POST')).status).toBe(404)
    expect(() => emulator.revokeTokens('mars' as never)).toThrow(EmulatorError)
  })

  it('registers credentials for every vendor', async () => {
    expect(
      (await admin('/clear/secrets', 'POST', { secret: 'admin-secret', validity: null })).status,
    ).toBe(200)
    const clear = (await (await clearToken('admin-secret')).json()) as { valid_till: unknown }
    expect(clear.valid_till).toBeNull()
    expect((await admin('/clear/secrets/remove', 'POST', { secret: 'admin-secret' })).status).toBe(
      200,
    )
    expect((await clearToken('admin-secret')).status).toBe(401)
    await admin('/clear/config', 'PUT', { accessTokenField: 'access_token' })

    const clearid = (await (
      await admin('/clearid/clients', 'POST', { clientSecret: 'cid-secret' })
    ).json()) as {
      clientId: string
    }
    const clearidToken = await postForm(`${emulator.urls.clearid.stsUrl}/connect/token`, {
      grant_type: 'client_credentials',
      client_id: clearid.clientId,
      client_secret: 'cid-secret',
    })
    expect(clearidToken.status).toBe(200)
    const keyFile = (await (await admin('/clearid/key-files', 'POST', { name: 'ops' })).json()) as {
      fileName: string
      keyFile: { privateKey: { kty: string } }
    }
    expect(keyFile.keyFile.privateKey.kty).toBe('RSA')
    const removed = (await (
      await admin('/clearid/clients/remove', 'POST', { clientId: clearid.clientId })
    ).json()) as { removed: boolean }
    expect(removed.removed).toBe(true)
    expect((await admin('/clearid/token-lifetime', 'PUT', { seconds: 120 })).status).toBe(200)
    expect((await admin('/clearid/token-lifetime', 'PUT', { seconds: 7200 })).status).toBe(400)
    await admin('/clearid/token-lifetime', 'PUT', { seconds: 3600 })

    await admin('/akamai/clients', 'POST', {
      customerId: 'admin-customer',
      clientId: 'admin-client',
      clientSecret: 'admin-client-secret',
      scopes: ['*:webhooks/**'],
      tokenLifetime: 300,
    })
    expect(
      (
        await admin('/akamai/token-lifetime', 'PUT', {
          customerId: 'admin-customer',
          clientId: 'admin-client',
          seconds: 600,
        })
      ).status,
    ).toBe(200)
    const akamai = await postForm(
      `${emulator.urls.akamai.baseUrl}/admin-customer/login/token`,
      { grant_type: 'client_credentials', scope: '*:webhooks/**' },
      { authorization: basic('admin-client', 'admin-client-secret') },
    )
    expect(((await akamai.json()) as { expires_in: number }).expires_in).toBe(600)
    expect(
      (
        await admin('/akamai/token-lifetime', 'PUT', {
          customerId: 'x',
          clientId: 'y',
          seconds: 600,
        })
      ).status,
    ).toBe(404)
    expect(await (await admin('/akamai/subscriptions/admin-customer')).json()).toEqual([])
    const akamaiRemoved = await admin('/akamai/clients/remove', 'POST', {
      customerId: 'admin-customer',
      clientId: 'admin-client',
    })
    expect(await akamaiRemoved.json()).toEqual({ removed: true })

    await admin('/apiax/users', 'POST', { username: 'admin-user', password: 'admin-password' })
    await admin('/apiax/api-keys', 'POST', { apiKey: 'admin-api-key' })
    const config = (await (
      await admin('/apiax/config', 'PUT', { accessTokenLifespan: 60 })
    ).json()) as {
      accessTokenLifespan: number
    }
    expect(config.accessTokenLifespan).toBe(60)
    const login = await postForm(emulator.urls.apiax.tokenUrl, {
      grant_type: 'password',
      client_id: 'integration-api',
      username: 'admin-user',
      password: 'admin-password',
    })
    const apiax = (await login.json()) as { expires_in: number; access_token: string }
    expect(apiax.expires_in).toBe(60)
    const rules = await sendJson(
      `${emulator.urls.apiax.apiUrl}/api/v3/rules/eval`,
      'POST',
      { products: [] },
      { authorization: `Bearer ${apiax.access_token}`, apikey: 'admin-api-key' },
    )
    expect(rules.status).toBe(200)
    await admin('/apiax/config', 'PUT', { accessTokenLifespan: 1800 })
    expect((await admin('/apiax/clients', 'POST', { clientId: 'admin-app' })).status).toBe(200)
    const killed = (await (await admin('/apiax/sessions/kill', 'POST')).json()) as {
      killed: number
    }
    expect(killed.killed).toBeGreaterThanOrEqual(1)
  })

  it('answers 400, 404 and 405 for bad requests', async () => {
    const notJson = await fetch(`${emulator.urls.admin}/_emulator/clear/secrets`, {
      method: 'POST',
      body: '{not json',
    })
    expect(notJson.status).toBe(400)
    expect((await admin('/clear/secrets', 'POST', [1, 2])).status).toBe(400)
    expect((await admin('/clear/secrets', 'POST', { secret: '' })).status).toBe(400)
    expect((await admin('/nothing')).status).toBe(404)
    expect((await fetch(`${emulator.urls.admin}/elsewhere`)).status).toBe(404)
    const wrongMethod = await admin('/counters', 'DELETE')
    expect(wrongMethod.status).toBe(405)
    expect(wrongMethod.headers.get('allow')).toBe('GET')
  })
})
