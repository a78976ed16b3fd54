import { describe, expect, it } from 'vitest'
import { ManualClock, MemoryTokenStore, type StoredToken } from '../src/index.ts'

const entry = (
  value: string,
  expiresAt: number | null,
  extra: Partial<StoredToken> = {},
): StoredToken => ({
  value,
  type: 'Bearer',
  expiresAt,
  issuedAt: 0,
  ...extra,
})

describe('MemoryTokenStore', () => {
  it('is bounded and evicts the least recently used entry', () => {
    const clock = new ManualClock(0)
    const store = new MemoryTokenStore({ maxEntries: 2, clock })
    store.set('a', entry('a', 1000))
    store.set('b', entry('b', 1000))
    store.get('a') // a is now the most recent
    store.set('c', entry('c', 1000))
    expect(store.get('b')).toBeUndefined()
    expect(store.get('a')?.value).toBe('a')
    expect(store.get('c')?.value).toBe('c')
    expect(store.size).toBe(2)
  })

  it('drops entries once both token and state are spent', () => {
    const clock = new ManualClock(0)
    const store = new MemoryTokenStore({ clock })
    store.set('token', entry('t', 1000))
    store.set('stateful', entry('s', 1000, { state: { refresh: 'r' }, stateExpiresAt: 5000 }))
    clock.set(2000)
    expect(store.get('token')).toBeUndefined()
    expect(store.get('stateful')?.state).toEqual({ refresh: 'r' })
    clock.set(6000)
    expect(store.get('stateful')).toBeUndefined()
  })

  it('compare-and-set: a slow writer does not overwrite a newer token', () => {
    const store = new MemoryTokenStore()
    expect(store.set('k', entry('one', null), { expectedValue: null })).toBe(true)
    expect(store.set('k', entry('two', null), { expectedValue: 'one' })).toBe(true)
    expect(store.set('k', entry('stale', null), { expectedValue: 'one' })).toBe(false)
    expect(store.set('k', entry('stale', null), { expectedValue: null })).toBe(false)
    expect(store.get('k')?.value).toBe('two')
  })

  it('compare-and-invalidate keeps the state', () => {
    const store = new MemoryTokenStore()
    store.set('k', entry('one', null, { state: { refresh: 'r' } }))
    expect(store.invalidate('k', 'other')).toBe(false)
    expect(store.invalidate('k', 'one')).toBe(true)
    expect(store.invalidate('k', 'one')).toBe(false)
    expect(store.get('k')).toMatchObject({ rejected: true, state: { refresh: 'r' } })
  })

  it('lease: one holder; waiters resolve null on release; waits time out', async () => {
    const clock = new ManualClock(0)
    const store = new MemoryTokenStore({ clock })
    const lease = await store.lease('k', { ttl: 1000, waitTimeout: 5000 })
    expect(lease).not.toBeNull()
    const waiter = store.lease('k', { ttl: 1000, waitTimeout: 5000 })
    const impatient = store.lease('k', { ttl: 1000, waitTimeout: 100 })
    await clock.advance(100)
    await expect(impatient).rejects.toMatchObject({ code: 'TIMEOUT' })
    await lease?.release()
    await expect(waiter).resolves.toBeNull()
    const next = await store.lease('k', { ttl: 1000, waitTimeout: 5000 })
    expect(next).not.toBeNull()
    await next?.release()
    expect(clock.pendingTimers).toBe(0)
  })

  it('lease waits can be aborted', async () => {
    const store = new MemoryTokenStore()
    const lease = await store.lease('k', { ttl: 1000, waitTimeout: 5000 })
    const controller = new AbortController()
    const waiting = store.lease('k', { ttl: 1000, waitTimeout: 5000, signal: controller.signal })
    controller.abort(new Error('stop'))
    await expect(waiting).rejects.toThrow('stop')
    await lease?.release()
  })
})
