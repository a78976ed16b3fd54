/**
 * Several real processes share one credential through Redis. Each child process runs
 * `support/worker.ts`, bundled with esbuild from the current sources (see `support/bundle.ts`),
 * with its own TokenClient and Redis store; a loopback HTTP token server counts requests.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { keyNames } from '../src/keys.ts'
import {
  deletePrefix,
  type OwnRedis,
  REDIS_URL,
  requireRedis,
  startOwnRedis,
  uniquePrefix,
} from './support/redis.ts'
import { startTokenServer, type TokenServer } from './support/token-server.ts'
import type { TokenResults, WorkerConfig } from './support/worker.ts'
import { startWorkers, type Worker, workerScript } from './support/workers.ts'

let admin: Redis
const prefix = uniquePrefix('processes')
let workers: Worker[] = []
let server: TokenServer | undefined
let ownRedis: OwnRedis | undefined

beforeAll(async () => {
  admin = await requireRedis()
  await workerScript() // bundle once, before the timed tests
}, 60_000)
afterEach(async () => {
  await Promise.all(workers.map((worker) => worker.close()))
  workers = []
  server?.releaseHeld()
  await server?.close()
  server = undefined
  await ownRedis?.stop()
  ownRedis = undefined
})
afterAll(async () => {
  await deletePrefix(admin, prefix)
  admin.disconnect()
})

function config(tokenUrl: string, extra: Partial<WorkerConfig> = {}): WorkerConfig {
  return {
    redisUrl: REDIS_URL,
    keyPrefix: prefix,
    tokenUrl,
    cacheKey: `loopback:${randomBytes(4).toString('hex')}`,
    ...extra,
  }
}

describe('many processes, one credential', () => {
  it('8 processes × 100 concurrent callers on a cold credential → exactly 1 token request', async () => {
    // The answer is delayed so that every process is asking while the first request runs.
    server = await startTokenServer({ delay: 200 })
    workers = await startWorkers(8, config(server.url, { reissueRevokesPrevious: true }))

    const results = await Promise.all(
      workers.map((worker) => worker.send<TokenResults>({ type: 'getTokens', count: 100 })),
    )

    expect(server.count).toBe(1)
    for (const result of results) expect(result).toEqual({ values: ['token-1'], errors: [] })
  }, 60_000)

  it('a lease holder killed mid-request: another process issues after the lease expires, not before', async () => {
    const settings = config('', { leaseTtl: 1_500, leaseWaitTimeout: 30_000 })
    const leaseName = keyNames(prefix, settings.cacheKey).lease
    // The first request is never answered; each request notes who held the lease at that moment.
    server = await startTokenServer({
      delay: (index) => (index === 0 ? 'hold' : 0),
      onRequest: () => admin.get(leaseName),
    })
    workers = await startWorkers(4, { ...settings, tokenUrl: server.url })
    const [holder, ...others] = workers as [Worker, ...Worker[]]

    const holderResult = holder.send<TokenResults>({ type: 'getTokens', count: 10 })
    holderResult.catch(() => {}) // it dies
    await server.waitForRequests(1)
    const settled: boolean[] = others.map(() => false)
    const results = others.map((worker, index) =>
      worker.send<TokenResults>({ type: 'getTokens', count: 50 }).finally(() => {
        settled[index] = true
      }),
    )
    // While the holder lives it renews its lease: nobody else issues, however long it takes.
    await new Promise((resolve) => setTimeout(resolve, 3 * 1_500))
    expect(server.count).toBe(1)
    expect(settled).toEqual(others.map(() => false))
    expect(await admin.get(leaseName)).toBe(server.requests[0]?.note)

    await holder.kill()
    const after = await Promise.all(results)

    expect(server.count).toBe(2)
    const [first, second] = server.requests
    expect(first?.note).toEqual(expect.any(String))
    expect(second?.note).toEqual(expect.any(String))
    // The second request ran under a new lease, which SET NX grants only once the dead
    // holder's lease had expired.
    expect(second?.note).not.toBe(first?.note)
    for (const result of after) expect(result).toEqual({ values: ['token-2'], errors: [] })
  }, 60_000)

  it('a token invalidated in one process is not served by another', async () => {
    server = await startTokenServer()
    workers = await startWorkers(3, config(server.url))
    const [invalidator, ...readers] = workers as [Worker, ...Worker[]]
    for (const worker of workers) {
      expect(await worker.send({ type: 'getTokens', count: 10 })).toEqual({
        values: ['token-1'],
        errors: [],
      })
    }
    for (const reader of readers) {
      await reader.send({ type: 'untilLocal' })
      await reader.send({ type: 'expectRemoteChange' })
    }

    expect(await invalidator.send({ type: 'invalidate', value: 'token-1' })).toBe(true)
    for (const reader of readers) await reader.send({ type: 'waitRemoteChange' })

    const after = await Promise.all(
      workers.map((worker) => worker.send<TokenResults>({ type: 'getTokens', count: 20 })),
    )
    for (const result of after) expect(result).toEqual({ values: ['token-2'], errors: [] })
    expect(server.count).toBe(2)
  }, 60_000)

  it('Redis restarted mid-run (data lost): processes recover with one new token, no storm', async () => {
    ownRedis = await startOwnRedis()
    server = await startTokenServer()
    workers = await startWorkers(
      4,
      config(server.url, { redisUrl: ownRedis.url, commandTimeout: 300 }),
    )
    type Runs = Array<{ outcome: string; count: number }>
    const status = () =>
      Promise.all(workers.map((worker) => worker.send<Runs>({ type: 'loopStatus' })))
    const until = async <T>(
      read: () => Promise<T>,
      predicate: (value: T) => boolean,
      what: string,
    ) => {
      for (let attempt = 0; attempt < 300; attempt++) {
        const value = await read()
        if (predicate(value)) return value
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      throw new Error(`timed out waiting until ${what}: ${JSON.stringify(await read())}`)
    }
    const last = (runs: Runs) => runs[runs.length - 1]?.outcome
    const calls = (runs: Runs) => runs.reduce((sum, run) => sum + run.count, 0)

    for (const worker of workers) await worker.send({ type: 'startLoop', interval: 5 })
    await until(status, (all) => all.every((runs) => last(runs) === 'token-1'), 'all have token-1')

    await ownRedis.stop()
    // Every process has noticed (its subscription dropped) and kept calling for a while.
    await until(
      () =>
        Promise.all(workers.map((worker) => worker.send<number>({ type: 'subscriptionLosses' }))),
      (losses) => losses.every((count) => count > 0),
      'all noticed the outage',
    )
    const noticed = (await status()).map(calls)
    await until(
      status,
      (all) => all.every((runs, index) => calls(runs) >= (noticed[index] ?? 0) + 20),
      'all kept calling during the outage',
    )
    const requestsDuringOutage = server.count
    await ownRedis.start()
    await until(status, (all) => all.every((runs) => last(runs) === 'token-2'), 'all have token-2')
    const runs = await Promise.all(workers.map((worker) => worker.send<Runs>({ type: 'stopLoop' })))

    // No token was requested while Redis was down (no silent per-process issuing), and the
    // empty Redis after the restart cost exactly one new token for all four processes.
    expect(requestsDuringOutage).toBe(1)
    expect(server.count).toBe(2)
    for (const worker of runs) {
      const outcomes = new Set(worker.map((run) => run.outcome))
      // During the outage a call fails with STORE_UNAVAILABLE (or, should the core serve its
      // still-valid token meanwhile, returns token-1); nothing else ever shows up.
      expect(outcomes.has('token-1')).toBe(true)
      for (const outcome of outcomes) {
        expect(['token-1', 'token-2', 'error:STORE_UNAVAILABLE']).toContain(outcome)
      }
    }
  }, 60_000)
})
