import { type ChildProcess, fork } from 'node:child_process'
import { join } from 'node:path'
import { bundle, packageDir } from './bundle.ts'
import type { WorkerConfig, WorkerRequest } from './worker.ts'

type Request = WorkerRequest extends infer R
  ? R extends { id: number }
    ? Omit<R, 'id'>
    : never
  : never

/** A child process running worker.ts. */
export interface Worker {
  readonly process: ChildProcess
  send<T = unknown>(request: Request): Promise<T>
  /** Kills it with SIGKILL (no cleanup, no lease release) and waits for it to be gone. */
  kill(): Promise<void>
  close(): Promise<void>
}

let bundled: Promise<string> | undefined

/** Bundles the worker once per test process. */
export function workerScript(): Promise<string> {
  bundled ??= bundle(join(packageDir(), 'test', 'support', 'worker.ts'), 'worker')
  return bundled
}

/** Forks `count` workers with the same config and waits until each is ready. */
export async function startWorkers(count: number, config: WorkerConfig): Promise<Worker[]> {
  const script = await workerScript()
  return Promise.all(Array.from({ length: count }, () => startWorker(script, config)))
}

async function startWorker(script: string, config: WorkerConfig): Promise<Worker> {
  const child = fork(script, [JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [],
  })
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>()
  let nextId = 1
  let exited = false
  const ready = new Promise<void>((resolve, reject) => {
    pending.set(0, { resolve: () => resolve(), reject })
  })
  child.on('message', (message: { id: number; result?: unknown; error?: string }) => {
    const waiter = pending.get(message.id)
    if (!waiter) return
    pending.delete(message.id)
    if (message.error !== undefined) waiter.reject(new Error(`worker failed: ${message.error}`))
    else waiter.resolve(message.result)
  })
  const gone = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true
      for (const waiter of pending.values()) waiter.reject(new Error('worker exited'))
      pending.clear()
      resolve()
    })
  })
  await ready
  return {
    process: child,
    send: <T>(request: Request) =>
      new Promise<T>((resolve, reject) => {
        if (exited) return reject(new Error('worker exited'))
        const id = nextId++
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
        child.send({ ...request, id })
      }),
    kill: async () => {
      if (!exited) child.kill('SIGKILL')
      await gone
    },
    close: async () => {
      if (exited) return
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      child.send({ id: nextId++, type: 'close' })
      await gone
      clearTimeout(timer)
    },
  }
}
