/**
 * Benchmark of the Redis store, run by `pnpm --filter @tokenkeeper/store-redis bench` (needs
 * Redis on 127.0.0.1:6379, or TOKENKEEPER_TEST_REDIS_URL):
 *
 * 1. cached `getToken()` with the Redis store against the memory store, in the same run, in
 *    alternating rounds (goal: at most 1.2 times the memory store's time);
 * 2. token requests caused by 8 processes × 100 concurrent callers on a cold credential (goal 1).
 */
import { randomBytes } from 'node:crypto'
import { createTokenClient, type TokenClient } from '@tokenkeeper/auth-core'
import { createRedisTokenStore } from '../src/index.ts'
import { deletePrefix, REDIS_URL, requireRedis } from '../test/support/redis.ts'
import { loopbackSource } from '../test/support/source.ts'
import { startTokenServer } from '../test/support/token-server.ts'
import type { TokenResults } from '../test/support/worker.ts'
import { startWorkers } from '../test/support/workers.ts'

const ITERATIONS = 200_000
const ROUNDS = 7
const PROCESSES = 8
const CALLERS = 100

const admin = await requireRedis()
const keyPrefix = `tokenkeeper-bench:${randomBytes(4).toString('hex')}:`
const server = await startTokenServer({ delay: 100 })

async function timePerCall(client: TokenClient): Promise<number> {
  const started = process.hrtime.bigint()
  for (let index = 0; index < ITERATIONS; index++) await client.getToken()
  return Number(process.hrtime.bigint() - started) / ITERATIONS
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

async function commandsProcessed(): Promise<number> {
  const stats = await admin.info('stats')
  return Number(stats.match(/total_commands_processed:(\d+)/)?.[1] ?? Number.NaN)
}

try {
  // -- 1. cached getToken() -------------------------------------------------------------------
  const memoryClient = createTokenClient(loopbackSource({ url: server.url, key: 'bench:memory' }))
  const store = createRedisTokenStore({ url: REDIS_URL, keyPrefix })
  const redisClient = createTokenClient(loopbackSource({ url: server.url, key: 'bench:redis' }), {
    store,
  })
  await memoryClient.getToken()
  await redisClient.getToken()
  // The local layer serves only once its subscription is confirmed.
  while (store.get('bench:redis') instanceof Promise) {
    await store.get('bench:redis')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  await timePerCall(memoryClient) // warm-up
  await timePerCall(redisClient)
  const memoryTimes: number[] = []
  const redisTimes: number[] = []
  const commandsBefore = await commandsProcessed()
  for (let round = 0; round < ROUNDS; round++) {
    memoryTimes.push(await timePerCall(memoryClient))
    redisTimes.push(await timePerCall(redisClient))
  }
  const commands = (await commandsProcessed()) - commandsBefore - 1
  await memoryClient.close()
  await redisClient.close()
  await store.close()
  const memoryNs = median(memoryTimes)
  const redisNs = median(redisTimes)
  const ratio = redisNs / memoryNs

  // -- 2. 8 processes × 100 callers, cold ------------------------------------------------------
  const before = server.count
  const workers = await startWorkers(PROCESSES, {
    redisUrl: REDIS_URL,
    keyPrefix,
    tokenUrl: server.url,
    cacheKey: `bench:cold:${randomBytes(4).toString('hex')}`,
    reissueRevokesPrevious: true,
  })
  const results = await Promise.all(
    workers.map((worker) => worker.send<TokenResults>({ type: 'getTokens', count: CALLERS })),
  )
  await Promise.all(workers.map((worker) => worker.close()))
  const requests = server.count - before
  const distinct = new Set(results.flatMap((result) => result.values)).size
  const errors = results.flatMap((result) => result.errors)

  const calls = ROUNDS * ITERATIONS
  console.log(`cached getToken(), ${ROUNDS} alternating rounds of ${ITERATIONS} calls (median):`)
  console.log(`  memory store  ${memoryNs.toFixed(0).padStart(6)} ns/call`)
  console.log(`  Redis store   ${redisNs.toFixed(0).padStart(6)} ns/call`)
  console.log(
    `  ratio         ${ratio.toFixed(2).padStart(6)}x   (goal <= 1.20: ${ratio <= 1.2 ? 'met' : 'MISSED'})`,
  )
  console.log(
    `  Redis commands during the ${calls} Redis-store calls: ${commands} (only re-reads of the local copy, one per memoryTtl/2)`,
  )
  console.log(`${PROCESSES} processes x ${CALLERS} concurrent callers, cold credential:`)
  console.log(
    `  token requests ${String(requests).padStart(5)}      (goal 1: ${requests === 1 ? 'met' : 'MISSED'}); distinct tokens served: ${distinct}; errors: ${errors.length ? errors.join(', ') : 'none'}`,
  )
} finally {
  await deletePrefix(admin, keyPrefix)
  admin.disconnect()
  await server.close()
}
