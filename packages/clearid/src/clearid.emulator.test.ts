import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { ManualClock } from '@tokenkeeper/auth-core'
import { captureTokenEvents } from '@tokenkeeper/auth-core/testing'
import { type Emulator, startEmulator } from '@tokenkeeper/emulator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listIdentities } from './clearid-api.ts'
import { loadClearIdKeyFile } from './clearid-key-file.ts'
import { createClearId } from './clearid-provider.ts'
import { isolateEnvironment, nextEvent } from './test-helpers.ts'

isolateEnvironment()

// End to end over loopback HTTP against the emulated ClearID STS and identity service. The
// emulator and the client share one ManualClock, so hours pass without sleeping.
const clock = new ManualClock()
let emulator: Emulator

beforeAll(async () => {
  emulator = await startEmulator({ now: () => clock.now() })
})
afterAll(async () => {
  await emulator?.stop()
})

/** Lets loopback I/O started by a timer finish before time moves on. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 20; turn++) await nextTurn()
}

function demoSettings() {
  const { clientId, clientSecret, accountId } = emulator.demo.clearid
  return { clientId, clientSecret, accountId, stsUrl: emulator.urls.clearid.stsUrl }
}

describe('against the emulator', () => {
  it('client secret: token, identities, renewal at half-life', async () => {
    const settings = demoSettings()
    const clearId = createClearId({ ...settings, clock, random: () => 0 })
    const before = emulator.counters().clearid

    const { identities } = await listIdentities(clearId, settings)
    expect(identities.length).toBeGreaterThan(0)
    const first = await clearId.getToken()
    expect(first.expiresAt).toBe(first.issuedAt + 3600_000)

    // Half-life: the renewal runs in the background over real loopback HTTP.
    const renewed = nextEvent('renewed')
    await clock.advance(30 * 60_000 + 1_000, { settle })
    expect(await renewed).toMatchObject({ reason: 'renewal' })
    const second = await clearId.getToken()
    expect(second.value).not.toBe(first.value)
    const after = emulator.counters().clearid
    expect(after.tokensIssued - before.tokensIssued).toBe(2)
    expect(after.byGrant.client_credentials).toBeGreaterThanOrEqual(2)
    await clearId.close()
  })

  it('JWT assertion from the generated key file, read from disk', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'clearid-emulator-'))
    try {
      const path = join(directory, 'key-demo.json')
      writeFileSync(path, JSON.stringify(emulator.demo.clearid.keyFile))
      const clearId = createClearId({ ...loadClearIdKeyFile(path), clock })
      const before = emulator.counters().clearid.byGrant['jwt-bearer'] ?? 0
      const { identities } = await listIdentities(clearId, { keyFile: path })
      expect(identities.length).toBeGreaterThan(0)
      expect(emulator.counters().clearid.byGrant['jwt-bearer']).toBe(before + 1)
      await clearId.close()
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })

  it("the emulator's demo credentials spread into createClearId (secret wins over the key)", async () => {
    const clearId = createClearId({
      ...emulator.demo.clearid,
      stsUrl: emulator.urls.clearid.stsUrl,
      clock,
    })
    const before = emulator.counters().clearid.byGrant.client_credentials ?? 0
    await clearId.getToken()
    expect(emulator.counters().clearid.byGrant.client_credentials).toBe(before + 1)
    await clearId.close()
  })

  it('recovers from a revoked token: one renewal, then the call succeeds', async () => {
    const settings = demoSettings()
    const clearId = createClearId({ ...settings, clock })
    const url = `${emulator.urls.clearid.apiUrl}/api/v2/accounts/${settings.accountId}/identities`
    expect((await clearId.fetch(url)).status).toBe(200)
    emulator.revokeTokens('clearid')
    const capture = captureTokenEvents()
    const response = await clearId.fetch(url)
    capture.stop()
    expect(response.status).toBe(200)
    const reasons = capture.events.map(({ event }) => event.reason)
    expect(reasons).toContain('rejected')
    await clearId.close()
  })

  it('rides out a 503 from the STS and maps a wrong secret to invalid_client', async () => {
    const settings = demoSettings()
    emulator.faults.set('clearid.token', { kind: 'status', status: 503, times: 1 })
    const clearId = createClearId({ ...settings, clock, backoff: { initial: 1, max: 1 } })
    const failure = await clearId.getToken().catch((error: unknown) => error)
    expect(failure).toMatchObject({ code: 'TOKEN_ENDPOINT_UNAVAILABLE', retryable: true })
    await clock.advance(10)
    expect((await clearId.getToken()).value.split('.')).toHaveLength(3)
    await clearId.close()

    const wrong = createClearId({ ...settings, clientSecret: 'wrong+secret/=', clock })
    const error = await wrong.getToken().catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_REJECTED', oauthError: 'invalid_client' })
    expect((error as Error).message).toContain('Check clientId and clientSecret')
    await wrong.close()
  })

  it('a regenerated key stops the old one at once (invalid_client or invalid_grant)', async () => {
    const created = await emulator.clearid.createKeyFile({ name: 'rotation' })
    const clearId = createClearId({
      clientId: created.clientId,
      privateKey: created.privateKeyPem,
      stsUrl: emulator.urls.clearid.stsUrl,
      clock,
    })
    await clearId.getToken()
    await clearId.close()
    await emulator.clearid.createKeyFile({ clientId: created.clientId, name: 'rotation' })
    // A process that still holds the old key (a new one, so no cached token hides the failure).
    const stale = createClearId({
      clientId: created.clientId,
      privateKey: created.privateKeyPem,
      stsUrl: emulator.urls.clearid.stsUrl,
      clock,
    })
    const error = await stale.getToken().catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'TOKEN_ENDPOINT_REJECTED', retryable: false })
    expect((error as Error).message).toMatch(/regenerat/)
    await stale.close()
  })
})
