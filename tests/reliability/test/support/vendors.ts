import { createAkamaiIdentity } from '@tokenkeeper/akamai-identity'
import { createApiax } from '@tokenkeeper/apiax'
import type { TokenClient, TokenClientOptions } from '@tokenkeeper/auth-core'
import { createClearCfc } from '@tokenkeeper/clear-cfc'
import { createClearId } from '@tokenkeeper/clearid'
import type { Emulator, Vendor } from '@tokenkeeper/emulator'
import { Agent, type Dispatcher, request } from 'undici'

/** How an API call reaches the vendor: the client's `fetch()` or an undici `interceptor()`. */
export type CallPath = 'fetch' | 'interceptor'

/** A client made for a test, plus the undici agent its interceptor is composed on. */
export interface RiggedClient {
  readonly client: TokenClient
  /** Makes one API call of the vendor's sample API and returns the final HTTP status. */
  call(path: CallPath): Promise<number>
  close(): Promise<void>
}

/** What a test needs to know to drive one vendor against the emulator. */
export interface VendorRig {
  /** The emulator's name of the vendor (counters, faults). */
  readonly vendor: Vendor
  /** The package that implements it. */
  readonly packageName: string
  /** API statuses that mean "token rejected" for this vendor. */
  readonly rejectionStatuses: readonly number[]
  /** Shortest token lifetime the vendor (and its emulation) allows, seconds. */
  readonly minimumLifetime: number
  /**
   * Whether the server fixes the token's end at a whole second (an absolute `exp` or
   * `valid_till`), so a token may live up to 1 s less than its stated lifetime.
   */
  readonly absoluteExpiry: boolean
  /** Sets the lifetime of the tokens the emulator issues to the demo credential, seconds. */
  setLifetime(emulator: Emulator, seconds: number): void
  /** A client for the demo credential; `options` are TokenClientOptions. */
  createClient(emulator: Emulator, options: TokenClientOptions): RiggedClient
}

function rigged(
  client: TokenClient,
  send: (call: (url: string, init?: RequestInit) => Promise<number>) => Promise<number>,
): RiggedClient {
  let agent: Dispatcher | undefined
  const viaFetch = async (url: string, init?: RequestInit) => {
    const response = await client.fetch(url, init as never)
    await response.arrayBuffer()
    return response.status
  }
  const viaInterceptor = async (url: string, init?: RequestInit) => {
    agent ??= new Agent().compose(client.interceptor())
    const answer = await request(url, {
      dispatcher: agent,
      method: (init?.method ?? 'GET') as 'GET',
      ...(init?.headers ? { headers: init.headers as Record<string, string> } : {}),
      ...(typeof init?.body === 'string' ? { body: init.body } : {}),
    })
    await answer.body.arrayBuffer()
    return answer.statusCode
  }
  return {
    client,
    call: (path) => send(path === 'fetch' ? viaFetch : viaInterceptor),
    close: async () => {
      await client.close()
      await agent?.close()
    },
  }
}

/** Genetec ClearID: client secret, JWT access tokens (exp and expires_in), renewal at half-life. */
export const clearIdRig: VendorRig = {
  vendor: 'clearid',
  packageName: '@tokenkeeper/clearid',
  rejectionStatuses: [401],
  minimumLifetime: 1,
  absoluteExpiry: true,
  setLifetime: (emulator, seconds) => emulator.clearid.setTokenLifetime(seconds),
  createClient(emulator, options) {
    const { clientId, clientSecret, accountId } = emulator.demo.clearid
    const client = createClearId({
      clientId,
      clientSecret,
      accountId,
      stsUrl: emulator.urls.clearid.stsUrl,
      env: {},
      ...options,
    })
    const url = `${emulator.urls.clearid.apiUrl}/api/v2/accounts/${encodeURIComponent(accountId)}/identities`
    return rigged(client, (call) => call(url))
  },
}

/** Clear Finance Cloud: header secret, valid_till, reissue revokes, no renewal ahead. */
export const clearRig: VendorRig = {
  vendor: 'clear',
  packageName: '@tokenkeeper/clear-cfc',
  rejectionStatuses: [401],
  minimumLifetime: 1,
  absoluteExpiry: true,
  setLifetime: (emulator, seconds) =>
    // The simulated hour issues thousands of short-lived tokens: lift the daily quota of 288,
    // which the fault matrix exercises separately.
    emulator.clear.registerSecret({
      secret: emulator.demo.clear.clientSecret,
      validity: seconds,
      quota: 1_000_000,
    }),
  createClient(emulator, options) {
    const client = createClearCfc({
      clientSecret: emulator.demo.clear.clientSecret,
      baseUrl: emulator.urls.clear.baseUrl,
      env: {},
      ...options,
    })
    const url = `${emulator.urls.clear.baseUrl}/integration/v1/generatePreSign/sales?fileName=soak.csv`
    return rigged(client, (call) => call(url))
  },
}

/** Akamai Identity Cloud: HTTP Basic, opaque tokens (expires_in only), 403 for a dead token. */
export const akamaiRig: VendorRig = {
  vendor: 'akamai',
  packageName: '@tokenkeeper/akamai-identity',
  rejectionStatuses: [401, 403],
  // Akamai token policies (and the emulator) allow 60 to 3600 seconds.
  minimumLifetime: 60,
  absoluteExpiry: false,
  setLifetime: (emulator, seconds) =>
    emulator.akamai.setTokenLifetime(
      emulator.demo.akamai.customerId,
      emulator.demo.akamai.clientId,
      seconds,
    ),
  createClient(emulator, options) {
    const { customerId, clientId, clientSecret } = emulator.demo.akamai
    const client = createAkamaiIdentity({
      baseUrl: emulator.urls.akamai.baseUrl,
      customerId,
      clientId,
      clientSecret,
      env: {},
      ...options,
    })
    const url = `${emulator.urls.akamai.baseUrl}/${encodeURIComponent(customerId)}/webhooks/subscriptions`
    return rigged(client, (call) => call(url))
  },
}

/** Apiax: Keycloak password login, rotating refresh tokens, Bearer plus Apikey. */
export const apiaxRig: VendorRig = {
  vendor: 'apiax',
  packageName: '@tokenkeeper/apiax',
  rejectionStatuses: [401],
  minimumLifetime: 1,
  // Keycloak's access tokens are JWTs whose exp is whole seconds after the issue time: the token
  // ends up to 1 s before expires_in says, whether or not the client reads exp.
  absoluteExpiry: true,
  setLifetime: (emulator, seconds) => {
    emulator.apiax.configure({ accessTokenLifespan: seconds })
  },
  createClient(emulator, options) {
    const { username, password, apiKey, clientId } = emulator.demo.apiax
    const client = createApiax({
      username,
      password,
      apiKey,
      clientId,
      tokenUrl: emulator.urls.apiax.tokenUrl,
      apiUrl: emulator.urls.apiax.apiUrl,
      env: {},
      ...options,
    })
    const url = `${emulator.urls.apiax.apiUrl}/api/v3/rules/eval`
    const body = JSON.stringify({ products: [{ productId: 'P-1' }], regimes: ['CH'] })
    return rigged(client, (call) =>
      call(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
    )
  },
}

/** Every vendor, in the emulator's order. */
export const RIGS: readonly VendorRig[] = [clearIdRig, clearRig, akamaiRig, apiaxRig]

/** The rig of one vendor. */
export function rigOf(vendor: Vendor): VendorRig {
  const rig = RIGS.find((candidate) => candidate.vendor === vendor)
  if (!rig) throw new Error(`no rig for ${vendor}`)
  return rig
}
