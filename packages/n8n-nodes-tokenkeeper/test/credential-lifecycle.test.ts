import { inspect } from 'node:util'
import { DEFAULT_REFRESH_WINDOW, type ManualClock } from '@tokenkeeper/auth-core'
import type { Emulator } from '@tokenkeeper/emulator'
import type { ICredentialDataDecryptedObject } from 'n8n-workflow'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { authenticateRequest, preAuthenticate, usableToken } from '../src/credential-lifecycle.ts'
import { renewalTime } from '../src/token-fields.ts'
import { akamaiIdentityVendor } from '../src/vendors/akamai-identity.ts'
import { apiaxVendor } from '../src/vendors/apiax.ts'
import { clearCfcVendor } from '../src/vendors/clear-cfc.ts'
import { clearIdVendor } from '../src/vendors/clearid.ts'
import { evaluateStatus, fakeHttpRequest, loaded, run, setup } from './helpers.ts'

/** The core's default advisory window cap, ms. */
const REFRESH_WINDOW_MS = DEFAULT_REFRESH_WINDOW * 1000

let emulator: Emulator
let clock: ManualClock

beforeEach(async () => {
  ;({ emulator, clock } = await setup())
})

afterEach(async () => {
  await emulator.stop()
})

const clearCredential = (): ICredentialDataDecryptedObject => ({
  environment: 'custom',
  baseUrl: emulator.urls.clear.baseUrl,
  authentication: 'clientSecret',
  clientSecret: emulator.demo.clear.clientSecret,
  tokenHeader: 'x-cleartax-auth-token',
  headers: '{"x-workspace-id": "ws-1"}',
})

const clearIdCredential = (): ICredentialDataDecryptedObject => ({
  environment: 'custom',
  stsUrl: emulator.urls.clearid.stsUrl,
  apiUrl: emulator.urls.clearid.apiUrl,
  clientId: emulator.demo.clearid.clientId,
  authentication: 'privateKey',
  privateKey: emulator.demo.clearid.privateKeyPem,
})

const akamaiCredential = (): ICredentialDataDecryptedObject => ({
  region: 'custom',
  baseUrl: emulator.urls.akamai.baseUrl,
  customerId: emulator.demo.akamai.customerId,
  clientId: emulator.demo.akamai.clientId,
  clientSecret: emulator.demo.akamai.clientSecret,
  scope: emulator.demo.akamai.scope,
})

const apiaxCredential = (): ICredentialDataDecryptedObject => ({
  environment: 'custom',
  tokenUrl: emulator.urls.apiax.tokenUrl,
  apiUrl: emulator.urls.apiax.apiUrl,
  username: emulator.demo.apiax.username,
  password: emulator.demo.apiax.password,
  apiKey: emulator.demo.apiax.apiKey,
})

describe('single flight', () => {
  it('20 concurrent calls on a cold credential cause one token request and share its token', async () => {
    const httpRequest = fakeHttpRequest()
    const credentials = clearCredential()
    const outputs = await Promise.all(
      Array.from({ length: 20 }, () =>
        preAuthenticate(clearCfcVendor, httpRequest, loaded(credentials, clock.now())),
      ),
    )
    expect(emulator.counters().clear.tokenRequests).toBe(1)
    expect(new Set(outputs.map((output) => output.tokenValue)).size).toBe(1)
    expect(outputs[0]?.tokenValue).toEqual(expect.any(String))
  })

  it('calls that loaded the credential before a renewal get the new token, without a request', async () => {
    const httpRequest = fakeHttpRequest()
    const first = await run(akamaiIdentityVendor, httpRequest, akamaiCredential(), clock.now())
    // Past the renewal time, several items loaded the same stored credential.
    const later = clock.now() + 3_600_000 - REFRESH_WINDOW_MS + 1_000
    await clock.advance(later - clock.now())
    const stale = first.credentials
    const renewed = await preAuthenticate(
      akamaiIdentityVendor,
      httpRequest,
      loaded(stale, clock.now()),
    )
    const again = await Promise.all(
      Array.from({ length: 5 }, () =>
        preAuthenticate(akamaiIdentityVendor, httpRequest, loaded(stale, clock.now())),
      ),
    )
    expect(emulator.counters().akamai.tokenRequests).toBe(2)
    expect(renewed.tokenValue).not.toBe(first.output.tokenValue)
    for (const output of again) expect(output.tokenValue).toBe(renewed.tokenValue)
  })

  it('a retry that joins a renewal in flight never puts the replaced token back', async () => {
    const httpRequest = fakeHttpRequest()
    const first = await run(clearIdVendor, httpRequest, clearIdCredential(), clock.now())
    emulator.expireTokens('clearid')
    // 20 requests failed with the expired token; n8n retries each through preAuthentication.
    const outputs = await Promise.all(
      Array.from({ length: 20 }, () =>
        preAuthenticate(clearIdVendor, httpRequest, loaded(first.credentials, clock.now())),
      ),
    )
    expect(emulator.counters().clearid.tokenRequests).toBe(2)
    const values = new Set(outputs.map((output) => output.tokenValue))
    expect(values.size).toBe(1)
    expect(values.has(first.output.tokenValue as string)).toBe(false)
  })
})

describe('credential identity', () => {
  it('credentials of one client share a token only when their secrets match', async () => {
    const httpRequest = fakeHttpRequest()
    const first = await run(akamaiIdentityVendor, httpRequest, akamaiCredential(), clock.now())
    // Another credential with the same client and secret gets the same token, no request.
    const same = await run(akamaiIdentityVendor, httpRequest, akamaiCredential(), clock.now())
    expect(same.output.tokenValue).toBe(first.output.tokenValue)
    expect(same.output.tokenIdentity).toBe(first.output.tokenIdentity)
    expect(emulator.counters().akamai.tokenRequests).toBe(1)
    // A wrong secret must fail, not borrow the token.
    const wrong = { ...akamaiCredential(), clientSecret: 'not-the-secret' }
    await expect(
      preAuthenticate(akamaiIdentityVendor, httpRequest, loaded(wrong, clock.now())),
    ).rejects.toMatchObject({ code: 'TOKEN_ENDPOINT_REJECTED' })
    expect(emulator.counters().akamai.tokenRequests).toBe(2)
    expect(JSON.stringify(first.output)).not.toContain(emulator.demo.akamai.clientSecret)
  })
})

describe('expiry expression and persisted fields', () => {
  it('stores the token, its times and identity, and an expression that turns empty at the renewal time', async () => {
    const httpRequest = fakeHttpRequest()
    const { output } = await run(clearIdVendor, httpRequest, clearIdCredential(), clock.now())
    expect(output).toMatchObject({
      tokenType: 'Bearer',
      tokenIssuedAt: clock.now(),
      tokenIdentity: expect.stringMatching(/^[0-9a-f]{32}$/),
      tokenState: '',
      tokenAfterRejection: '',
    })
    const expiresAt = output.tokenExpiresAt as number
    expect(expiresAt).toBe(clock.now() + 3_600_000)
    // ClearID renews at half-life.
    expect(output.tokenRenewAt).toBe(clock.now() + 1_800_000)
    expect(output.tokenStatus).toBe(`={{ Date.now() < ${clock.now() + 1_800_000} ? 'valid' : '' }}`)
    expect(evaluateStatus(output.tokenStatus, clock.now() + 1_799_999)).toBe('valid')
    expect(evaluateStatus(output.tokenStatus, clock.now() + 1_800_000)).toBe('')
  })

  it('renews when the expression reads empty, and not before', async () => {
    const httpRequest = fakeHttpRequest()
    const first = await run(akamaiIdentityVendor, httpRequest, akamaiCredential(), clock.now())
    const renewAt = first.output.tokenRenewAt as number
    expect(renewAt).toBe(clock.now() + 3_600_000 - REFRESH_WINDOW_MS)
    await clock.advance(renewAt - clock.now())
    const second = await run(akamaiIdentityVendor, httpRequest, first.credentials, clock.now())
    expect(second.output.tokenValue).not.toBe(first.output.tokenValue)
    expect(emulator.counters().akamai.tokenRequests).toBe(2)
    expect(emulator.counters().akamai.apiRejected).toBe(0)
  })

  it('Clear renews only at the end of a token life; a never-expiring token keeps a constant status', async () => {
    emulator.clear.registerSecret({ secret: 'never-expiring-secret', validity: null })
    const httpRequest = fakeHttpRequest()
    const { output } = await run(
      clearCfcVendor,
      httpRequest,
      { ...clearCredential(), clientSecret: 'never-expiring-secret' },
      clock.now(),
    )
    expect(output.tokenStatus).toBe('valid')
    expect(output.tokenExpiresAt).toBe('never')
    const lifetime = 86_400_000
    expect(
      renewalTime({ issuedAt: 0, expiresAt: lifetime }, { reissueRevokesPrevious: true }),
    ).toBe(lifetime - 30_000)
  })

  it('keeps Apiax refresh state and renews with the newest refresh token', async () => {
    emulator.apiax.configure({ revokeRefreshToken: true })
    const httpRequest = fakeHttpRequest()
    let current = await run(apiaxVendor, httpRequest, apiaxCredential(), clock.now())
    const refreshTokens = [JSON.parse(current.output.tokenState as string).refreshToken]
    for (let round = 0; round < 2; round++) {
      await clock.advance((current.output.tokenRenewAt as number) - clock.now())
      current = await run(apiaxVendor, httpRequest, current.credentials, clock.now())
      refreshTokens.push(JSON.parse(current.output.tokenState as string).refreshToken)
    }
    const counters = emulator.counters().apiax
    expect(counters.byGrant).toMatchObject({ password: 1, refresh_token: 2 })
    expect(counters.refreshReuseRejected).toBe(0)
    expect(new Set(refreshTokens).size).toBe(3)
  })

  it('ignores a stored token issued for other settings and does not send it', async () => {
    const httpRequest = fakeHttpRequest()
    const first = await run(akamaiIdentityVendor, httpRequest, akamaiCredential(), clock.now())
    const edited = { ...first.credentials, scope: '*:config/**' }
    const request = await authenticateRequest(akamaiIdentityVendor, edited, { url: 'x' })
    expect(request.headers).toBeUndefined()
    expect(usableToken(akamaiIdentityVendor, loaded(edited, clock.now()))).toBeUndefined()
  })
})

describe('authenticate', () => {
  it("sets Clear's token header and static headers", async () => {
    const httpRequest = fakeHttpRequest()
    const { credentials, output } = await run(
      clearCfcVendor,
      httpRequest,
      clearCredential(),
      clock.now(),
    )
    const request = await authenticateRequest(clearCfcVendor, credentials, {
      url: 'x',
      headers: { accept: 'application/json' },
    })
    expect(request.headers).toEqual({
      accept: 'application/json',
      'x-cleartax-auth-token': output.tokenValue,
      'x-workspace-id': 'ws-1',
    })
  })

  it('sets Authorization and Apikey for Apiax', async () => {
    const httpRequest = fakeHttpRequest()
    const { credentials, output } = await run(
      apiaxVendor,
      httpRequest,
      apiaxCredential(),
      clock.now(),
    )
    const request = await authenticateRequest(apiaxVendor, credentials, { url: 'x' })
    expect(request.headers).toEqual({
      Authorization: `Bearer ${output.tokenValue}`,
      Apikey: emulator.demo.apiax.apiKey,
    })
  })
})

describe('retries and tests with a valid token (the Clear guard)', () => {
  it('a failure that was not a rejected token costs no token: the probe finds the token accepted', async () => {
    const httpRequest = fakeHttpRequest()
    const first = await run(clearCfcVendor, httpRequest, clearCredential(), clock.now())
    const output = await preAuthenticate(
      clearCfcVendor,
      httpRequest,
      loaded(first.credentials, clock.now()),
    )
    expect(output).toEqual({})
    const counters = emulator.counters().clear
    expect(counters.tokenRequests).toBe(1)
    expect(counters.revokedByReissue).toBe(0)
    const probe = httpRequest.seen.at(-1)!
    expect(probe.url).toContain('/integration/v1/generatePreSign/sales')
    expect(probe.headers['x-cleartax-auth-token']).toBe(first.output.tokenValue)
    expect(probe.headers['x-workspace-id']).toBe('ws-1')
  })

  it('a rejected token is renewed once; its replacement is kept while young even if rejected', async () => {
    const httpRequest = fakeHttpRequest()
    const first = await run(clearCfcVendor, httpRequest, clearCredential(), clock.now())
    emulator.revokeTokens('clear')
    const second = await run(clearCfcVendor, httpRequest, first.credentials, clock.now())
    expect(second.output.tokenValue).not.toBe(first.output.tokenValue)
    expect(second.output.tokenAfterRejection).toBe('true')
    emulator.revokeTokens('clear')
    await clock.advance(60_000)
    // Rejected again a minute later: the API refuses this client, a new token would not help.
    expect(
      await preAuthenticate(clearCfcVendor, httpRequest, loaded(second.credentials, clock.now())),
    ).toEqual({})
    expect(emulator.counters().clear.tokenRequests).toBe(2)
    // After Clear's grace of five minutes a rejection renews again.
    await clock.advance(300_000)
    const third = await run(clearCfcVendor, httpRequest, second.credentials, clock.now())
    expect(third.output.tokenValue).toEqual(expect.any(String))
    expect(emulator.counters().clear.tokenRequests).toBe(3)
  })

  it('probes every vendor before renewing, with its own rejection statuses (Akamai: 403)', async () => {
    const httpRequest = fakeHttpRequest()
    const first = await run(akamaiIdentityVendor, httpRequest, akamaiCredential(), clock.now())
    expect(
      await preAuthenticate(
        akamaiIdentityVendor,
        httpRequest,
        loaded(first.credentials, clock.now()),
      ),
    ).toEqual({})
    emulator.expireTokens('akamai')
    const second = await run(akamaiIdentityVendor, httpRequest, first.credentials, clock.now())
    expect(second.output.tokenValue).not.toBe(first.output.tokenValue)
    expect(emulator.counters().akamai.tokenRequests).toBe(2)
    expect(emulator.counters().akamai.apiRejectedByReason.expired).toBe(1)
  })
})

describe('failures', () => {
  it('a refused secret is not retried for 30 s and no message holds a secret', async () => {
    const httpRequest = fakeHttpRequest()
    const secret = 'Secret-Value-That-Must-Not-Leak-123'
    const credentials = { ...akamaiCredential(), clientSecret: secret }
    const failure = await preAuthenticate(
      akamaiIdentityVendor,
      httpRequest,
      loaded(credentials, clock.now()),
    ).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(Error)
    for (const text of [String(failure), inspect(failure, { depth: 5 }), JSON.stringify(failure)]) {
      expect(text).not.toContain(secret)
    }
    await expect(
      preAuthenticate(akamaiIdentityVendor, httpRequest, loaded(credentials, clock.now())),
    ).rejects.toBe(failure)
    expect(emulator.counters().akamai.tokenRequests).toBe(1)
    await clock.advance(30_000)
    await expect(
      preAuthenticate(akamaiIdentityVendor, httpRequest, loaded(credentials, clock.now())),
    ).rejects.toThrow()
    expect(emulator.counters().akamai.tokenRequests).toBe(2)
  })

  it('Clear waits five minutes between failed token requests', async () => {
    emulator.faults.set('clear.token', { kind: 'status', status: 500 })
    const httpRequest = fakeHttpRequest()
    const credentials = clearCredential()
    await expect(
      preAuthenticate(clearCfcVendor, httpRequest, loaded(credentials, clock.now())),
    ).rejects.toThrow()
    await clock.advance(299_000)
    await expect(
      preAuthenticate(clearCfcVendor, httpRequest, loaded(credentials, clock.now())),
    ).rejects.toThrow()
    expect(emulator.counters().clear.tokenRequests).toBe(1)
    emulator.faults.clear()
    await clock.advance(1_000)
    const output = await preAuthenticate(
      clearCfcVendor,
      httpRequest,
      loaded(credentials, clock.now()),
    )
    expect(output.tokenValue).toEqual(expect.any(String))
    expect(emulator.counters().clear.tokenRequests).toBe(2)
  })

  it("never reads the n8n server's own variables for a blank field", async () => {
    process.env.CLEAR_CLIENT_SECRET = emulator.demo.clear.clientSecret
    try {
      const httpRequest = fakeHttpRequest()
      await expect(
        preAuthenticate(
          clearCfcVendor,
          httpRequest,
          loaded({ ...clearCredential(), clientSecret: '' }, clock.now()),
        ),
      ).rejects.toThrow(/"Client Secret" is empty/)
      expect(httpRequest.seen).toHaveLength(0)
    } finally {
      delete process.env.CLEAR_CLIENT_SECRET
    }
  })
})
