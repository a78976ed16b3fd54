/**
 * A "process" of the multi-process tests and the benchmark: one TokenClient on the Redis store,
 * driven by its parent over IPC. Bundled with esbuild (see bundle.ts) so it runs on plain Node
 * against the current TypeScript sources.
 */
import { subscribe } from 'node:diagnostics_channel'
import { createTokenClient, TokenKeeperError } from '@tokenkeeper/auth-core'
import {
  createRedisTokenStore,
  type RedisStoreEvent,
  STORE_REDIS_CHANNEL,
} from '../../src/index.ts'
import { loopbackSource } from './source.ts'

/** What the parent passes as the first argument (JSON). */
export interface WorkerConfig {
  redisUrl: string
  keyPrefix: string
  tokenUrl: string
  cacheKey: string
  leaseTtl?: number
  leaseWaitTimeout?: number
  commandTimeout?: number
  reissueRevokesPrevious?: boolean
}

/** Requests from the parent. */
export type WorkerRequest =
  | { id: number; type: 'getTokens'; count: number }
  | { id: number; type: 'invalidate'; value: string }
  | { id: number; type: 'untilLocal' }
  | { id: number; type: 'subscriptionLosses' }
  | { id: number; type: 'expectRemoteChange' }
  | { id: number; type: 'waitRemoteChange' }
  | { id: number; type: 'startLoop'; interval: number }
  | { id: number; type: 'loopStatus' }
  | { id: number; type: 'stopLoop' }
  | { id: number; type: 'close' }

/** Outcome of a batch of `getToken()` calls: distinct values and error codes. */
export interface TokenResults {
  values: string[]
  errors: string[]
}

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig
const store = createRedisTokenStore({
  url: config.redisUrl,
  keyPrefix: config.keyPrefix,
  ...(config.commandTimeout ? { commandTimeout: config.commandTimeout } : {}),
})
const client = createTokenClient(
  loopbackSource({
    url: config.tokenUrl,
    key: config.cacheKey,
    ...(config.reissueRevokesPrevious ? { reissueRevokesPrevious: true } : {}),
  }),
  {
    store,
    lease: {
      ...(config.leaseTtl ? { ttl: config.leaseTtl } : {}),
      ...(config.leaseWaitTimeout ? { waitTimeout: config.leaseWaitTimeout } : {}),
    },
    backoff: { initial: 50, max: 200 },
  },
)

let remoteChanges = 0
let remoteChangeTarget = Number.POSITIVE_INFINITY
let remoteChangeWaiter: (() => void) | undefined
let subscriptionLosses = 0
subscribe(STORE_REDIS_CHANNEL, (message) => {
  const { type } = message as RedisStoreEvent
  if (type === 'subscription-down') subscriptionLosses++
  if (type !== 'remote-change') return
  remoteChanges++
  if (remoteChanges >= remoteChangeTarget) remoteChangeWaiter?.()
})

/** Every outcome of the loop, in order, compressed into runs. */
interface LoopRun {
  outcome: string
  count: number
}
let loop: { timer: NodeJS.Timeout; runs: LoopRun[] } | undefined

function record(runs: LoopRun[], outcome: string): void {
  const last = runs[runs.length - 1]
  if (last?.outcome === outcome) last.count++
  else runs.push({ outcome, count: 1 })
}

function codeOf(error: unknown): string {
  return TokenKeeperError.is(error) ? error.code : error instanceof Error ? error.name : 'unknown'
}

async function getTokens(count: number): Promise<TokenResults> {
  const results = await Promise.allSettled(Array.from({ length: count }, () => client.getToken()))
  const values = new Set<string>()
  const errors = new Set<string>()
  for (const result of results) {
    if (result.status === 'fulfilled') values.add(result.value.value)
    else errors.add(codeOf(result.reason))
  }
  return { values: [...values], errors: [...errors] }
}

async function handle(request: WorkerRequest): Promise<unknown> {
  switch (request.type) {
    case 'getTokens':
      return getTokens(request.count)
    case 'invalidate': {
      const wasCurrent = client.invalidate(request.value)
      // The store's script runs before this read (one connection, in order).
      await store.get(config.cacheKey)
      return wasCurrent
    }
    case 'untilLocal':
      // Until the store answers from its local layer (its subscription is confirmed).
      while (store.get(config.cacheKey) instanceof Promise) {
        await store.get(config.cacheKey)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      return true
    case 'subscriptionLosses':
      return subscriptionLosses
    case 'expectRemoteChange': {
      remoteChangeTarget = remoteChanges + 1
      return true
    }
    case 'waitRemoteChange':
      if (remoteChanges >= remoteChangeTarget) return true
      await new Promise<void>((resolve) => {
        remoteChangeWaiter = resolve
      })
      return true
    case 'startLoop': {
      const runs: LoopRun[] = []
      let busy = false
      const timer = setInterval(() => {
        if (busy) return
        busy = true
        client
          .getToken()
          .then(
            (token) => record(runs, token.value),
            (error: unknown) => record(runs, `error:${codeOf(error)}`),
          )
          .finally(() => {
            busy = false
          })
      }, request.interval)
      loop = { timer, runs }
      return true
    }
    case 'loopStatus':
      return loop?.runs ?? []
    case 'stopLoop': {
      if (loop) clearInterval(loop.timer)
      return loop?.runs ?? []
    }
    case 'close':
      if (loop) clearInterval(loop.timer)
      await client.close()
      await store.close()
      setImmediate(() => process.exit(0))
      return true
  }
}

process.on('message', (request: WorkerRequest) => {
  handle(request).then(
    (result) => process.send?.({ id: request.id, result }),
    (error: unknown) => process.send?.({ id: request.id, error: codeOf(error) }),
  )
})
process.send?.({ id: 0, result: 'ready' })
