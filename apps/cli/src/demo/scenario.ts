import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import {
  createTokenClient,
  createUndiciTransport,
  type FetchInit,
  type ManualClock,
  type TokenClient,
  type TokenClientOptions,
  type TokenStore,
} from '@tokenkeeper/auth-core'
import type { Emulator, Vendor, VendorCounters } from '@tokenkeeper/emulator'
import { createFileTokenStore } from '../cache/file-token-store.ts'
import type { TokenEventLog } from '../token-events.ts'
import { findVendor, type VendorId, type VendorSource } from '../vendors.ts'

/** The steps every vendor goes through, in order (the columns of the demo's table). */
export const STEP_IDS = ['issue', 'reuse', 'renew', 'reject', 'fault', 'extra'] as const

/** One step of a vendor's run. */
export type StepId = (typeof STEP_IDS)[number]

/** What the demo's vendors are run with. */
export interface ScenarioContext {
  readonly emulator: Emulator
  /** Simulated time, shared by the emulator and every token client. */
  readonly clock: ManualClock
  readonly events: TokenEventLog
  /** Token lifetime in simulated seconds. */
  readonly lifetime: number
  /** A directory for the Clear file cache (removed by the caller). */
  readonly directory: string
}

/** One vendor's run, step by step, against the emulator. */
export interface VendorScenario {
  /** Runs one step; resolves with a one-line account of what happened, or throws a {@link DemoCheckError}. */
  run(step: StepId): Promise<string>
  close(): Promise<void>
}

/** An expectation of the demo did not hold (the demo then exits with code 1). */
export class DemoCheckError extends Error {
  override name = 'DemoCheckError'
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new DemoCheckError(message)
}

const MINUTE = 60_000

/** Everything a vendor's steps share. */
interface Harness {
  readonly id: VendorId
  readonly vendor: Vendor
  readonly context: ScenarioContext
  readonly client: TokenClient
  readonly key: string
  /** The sample API call of the vendor, through the client's `fetch` (renewal included). */
  call(client?: TokenClient): Promise<number>
  /** Client options every client of the demo uses. */
  readonly options: TokenClientOptions
}

/** The vendor's counters on the emulator. */
function counters(harness: Harness): VendorCounters & Record<string, unknown> {
  return harness.context.emulator.counters()[harness.vendor] as VendorCounters &
    Record<string, unknown>
}

/** Runs `count` API calls at once; resolves with their statuses. */
async function calls(harness: Harness, count: number, client?: TokenClient): Promise<number[]> {
  return Promise.all(Array.from({ length: count }, () => harness.call(client)))
}

function allOk(statuses: number[], what: string): void {
  const failed = statuses.filter((status) => status < 200 || status >= 300)
  check(
    failed.length === 0,
    `${what}: ${failed.length} of ${statuses.length} calls failed (HTTP ${failed[0]})`,
  )
}

/** Token requests this client made for its key, counted from the core's events. */
function requests(harness: Harness): number {
  return harness.context.events.count(harness.key, 'requested')
}

function minutes(ms: number): string {
  return `${Math.round(ms / MINUTE)} min`
}

function percent(part: number, whole: number): string {
  return `${Math.round((part / whole) * 100)}%`
}

/**
 * Moves simulated time to `at` (never backwards). With a `settle` key, every timer that starts a
 * token request for that key lets the request finish before time moves on, as it would in real
 * life where a request takes milliseconds.
 */
async function advanceTo(context: ScenarioContext, at: number, settleKey?: string): Promise<void> {
  const delta = at - context.clock.now()
  if (delta <= 0) return
  if (settleKey === undefined) {
    await context.clock.advance(delta)
    return
  }
  const { events } = context
  const inflight = () =>
    events.count(settleKey, 'requested') -
    events.count(settleKey, 'issued') -
    events.count(settleKey, 'renewed') -
    events.count(settleKey, 'failed')
  await context.clock.advance(delta, {
    settle: async () => {
      await new Promise((resolve) => setImmediate(resolve))
      while (inflight() > 0) await events.next(settleKey, ['issued', 'renewed', 'failed'])
    },
  })
}

/** The lifetime of the client's current token, ms. */
async function currentToken(harness: Harness) {
  const token = await harness.client.getToken()
  const lifetime = (token.expiresAt ?? Number.POSITIVE_INFINITY) - token.issuedAt
  return { token, lifetime }
}

// --- steps shared by the vendors that renew ahead of expiry ---------------------------------

async function issueStep(harness: Harness): Promise<string> {
  const before = requests(harness)
  const [status] = await calls(harness, 1)
  allOk([status ?? 0], 'first call')
  check(requests(harness) - before === 1, 'the first call should request exactly one token')
  const { lifetime } = await currentToken(harness)
  return `first API call: 1 token request, the API accepted it (token valid ${minutes(lifetime)})`
}

async function reuseStep(harness: Harness): Promise<string> {
  const before = requests(harness)
  allOk(await calls(harness, 25), 'concurrent calls')
  check(requests(harness) === before, 'concurrent calls with a valid token should request none')
  return '25 concurrent API calls: 0 token requests, all used the cached token'
}

async function backgroundRenewStep(harness: Harness, how: string): Promise<string> {
  const { context } = harness
  const { token, lifetime } = await currentToken(harness)
  const mark = context.events.size
  const before = requests(harness)
  await advanceTo(context, token.issuedAt + 0.9 * lifetime, harness.key)
  const seen = context.events.since(harness.key, mark)
  const renewed = seen.find((event) => event.name === 'renewed' || event.name === 'failed')
  check(renewed?.name === 'renewed', `no background renewal (${renewed?.error?.code ?? 'none'})`)
  check(renewed.reason === 'renewal', `expected a background renewal, got ${renewed.reason}`)
  check(requests(harness) - before === 1, 'the renewal should be one token request')
  allOk(await calls(harness, 5), 'calls after the renewal')
  check(requests(harness) - before === 1, 'calls after the renewal should use the new token')
  return `renewed in the background at ${percent(renewed.at - token.issuedAt, lifetime)} of the token's lifetime${how}, while callers kept the current token`
}

async function rejectStep(harness: Harness, status: number): Promise<string> {
  const { context } = harness
  const before = requests(harness)
  const rejectedBefore = counters(harness).apiRejected
  context.emulator.revokeTokens(harness.vendor)
  allOk(await calls(harness, 10), 'calls after the token was revoked')
  const rejected = counters(harness).apiRejected - rejectedBefore
  check(requests(harness) - before === 1, `expected 1 renewal, saw ${requests(harness) - before}`)
  check(rejected >= 1, 'the API should have rejected the revoked token')
  return `the vendor revoked the token: ${rejected} calls got ${status}, 1 renewal, all 10 retried and succeeded`
}

async function tokenFaultStep(harness: Harness): Promise<string> {
  const { context } = harness
  const errorsBefore = counters(harness).tokenErrors
  context.emulator.faults.set(`${harness.vendor}.token`, { kind: 'status', status: 503, times: 2 })
  const { token, lifetime } = await currentToken(harness)
  let pending = context.events.next(harness.key, ['failed', 'renewed'])
  await advanceTo(context, token.issuedAt + 0.9 * lifetime)
  let failures = 0
  let served = 0
  for (let attempt = 0; ; attempt++) {
    check(attempt < 6, 'the renewal did not recover from the fault')
    const event = await pending
    if (event.name === 'renewed') break
    failures++
    // The current token is still valid: callers keep getting it while renewal retries.
    allOk(await calls(harness, 5), 'calls during the outage')
    served += 5
    pending = context.events.next(harness.key, ['failed', 'renewed'])
    await advanceTo(context, (event.retryAt ?? context.clock.now()) + 1)
  }
  context.emulator.faults.clear(`${harness.vendor}.token`)
  check(failures === 2, `expected 2 failed attempts, saw ${failures}`)
  check(counters(harness).tokenErrors - errorsBefore === 2, 'the emulator should count 2 errors')
  return `token endpoint answered 503 twice during renewal: the current token kept serving ${served} calls; the renewal retried with backoff and succeeded`
}

// --- the vendors -------------------------------------------------------------------------------

/** Client options of the demo: simulated clock, fixed jitter, short backoff. */
function clientOptions(context: ScenarioContext): TokenClientOptions {
  return {
    clock: context.clock,
    random: () => 0.5,
    backoff: { initial: 1_000, max: 4_000 },
  }
}

function makeHarness(
  id: VendorId,
  context: ScenarioContext,
  settings: Record<string, unknown>,
  request: (vendor: VendorSource) => { path: string; init?: FetchInit },
  store?: TokenStore,
): Harness & { vendorSource: VendorSource } {
  const spec = findVendor(id)
  if (spec === undefined) throw new Error(`unknown vendor ${id}`)
  // No environment fallbacks: the demo must never pick up real credentials from the shell.
  const vendorSource = spec.createSource(settings, {})
  const options = clientOptions(context)
  const client = createTokenClient(vendorSource.source, store ? { ...options, store } : options)
  const { path, init } = request(vendorSource)
  const url = vendorSource.apiUrl(path)
  return {
    id,
    // The command's vendor ids are the emulator's.
    vendor: id satisfies Vendor,
    context,
    client,
    key: vendorSource.source.cacheKey(),
    options,
    vendorSource,
    async call(other) {
      const response = await (other ?? client).fetch(url, init)
      await response.arrayBuffer()
      return response.status
    },
  }
}

function clearIdScenario(context: ScenarioContext): VendorScenario {
  const { emulator } = context
  emulator.clearid.setTokenLifetime(context.lifetime)
  const demo = emulator.demo.clearid
  const harness = makeHarness(
    'clearid',
    context,
    {
      clientId: demo.clientId,
      clientSecret: demo.clientSecret,
      stsUrl: emulator.urls.clearid.stsUrl,
    },
    () => ({ path: `/api/v2/accounts/${demo.accountId}/identities` }),
  )
  return {
    async run(step) {
      switch (step) {
        case 'issue':
          return issueStep(harness)
        case 'reuse':
          return reuseStep(harness)
        case 'renew':
          return backgroundRenewStep(harness, ' (ClearID asks for renewal from half-life on)')
        case 'reject':
          return rejectStep(harness, 401)
        case 'fault':
          return tokenFaultStep(harness)
        case 'extra': {
          const before = counters(harness).byGrant['jwt-bearer'] ?? 0
          const spec = findVendor('clearid')!
          const keyClient = createTokenClient(
            spec.createSource({ keyFile: demo.keyFile }, {}).source,
            harness.options,
          )
          try {
            allOk([await harness.call(keyClient)], 'call with the key-file client')
          } finally {
            await keyClient.close()
          }
          const grants = (counters(harness).byGrant['jwt-bearer'] ?? 0) - before
          check(grants === 1, `expected 1 jwt-bearer token request, saw ${grants}`)
          return 'a client built from the portal key file signed an RS512 assertion: 1 token request (jwt-bearer), the API accepted it'
        }
      }
    },
    close: () => harness.client.close(),
  }
}

function clearScenario(context: ScenarioContext): VendorScenario {
  const { emulator } = context
  const secret = emulator.demo.clear.clientSecret
  emulator.clear.registerSecret({ secret, validity: context.lifetime })
  const settings = { clientSecret: secret, baseUrl: emulator.urls.clear.baseUrl }
  // The encrypted file cache of the CLI, so the "other processes" below share the token.
  const storeOptions = {
    path: join(context.directory, 'clear-tokens.cache'),
    key: randomBytes(32),
    clock: context.clock,
  }
  const request = () => ({ path: '/integration/v1/generatePreSign/sales?fileName=demo.csv' })
  const harness = makeHarness(
    'clear',
    context,
    settings,
    request,
    createFileTokenStore(storeOptions),
  )
  const reissues = () => counters(harness).revokedByReissue as number
  return {
    async run(step) {
      switch (step) {
        case 'issue':
          return issueStep(harness)
        case 'reuse':
          return reuseStep(harness)
        case 'renew': {
          const { token, lifetime } = await currentToken(harness)
          const before = requests(harness)
          await advanceTo(context, token.issuedAt + 0.9 * lifetime)
          allOk(await calls(harness, 5), 'calls before expiry')
          check(requests(harness) === before, 'Clear tokens must not be renewed ahead of expiry')
          await advanceTo(context, token.issuedAt + lifetime + 1_000)
          allOk(await calls(harness, 5), 'calls after expiry')
          check(requests(harness) - before === 1, 'expiry should cause exactly one token request')
          return 'no renewal ahead of expiry (a new Clear token revokes the old one); after expiry, 5 calls caused 1 token request'
        }
        case 'reject': {
          // A rejection within 5 minutes of issue is kept, not renewed (revoke ping-pong guard).
          await advanceTo(context, context.clock.now() + 6 * MINUTE)
          const before = requests(harness)
          const reissuesBefore = reissues()
          const outsider = createUndiciTransport()
          try {
            const response = await outsider.transport({
              url: `${emulator.urls.clear.baseUrl}/integration/v1/authz/token`,
              method: 'GET',
              headers: { 'x-clear-client-secret': secret },
            })
            check(response.status === 200, 'the other program should get a token')
          } finally {
            await outsider.close()
          }
          check(reissues() - reissuesBefore === 1, 'the other program should revoke our token')
          allOk(await calls(harness, 10), 'calls after the revocation')
          check(
            requests(harness) - before === 1,
            `expected 1 renewal, saw ${requests(harness) - before}`,
          )
          return 'another program issued a token with our secret, revoking ours: the calls got 401, 1 renewal, all 10 retried and succeeded'
        }
        case 'fault': {
          const before = requests(harness)
          emulator.faults.set('clear.api', { kind: 'status', status: 503, times: 3 })
          const statuses = await calls(harness, 3)
          emulator.faults.clear('clear.api')
          check(
            statuses.every((status) => status === 503),
            'the API should answer 503 three times',
          )
          allOk(await calls(harness, 3), 'calls after the outage')
          check(requests(harness) === before, 'a 503 from the API must not cause a token request')
          return 'the API answered 503 three times: not a token problem, so no new token (it would cost quota and revoke); the next calls succeeded'
        }
        case 'extra': {
          const before = requests(harness)
          const reissuesBefore = reissues()
          const others = [1, 2, 3].map(() => {
            const spec = findVendor('clear')!
            return createTokenClient(spec.createSource(settings, {}).source, {
              ...harness.options,
              store: createFileTokenStore(storeOptions),
            })
          })
          try {
            for (const other of others)
              allOk(await calls(harness, 5, other), 'calls of another client')
          } finally {
            await Promise.all(others.map((other) => other.close()))
          }
          check(requests(harness) === before, 'clients sharing the cache should request no token')
          check(reissues() === reissuesBefore, 'clients sharing the cache should revoke nothing')
          return '3 more clients (as if 3 more processes) on the same encrypted cache file: 15 calls, 0 token requests, nothing revoked'
        }
      }
    },
    close: () => harness.client.close(),
  }
}

function akamaiScenario(context: ScenarioContext): VendorScenario {
  const { emulator } = context
  const demo = emulator.demo.akamai
  emulator.akamai.setTokenLifetime(demo.customerId, demo.clientId, context.lifetime)
  const harness = makeHarness(
    'akamai',
    context,
    {
      oidcUrl: emulator.urls.akamai.oidcUrl,
      clientId: demo.clientId,
      clientSecret: demo.clientSecret,
      scope: demo.scope,
    },
    () => ({ path: `/${demo.customerId}/webhooks/subscriptions` }),
  )
  return {
    async run(step) {
      switch (step) {
        case 'issue':
          return issueStep(harness)
        case 'reuse':
          return reuseStep(harness)
        case 'renew':
          return backgroundRenewStep(harness, '')
        case 'reject':
          return rejectStep(harness, 403)
        case 'fault':
          return tokenFaultStep(harness)
        case 'extra': {
          const before = requests(harness)
          const expiredBefore = counters(harness).apiRejectedByReason.expired
          emulator.expireTokens('akamai')
          allOk(await calls(harness, 5), 'calls after the token expired')
          const expired = counters(harness).apiRejectedByReason.expired - expiredBefore
          check(expired >= 1, 'the API should have refused the expired token')
          check(requests(harness) - before === 1, 'an expired token should be renewed once')
          return `Akamai answers 403, not 401, for an expired token: ${expired} calls got 403, 1 renewal, all 5 succeeded`
        }
      }
    },
    close: () => harness.client.close(),
  }
}

function apiaxScenario(context: ScenarioContext): VendorScenario {
  const { emulator } = context
  const demo = emulator.demo.apiax
  // Single-use refresh tokens: reusing one would end the session, so rotation must be exact.
  emulator.apiax.configure({ accessTokenLifespan: context.lifetime, revokeRefreshToken: true })
  const harness = makeHarness(
    'apiax',
    context,
    {
      username: demo.username,
      password: demo.password,
      apiKey: demo.apiKey,
      tokenUrl: emulator.urls.apiax.tokenUrl,
      apiUrl: emulator.urls.apiax.apiUrl,
    },
    () => ({
      path: '/api/v3/rules/eval',
      init: {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          products: [{ productId: 'P-100', familyId: 'F-7' }],
          regimes: ['CH'],
        }),
      },
    }),
  )
  const grant = (name: string) => counters(harness).byGrant[name] ?? 0
  return {
    async run(step) {
      switch (step) {
        case 'issue': {
          const result = await issueStep(harness)
          check(grant('password') === 1, 'the first token should come from a password login')
          return result
        }
        case 'reuse':
          return reuseStep(harness)
        case 'renew': {
          const refreshes = grant('refresh_token')
          const result = await backgroundRenewStep(harness, ' with the refresh token')
          check(
            grant('refresh_token') - refreshes === 1,
            'the renewal should use the refresh token',
          )
          check(grant('password') === 1, 'the password should not be sent again')
          return result
        }
        case 'reject':
          return rejectStep(harness, 401)
        case 'fault':
          return tokenFaultStep(harness)
        case 'extra': {
          const current = counters(harness)
          const rotations = grant('refresh_token')
          check(grant('password') === 1, 'only one password login so far')
          check(current.refreshReuseRejected === 0, 'no refresh token may be reused')
          check(current.sessionsKilled === 0, 'no session may have ended')
          emulator.apiax.killSessions()
          emulator.revokeTokens('apiax')
          allOk(await calls(harness, 3), 'calls after the session ended')
          check(grant('password') === 2, 'an ended session should cost exactly one password login')
          return `single-use refresh tokens: ${rotations} refresh requests, none reusing a spent token; when the session ended, 1 password login`
        }
      }
    },
    close: () => harness.client.close(),
  }
}

/** A vendor of the demo, before its scenario is created. */
export interface ScenarioEntry {
  readonly id: VendorId
  readonly title: string
  /** Short label of the vendor-specific last step. */
  readonly extraLabel: string
  create(context: ScenarioContext): VendorScenario
}

/** The four vendors' scenarios, created one at a time (each configures the emulator). */
export const SCENARIOS: readonly ScenarioEntry[] = [
  { id: 'clearid', title: 'ClearID', extraLabel: 'key file', create: clearIdScenario },
  { id: 'clear', title: 'Clear', extraLabel: 'shared cache', create: clearScenario },
  { id: 'akamai', title: 'Akamai', extraLabel: '403 = expired', create: akamaiScenario },
  { id: 'apiax', title: 'Apiax', extraLabel: 'rotation', create: apiaxScenario },
]
