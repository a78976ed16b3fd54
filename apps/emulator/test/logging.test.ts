import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Emulator, startEmulator } from '../src/index.ts'
import { basic, postForm, sendJson, signAssertion } from './helpers.ts'

const lines: string[] = []
let emulator: Emulator
/** Every secret value sent or received in this file; none may reach the log. */
const secrets: string[] = []

const remember = <T extends string>(value: T): T => {
  secrets.push(value)
  return value
}

beforeAll(async () => {
  emulator = await startEmulator({ log: (line) => lines.push(line) })
})
afterAll(() => emulator.stop())

describe('request log', () => {
  it('writes one line per request and never a secret, token or assertion', async () => {
    const { clearid, clear, akamai, apiax } = emulator.demo
    secrets.push(
      clearid.clientSecret,
      clear.clientSecret,
      akamai.clientSecret,
      apiax.password,
      apiax.apiKey,
      encodeURIComponent(clearid.clientSecret),
      encodeURIComponent(akamai.clientSecret),
      encodeURIComponent(apiax.password),
    )
    const wrong = remember('WRONG-SECRET-VALUE-0123456789')
    const extraSecret = remember('ANOTHER-CLEAR-SECRET-987654')
    const apiaxKeyPair = generateKeyPairSync('rsa', { modulusLength: 2048 })
    emulator.apiax.registerAssertionClient({
      clientId: 'log-2fa',
      publicKey: apiaxKeyPair.publicKey,
    })
    emulator.clear.registerSecret({ secret: extraSecret })
    let requests = 0
    const count = <T>(value: T): T => {
      requests += 1
      return value
    }

    // ClearID: both grants, errors, API calls.
    const stsToken = `${emulator.urls.clearid.stsUrl}/connect/token`
    const clearidAnswer = (await (
      await count(
        postForm(stsToken, {
          grant_type: 'client_credentials',
          client_id: clearid.clientId,
          client_secret: clearid.clientSecret,
        }),
      )
    ).json()) as { access_token: string }
    remember(clearidAnswer.access_token)
    const assertion = remember(
      await signAssertion(clearid.privateKeyPem, {
        alg: 'RS512',
        issuer: clearid.clientId,
        audience: 'iams-sts',
        nowMs: emulator.clock.now(),
      }),
    )
    const byAssertion = (await (
      await count(
        postForm(stsToken, {
          grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
          client_id: clearid.clientId,
          assertion,
        }),
      )
    ).json()) as { access_token: string }
    remember(byAssertion.access_token)
    await count(
      postForm(stsToken, {
        grant_type: 'client_credentials',
        client_id: clearid.clientId,
        client_secret: wrong,
      }),
    )
    await count(
      postForm(`${stsToken}?client_secret=${encodeURIComponent(wrong)}`, {
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        client_id: clearid.clientId,
        assertion,
      }),
    )
    await count(
      fetch(`${emulator.urls.clearid.apiUrl}/api/v2/accounts/${clearid.accountId}/identities`, {
        headers: { authorization: `Bearer ${clearidAnswer.access_token}` },
      }),
    )

    // Clear: token, reissue, quota-free errors, business APIs.
    const clearToken = `${emulator.urls.clear.baseUrl}/integration/v1/authz/token`
    const clearTokens: string[] = []
    for (const secret of [clear.clientSecret, clear.clientSecret, wrong, extraSecret]) {
      const response = await count(
        fetch(clearToken, { headers: { 'x-clear-client-secret': secret } }),
      )
      const body = (await response.json()) as { access_token?: string }
      if (body.access_token) clearTokens.push(remember(body.access_token))
    }
    // The first token was revoked by the second request: a 401 on the business API.
    const clearFirst = clearTokens[0]
    await count(
      fetch(
        `${emulator.urls.clear.baseUrl}/integration/v1/generatePreSign/sales?fileName=x&token=${wrong}`,
        {
          headers: { 'x-cleartax-auth-token': clearFirst! },
        },
      ),
    )

    // Akamai: token, bad credentials, webhooks.
    const akamaiToken = `${emulator.urls.akamai.oidcUrl}/token`
    const akamaiAnswer = (await (
      await count(
        postForm(
          akamaiToken,
          { grant_type: 'client_credentials', scope: akamai.scope },
          { authorization: remember(basic(akamai.clientId, akamai.clientSecret)) },
        ),
      )
    ).json()) as { access_token: string }
    remember(akamaiAnswer.access_token)
    await count(
      postForm(
        akamaiToken,
        { grant_type: 'client_credentials', scope: akamai.scope },
        { authorization: remember(basic(akamai.clientId, wrong)) },
      ),
    )
    await count(
      sendJson(
        `${emulator.urls.akamai.baseUrl}/${akamai.customerId}/webhooks/subscriptions`,
        'POST',
        { title: 'log test', endpoint: 'https://example.com', events: [] },
        { authorization: `Bearer ${akamaiAnswer.access_token}` },
      ),
    )

    // Apiax: password, wrong password, refresh, 2FA, rule engine.
    const login = (fields: Record<string, string>) =>
      count(postForm(emulator.urls.apiax.tokenUrl, { client_id: 'integration-api', ...fields }))
    const apiaxAnswer = (await (
      await login({ grant_type: 'password', username: apiax.username, password: apiax.password })
    ).json()) as { access_token: string; refresh_token: string }
    remember(apiaxAnswer.access_token)
    remember(apiaxAnswer.refresh_token)
    await login({ grant_type: 'password', username: apiax.username, password: wrong })
    const refreshed = (await (
      await login({ grant_type: 'refresh_token', refresh_token: apiaxAnswer.refresh_token })
    ).json()) as { access_token: string; refresh_token: string }
    remember(refreshed.access_token)
    remember(refreshed.refresh_token)
    const clientAssertion = remember(
      await signAssertion(apiaxKeyPair.privateKey, {
        alg: 'RS256',
        issuer: 'log-2fa',
        audience: emulator.urls.apiax.tokenUrl,
        nowMs: emulator.clock.now(),
      }),
    )
    const twoFactor = (await (
      await count(
        postForm(emulator.urls.apiax.tokenUrl, {
          client_id: 'log-2fa',
          grant_type: 'password',
          username: apiax.username,
          password: apiax.password,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: clientAssertion,
        }),
      )
    ).json()) as { access_token: string; refresh_token: string }
    remember(twoFactor.access_token)
    remember(twoFactor.refresh_token)
    await count(
      sendJson(
        `${emulator.urls.apiax.apiUrl}/api/v3/rules/eval`,
        'POST',
        { products: [] },
        { authorization: `Bearer ${refreshed.access_token}`, apikey: apiax.apiKey },
      ),
    )

    // Faulted requests and the admin API are logged too.
    emulator.faults.set('clear.token', { kind: 'status', status: 503, times: 1 })
    await count(fetch(clearToken, { headers: { 'x-clear-client-secret': clear.clientSecret } }))
    emulator.faults.set('clear.token', { kind: 'reset', times: 1 })
    await count(
      fetch(clearToken, { headers: { 'x-clear-client-secret': clear.clientSecret } }),
    ).catch(() => undefined)
    await count(
      sendJson(`${emulator.urls.admin}/_emulator/clear/secrets`, 'POST', {
        secret: remember('ADMIN-SECRET-42'),
      }),
    )

    expect(lines).toHaveLength(requests)
    for (const line of lines) {
      for (const secret of secrets) {
        expect(line.includes(secret), `log line leaks a secret: ${line}`).toBe(false)
      }
      expect(line).not.toMatch(/\?/)
      expect(line).not.toMatch(/eyJ/)
      expect(line).toMatch(
        /^(clearid|clear|akamai|apiax|admin) [A-Z]+ \/\S* (\d{3}|reset) \d+ms( fault=\S+)?$/,
      )
    }
    expect(
      lines.some((line) =>
        /^clear GET \/integration\/v1\/authz\/token 503 \d+ms fault=status$/.test(line),
      ),
    ).toBe(true)
    expect(
      lines.some((line) => line.startsWith('clear GET /integration/v1/generatePreSign/sales 401')),
    ).toBe(true)
    expect(
      lines.some((line) =>
        /^clear GET \/integration\/v1\/authz\/token reset \d+ms fault=reset$/.test(line),
      ),
    ).toBe(true)
    expect(
      lines.some((line) =>
        line.startsWith('apiax POST /auth/realms/apiax/protocol/openid-connect/token 401'),
      ),
    ).toBe(true)
  })
})
