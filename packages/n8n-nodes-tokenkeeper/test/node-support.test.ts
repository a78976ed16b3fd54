import type { ManualClock } from '@tokenkeeper/auth-core'
import type { Emulator } from '@tokenkeeper/emulator'
import type {
  ICredentialDataDecryptedObject,
  IExecuteFunctions,
  IHttpRequestOptions,
} from 'n8n-workflow'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { authenticateRequest, preAuthenticate } from '../src/credential-lifecycle.ts'
import { getAccessToken } from '../src/node-support.ts'
import { clearCfcVendor } from '../src/vendors/clear-cfc.ts'
import { fakeHttpRequest, loaded, merge, setup } from './helpers.ts'

let emulator: Emulator
let clock: ManualClock

beforeEach(async () => {
  ;({ emulator, clock } = await setup())
})

afterEach(async () => {
  await emulator.stop()
})

/**
 * Just enough of n8n around a node: credentials loaded (expression evaluated) on every
 * `getCredentials`, and `httpRequestWithAuthentication` running `preAuthentication` when the
 * expirable field reads empty, persisting its output, authenticating and sending.
 */
function fakeContext(initial: ICredentialDataDecryptedObject) {
  let stored = initial
  const httpRequest = fakeHttpRequest()
  const context = {
    getCredentials: async () => loaded(stored, clock.now()),
    getNode: () => ({ name: 'Clear Finance Cloud', type: 'n8n-nodes-tokenkeeper.clearCfc' }),
    helpers: {
      async httpRequestWithAuthentication(_type: string, request: IHttpRequestOptions) {
        let credentials = loaded(stored, clock.now())
        if (credentials.tokenStatus === '') {
          const output = await preAuthenticate(clearCfcVendor, httpRequest, credentials)
          stored = merge(stored, output)
          credentials = merge(credentials, output)
        }
        return await httpRequest(await authenticateRequest(clearCfcVendor, credentials, request))
      },
    },
  }
  return { context: context as unknown as IExecuteFunctions, stored: () => stored, httpRequest }
}

describe('Get Access Token', () => {
  it('has n8n obtain and store a token when none is usable, then returns the stored one', async () => {
    const { context, stored, httpRequest } = fakeContext({
      environment: 'custom',
      baseUrl: emulator.urls.clear.baseUrl,
      authentication: 'clientSecret',
      clientSecret: emulator.demo.clear.clientSecret,
      tokenHeader: 'x-cleartax-auth-token',
    })
    const first = await getAccessToken(context, clearCfcVendor, 0)
    expect(first).toMatchObject({
      accessToken: stored().tokenValue,
      tokenType: 'Bearer',
      expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    })
    expect(emulator.counters().clear.tokenRequests).toBe(1)
    const calls = httpRequest.seen.length
    const second = await getAccessToken(context, clearCfcVendor, 0)
    expect(second.accessToken).toBe(first.accessToken)
    // The stored token is returned without any request, and never the client secret.
    expect(httpRequest.seen.length).toBe(calls)
    expect(JSON.stringify(second)).not.toContain(emulator.demo.clear.clientSecret)
    expect(emulator.counters().clear.revokedByReissue).toBe(0)
  })

  it('says why when no token can be had', async () => {
    const { context } = fakeContext({
      environment: 'custom',
      baseUrl: emulator.urls.clear.baseUrl,
      authentication: 'clientSecret',
      clientSecret: 'unknown-secret-value',
    })
    const failure = await getAccessToken(context, clearCfcVendor, 0).catch(
      (error: unknown) => error,
    )
    expect(String((failure as Error).message)).toMatch(/no access token could be obtained/)
    expect(String((failure as Error).message)).not.toContain('unknown-secret-value')
  })
})
