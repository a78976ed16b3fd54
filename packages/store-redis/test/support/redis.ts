import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'

/** The Redis the tests use; `.ci/run` starts one on this address when none is running. */
export const REDIS_URL = process.env.TOKENKEEPER_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

const START_HINT =
  'start one with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no` (or run .ci/run), or point TOKENKEEPER_TEST_REDIS_URL at one'

/**
 * An admin connection to the test Redis, for assertions on what the store wrote. Fails with a
 * clear message, never a skip, when Redis is not there.
 */
export async function requireRedis(url = REDIS_URL): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.ping()
  } catch (error) {
    client.disconnect()
    throw new Error(
      `These tests need Redis at ${url}, which is not answering (${error instanceof Error ? error.message : String(error)}); ${START_HINT}`,
    )
  }
  return client
}

/** A key prefix no other test run uses. */
export function uniquePrefix(label: string): string {
  return `tokenkeeper-test:${label}:${process.pid}:${randomBytes(4).toString('hex')}:`
}

/** Deletes every key under `prefix`. */
export async function deletePrefix(admin: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
    cursor = next
    if (keys.length > 0) await admin.del(...keys)
  } while (cursor !== '0')
}

/** A free TCP port on 127.0.0.1 (for a Redis started by a test, or a port nobody listens on). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** A redis-server this test starts and stops itself (for restarts and killed connections). */
export interface OwnRedis {
  readonly port: number
  readonly url: string
  /** Stops the server at once, losing everything (no persistence). */
  stop(): Promise<void>
  /** Starts it again on the same port, empty. */
  start(): Promise<void>
}

/** Starts a private redis-server on a free loopback port; fails clearly if it cannot. */
export async function startOwnRedis(): Promise<OwnRedis> {
  const check = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (check.error || check.status !== 0) {
    throw new Error(
      `This test starts its own redis-server, but none is on the PATH; install Redis 7`,
    )
  }
  const port = await freePort()
  const url = `redis://127.0.0.1:${port}`
  let child: ChildProcess | undefined
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    )
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        const admin = await requireRedis(url)
        admin.disconnect()
        return
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    throw new Error(`redis-server did not start on 127.0.0.1:${port}`)
  }
  const stop = async () => {
    const running = child
    child = undefined
    if (!running || running.exitCode !== null) return
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve())
      running.kill('SIGKILL')
    })
  }
  await start()
  return { port, url, start, stop }
}
