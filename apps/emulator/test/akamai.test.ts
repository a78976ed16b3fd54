import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Emulator, EmulatorError, startEmulator } from '../src/index.ts'
import { basic, postForm, sendJson } from './helpers.ts'

let emulator: Emulator

beforeAll(async () => {
  // Time moves only through emulator.clock.advance, so a loaded machine cannot shift a second.
  const frozen = Date.now()
  emulator = await startEmulator({ now: () => frozen })
})
afterAll(() => emulator.stop())
afterEach(() => emulator.faults.clear())

function tokenUrl(customerId = emulator.demo.akamai.customerId): string {
  return `${emulator.urls.akamai.baseUrl}/${customerId}/login/token`
}

function demoAuthorization(): string {
  return basic(emulator.demo.akamai.clientId, emulator.demo.akamai.clientSecret)
}

function requestToken(
  fields: Record<string, string> = { grant_type: 'client_credentials', scope: '*:webhooks/**' },
  authorization: string | undefined = demoAuthorization(),
  customerId?: string,
): Promise<Response> {
  return postForm(tokenUrl(customerId), fields, authorization ? { authorization } : {})
}

async function token(scope = '*:webhooks/**'): Promise<string> {
  const response = await requestToken({ grant_type: 'client_credentials', scope })
  expect(response.status).toBe(200)
  return ((await response.json()) as { access_token: string }).access_token
}

function subscriptionsUrl(customerId = emulator.demo.akamai.customerId): string {
  return `${emulator.urls.akamai.baseUrl}/${customerId}/webhooks/subscriptions`
}

async function expectOAuthError(response: Response, status: number, error: string) {
  expect(response.status).toBe(status)
  const body = (await response.json()) as Record<string, unknown>
  expect(body.error).toBe(error)
  expect(typeof body.error_description).toBe('string')
}

async function expectForbidden(response: Response) {
  expect(response.status).toBe(403)
  expect(await response.json()).toEqual({ errors: 'Forbidden' })
}

describe('Akamai token endpoint', () => {
  it('issues an opaque token with expires_in from the token policy', async () => {
    const response = await requestToken()
    expect(response.status).toBe(200)
    const body = (await response.json()) as Record<string, unknown>
    expect(body).toMatchObject({ expires_in: 3600, token_type: 'Bearer', scope: '*:webhooks/**' })
    expect(typeof body.access_token).toBe('string')
    // Opaque: not a JWT.
    expect((body.access_token as string).split('.')).toHaveLength(1)
    expect(emulator.urls.akamai.oidcUrl).toBe(
      `${emulator.urls.akamai.baseUrl}/${emulator.demo.akamai.customerId}/login`,
    )
  })

  it('decodes Basic credentials as RFC 6749 §2.3.1 says (form-encoded parts)', async () => {
    // The demo secret contains ':' and '+': without form-encoding '+' decodes to a space.
    const { clientId, clientSecret } = emulator.demo.akamai
    expect(clientSecret).toMatch(/[:+]/)
    const raw = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`
    await expectOAuthError(await requestToken(undefined, raw), 401, 'invalid_client')
    expect((await requestToken(undefined, demoAuthorization())).status).toBe(200)
  })

  it('answers OAuth-style errors', async () => {
    const missing = await requestToken(undefined, '')
    expect(missing.headers.get('www-authenticate')).toMatch(/^Basic realm=/)
    await expectOAuthError(missing, 401, 'invalid_client')
    await expectOAuthError(
      await requestToken(undefined, basic(emulator.demo.akamai.clientId, 'wrong')),
      401,
      'invalid_client',
    )
    await expectOAuthError(
      await requestToken(undefined, undefined, 'other-customer'),
      401,
      'invalid_client',
    )
    await expectOAuthError(await requestToken({ scope: '*:webhooks/**' }), 400, 'invalid_request')
    await expectOAuthError(
      await requestToken({ grant_type: 'password', scope: '*:webhooks/**' }),
      400,
      'unsupported_grant_type',
    )
    await expectOAuthError(
      await requestToken({ grant_type: 'client_credentials' }),
      400,
      'invalid_request',
    )
    await expectOAuthError(
      await requestToken({ grant_type: 'client_credentials', scope: '*:**' }),
      400,
      'invalid_scope',
    )
    const json = await sendJson(
      tokenUrl(),
      'POST',
      { grant_type: 'client_credentials' },
      {
        authorization: demoAuthorization(),
      },
    )
    await expectOAuthError(json, 400, 'invalid_request')
    expect((await fetch(tokenUrl())).status).toBe(405)
  })

  it('takes the lifetime from a configurable policy between 60 and 3600 seconds', async () => {
    emulator.akamai.registerClient({
      customerId: 'short-policy',
      clientId: 'short',
      clientSecret: 'short-secret',
      scopes: ['*:webhooks/**'],
      tokenLifetime: 60,
    })
    const response = await postForm(
      tokenUrl('short-policy'),
      { grant_type: 'client_credentials', scope: '*:webhooks/**' },
      { authorization: basic('short', 'short-secret') },
    )
    expect(((await response.json()) as { expires_in: number }).expires_in).toBe(60)
    emulator.akamai.setTokenLifetime('short-policy', 'short', 120)
    const again = await postForm(
      tokenUrl('short-policy'),
      { grant_type: 'client_credentials', scope: '*:webhooks/**' },
      { authorization: basic('short', 'short-secret') },
    )
    expect(((await again.json()) as { expires_in: number }).expires_in).toBe(120)
    const register = (tokenLifetime: number) =>
      emulator.akamai.registerClient({
        customerId: 'c',
        clientId: 'x',
        clientSecret: 'y',
        scopes: ['*:webhooks/**'],
        tokenLifetime,
      })
    expect(() => register(59)).toThrow(EmulatorError)
    expect(() => register(3601)).toThrow(/60 to 3600/)
    expect(() => emulator.akamai.setTokenLifetime('nobody', 'x', 100)).toThrow(EmulatorError)
  })
})

describe('Akamai Webhooks v3', () => {
  it('creates, lists, reads, updates and deletes subscriptions', async () => {
    const auth = { authorization: `Bearer ${await token()}` }
    const created = await sendJson(
      subscriptionsUrl(),
      'POST',
      {
        title: 'User changes',
        endpoint: 'https://hooks.example.com/akamai',
        events: ['entityCreated'],
      },
      auth,
    )
    expect(created.status).toBe(201)
    const subscription = (await created.json()) as Record<string, unknown>
    expect(subscription).toMatchObject({
      title: 'User changes',
      enabled: true,
      events: ['entityCreated'],
      customerId: emulator.demo.akamai.customerId,
    })
    expect(created.headers.get('location')).toMatch(new RegExp(`${subscription.id}$`))
    const one = `${subscriptionsUrl()}/${subscription.id}`

    const list = (await (await fetch(subscriptionsUrl(), { headers: auth })).json()) as {
      _embedded: { subscriptions: { id: string }[] }
    }
    expect(list._embedded.subscriptions.map((entry) => entry.id)).toContain(subscription.id)
    expect((await fetch(one, { headers: auth })).status).toBe(200)

    const duplicate = await sendJson(
      subscriptionsUrl(),
      'POST',
      { title: 'User changes', endpoint: 'https://x', events: [] },
      auth,
    )
    expect(duplicate.status).toBe(409)
    const invalid = await sendJson(
      subscriptionsUrl(),
      'POST',
      { title: 'x', events: ['nope'] },
      auth,
    )
    expect(invalid.status).toBe(400)
    expect(((await invalid.json()) as { errors: string[] }).errors.length).toBe(3)

    const patched = await sendJson(
      one,
      'PATCH',
      { enabled: false, events: ['entityDeleted'] },
      auth,
    )
    expect(patched.status).toBe(200)
    expect(await patched.json()).toMatchObject({ enabled: false, events: ['entityDeleted'] })
    expect(emulator.akamai.subscriptions(emulator.demo.akamai.customerId)[0]).toMatchObject({
      enabled: false,
    })

    const events = (await (await fetch(`${one}/events`, { headers: auth })).json()) as {
      _embedded: { events: unknown[] }
    }
    expect(events._embedded.events).toEqual([])
    expect((await fetch(`${one}/events/abc`, { headers: auth })).status).toBe(404)
    expect((await fetch(`${one}/events/abc/history`, { headers: auth })).status).toBe(404)

    expect((await fetch(one, { method: 'DELETE', headers: auth })).status).toBe(204)
    expect((await fetch(one, { headers: auth })).status).toBe(404)
  })

  it('answers 403 {"errors":"Forbidden"} for a missing, unknown, expired or revoked token', async () => {
    emulator.resetCounters()
    await expectForbidden(await fetch(subscriptionsUrl()))
    await expectForbidden(
      await fetch(subscriptionsUrl(), { headers: { authorization: 'Bearer nope' } }),
    )
    const soonExpired = await token()
    emulator.clock.advance(3600_000)
    await expectForbidden(
      await fetch(subscriptionsUrl(), { headers: { authorization: `Bearer ${soonExpired}` } }),
    )
    const revoked = await token()
    emulator.revokeTokens('akamai')
    await expectForbidden(
      await fetch(subscriptionsUrl(), { headers: { authorization: `Bearer ${revoked}` } }),
    )
    const expired = await token()
    emulator.expireTokens('akamai')
    await expectForbidden(
      await fetch(subscriptionsUrl(), { headers: { authorization: `Bearer ${expired}` } }),
    )
    const live = await token()
    expect(
      (await fetch(subscriptionsUrl(), { headers: { authorization: `Bearer ${live}` } })).status,
    ).toBe(200)
    const counters = emulator.counters().akamai
    expect(counters.apiRejectedByReason).toEqual({
      missing: 1,
      invalid: 1,
      expired: 2,
      revoked: 1,
      forbidden: 0,
    })
    expect(counters.apiAccepted).toBe(1)
    expect(counters.byGrant).toEqual({ client_credentials: 4 })
  })

  it('answers 403 for a token of another scope or customer', async () => {
    const config = await token('*:config/**')
    await expectForbidden(
      await fetch(subscriptionsUrl(), { headers: { authorization: `Bearer ${config}` } }),
    )
    const webhooks = await token()
    await expectForbidden(
      await fetch(subscriptionsUrl('someone-else'), {
        headers: { authorization: `Bearer ${webhooks}` },
      }),
    )
  })
})
