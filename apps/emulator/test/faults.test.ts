import { performance } from 'node:perf_hooks'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  type Emulator,
  EmulatorError,
  type Fault,
  type FaultTarget,
  HUGE_BODY_BYTES,
  startEmulator,
} from '../src/index.ts'
import { basic, postForm } from './helpers.ts'

let emulator: Emulator
const lines: string[] = []

beforeAll(async () => {
  emulator = await startEmulator({ log: (line) => lines.push(line) })
})
afterAll(() => emulator.stop())
afterEach(() => emulator.faults.clear())

/** One request to each vendor endpoint of a target, answered normally when no fault applies. */
const requests: Record<FaultTarget, () => Promise<Response>> = {
  'clearid.token': () =>
    postForm(`${emulator.urls.clearid.stsUrl}/connect/token`, {
      grant_type: 'client_credentials',
      client_id: emulator.demo.clearid.clientId,
      client_secret: emulator.demo.clearid.clientSecret,
    }),
  'clearid.api': () =>
    fetch(
      `${emulator.urls.clearid.apiUrl}/api/v2/accounts/${emulator.demo.clearid.accountId}/identities`,
    ),
  'clear.token': () =>
    fetch(`${emulator.urls.clear.baseUrl}/integration/v1/authz/token`, {
      headers: { 'x-clear-client-secret': emulator.demo.clear.clientSecret },
    }),
  'clear.api': () =>
    fetch(`${emulator.urls.clear.baseUrl}/integration/v1/generatePreSign/sales?fileName=a.csv`),
  'akamai.token': () =>
    postForm(
      `${emulator.urls.akamai.oidcUrl}/token`,
      { grant_type: 'client_credentials', scope: emulator.demo.akamai.scope },
      { authorization: basic(emulator.demo.akamai.clientId, emulator.demo.akamai.clientSecret) },
    ),
  'akamai.api': () =>
    fetch(
      `${emulator.urls.akamai.baseUrl}/${emulator.demo.akamai.customerId}/webhooks/subscriptions`,
    ),
  'apiax.token': () =>
    postForm(emulator.urls.apiax.tokenUrl, {
      grant_type: 'password',
      client_id: 'integration-api',
      username: emulator.demo.apiax.username,
      password: emulator.demo.apiax.password,
    }),
  'apiax.api': () =>
    fetch(`${emulator.urls.apiax.apiUrl}/api/v3/rules/eval`, { method: 'POST', body: '{}' }),
}
const targets = Object.keys(requests) as FaultTarget[]

describe('fault injection', () => {
  it('answers a 5xx with the vendor error body below 502 and an HTML page from 502', async () => {
    for (const target of targets) {
      emulator.faults.set(target, { kind: 'status', status: 500, times: 1 })
      const vendorShaped = await requests[target]()
      expect(vendorShaped.status, target).toBe(500)
      expect(vendorShaped.headers.get('content-type'), target).toMatch(/^application\/json/)
      expect(await vendorShaped.json(), target).toBeTruthy()

      emulator.faults.set(target, { kind: 'status', status: 503, times: 1 })
      const gateway = await requests[target]()
      expect(gateway.status, target).toBe(503)
      expect(gateway.headers.get('content-type'), target).toMatch(/^text\/html/)
      expect(await gateway.text(), target).toMatch(/<html>.*503/s)
      expect(gateway.headers.get('retry-after')).toBeNull()
    }
  })

  it('shapes 5xx bodies like each vendor', async () => {
    emulator.faults.set('clear.token', { kind: 'status', status: 500, times: 1 })
    const clear = (await (await requests['clear.token']()).json()) as {
      errors: Record<string, string>[]
    }
    expect(clear.errors[0]).toMatchObject({
      error_code: 'INTERNAL_SERVER_ERROR',
      error_source: 'CLEAR',
    })
    expect(clear.errors[0]!.error_id).toMatch(/^[0-9a-f-]{36}$/)
    emulator.faults.set('clear.api', { kind: 'status', status: 500, times: 1 })
    expect(await (await requests['clear.api']()).json()).toMatchObject({
      errorCode: 'INTERNAL_ERROR',
    })
    emulator.faults.set('clearid.token', { kind: 'status', status: 500, times: 1 })
    expect(await (await requests['clearid.token']()).json()).toMatchObject({
      error: 'server_error',
    })
    emulator.faults.set('akamai.api', { kind: 'status', status: 500, times: 1 })
    expect(await (await requests['akamai.api']()).json()).toEqual({
      errors: 'Internal Server Error',
    })
    emulator.faults.set('apiax.token', {
      kind: 'status',
      status: 502,
      body: 'vendor',
      retryAfter: 7,
      times: 1,
    })
    const apiax = await requests['apiax.token']()
    expect(apiax.headers.get('retry-after')).toBe('7')
    expect(await apiax.json()).toMatchObject({ error: 'unknown_error' })
    emulator.faults.set('apiax.token', { kind: 'status', status: 500, body: 'html', times: 1 })
    expect((await requests['apiax.token']()).headers.get('content-type')).toMatch(/^text\/html/)
  })

  it('rate-limits with 429 and Retry-After only when given', async () => {
    for (const target of targets) {
      emulator.faults.set(target, { kind: 'rate-limit', retryAfter: 30, times: 1 })
      const limited = await requests[target]()
      expect(limited.status, target).toBe(429)
      expect(limited.headers.get('retry-after'), target).toBe('30')
      await limited.arrayBuffer()
    }
    emulator.faults.set('clear.token', { kind: 'rate-limit', times: 1 })
    const bare = await requests['clear.token']()
    expect(bare.status).toBe(429)
    expect(bare.headers.get('retry-after')).toBeNull()
    expect(await bare.json()).toMatchObject({ errors: [{ error_code: 'RATE_LIMIT_EXCEEDED' }] })
  })

  it('resets the connection without answering', async () => {
    emulator.resetCounters()
    for (const target of targets) {
      emulator.faults.set(target, { kind: 'reset', times: 1 })
      await expect(requests[target](), target).rejects.toThrow()
    }
    const counters = emulator.counters()
    expect(counters.clearid.tokenErrors).toBe(1)
    expect(counters.clearid.faultsInjected).toBe(2)
    expect(counters.apiax.tokenRequests).toBe(1)
    expect(counters.apiax.byGrant).toEqual({ password: 1 })
    // The next request is answered normally.
    expect((await requests['clearid.token']()).status).toBe(200)
  })

  it('delays by the given latency, then answers normally', async () => {
    emulator.faults.set('akamai.token', { kind: 'latency', ms: 150, times: 1 })
    const started = performance.now()
    const response = await requests['akamai.token']()
    const elapsed = performance.now() - started
    expect(response.status).toBe(200)
    // A lower bound only: timers never fire early by more than rounding.
    expect(elapsed).toBeGreaterThanOrEqual(145)
    expect(
      lines.some((line) => line.includes('/login/token 200') && line.includes('fault=latency')),
    ).toBe(true)
  })

  it('serves each malformed 200 body', async () => {
    const kinds = [
      'html',
      'truncated-json',
      'empty',
      'missing-token',
      'expires-in-text',
      'huge',
    ] as const
    for (const target of ['clearid.token', 'clear.token', 'akamai.token', 'apiax.token'] as const) {
      for (const body of kinds) {
        emulator.faults.set(target, { kind: 'body', body, times: 1 })
        const response = await requests[target]()
        expect(response.status, `${target} ${body}`).toBe(200)
        const text = await response.text()
        switch (body) {
          case 'html':
            expect(response.headers.get('content-type')).toMatch(/^text\/html/)
            expect(text).toMatch(/^<!DOCTYPE html>/)
            break
          case 'truncated-json':
            expect(() => JSON.parse(text)).toThrow()
            expect(text.startsWith('{')).toBe(true)
            break
          case 'empty':
            expect(text).toBe('')
            break
          case 'missing-token': {
            const parsed = JSON.parse(text) as Record<string, unknown>
            expect(parsed.access_token).toBeUndefined()
            expect(Object.keys(parsed).length).toBeGreaterThan(0)
            break
          }
          case 'expires-in-text': {
            const parsed = JSON.parse(text) as Record<string, unknown>
            const lifetime = target === 'clear.token' ? parsed.valid_till : parsed.expires_in
            expect(typeof lifetime).toBe('string')
            expect(
              Number.isNaN(Date.parse(lifetime as string)) || Number.isNaN(Number(lifetime)),
            ).toBe(true)
            break
          }
          case 'huge':
            expect(text.length).toBe(HUGE_BODY_BYTES)
            expect(text.length).toBeGreaterThan(5 * 1024 * 1024)
            break
        }
      }
    }
    emulator.faults.set('akamai.api', { kind: 'body', body: 'truncated-json', times: 1 })
    const api = await (await requests['akamai.api']()).text()
    expect(() => JSON.parse(api)).toThrow()
  })

  it('applies a fault the given number of times, then answers normally', async () => {
    emulator.faults.set('clear.token', { kind: 'status', status: 500, times: 2 })
    expect(emulator.faults.list()).toEqual([
      { target: 'clear.token', fault: { kind: 'status', status: 500, times: 2 }, remaining: 2 },
    ])
    expect((await requests['clear.token']()).status).toBe(500)
    expect(emulator.faults.list()[0]!.remaining).toBe(1)
    expect((await requests['clear.token']()).status).toBe(500)
    expect(emulator.faults.list()).toEqual([])
    expect((await requests['clear.token']()).status).toBe(200)
  })

  it('keeps an unlimited fault until cleared, per target or all at once', async () => {
    emulator.faults.set('apiax.token', { kind: 'status', status: 503 })
    emulator.faults.set('apiax.api', { kind: 'status', status: 503 })
    for (let index = 0; index < 3; index += 1) {
      expect((await requests['apiax.token']()).status).toBe(503)
    }
    expect(emulator.faults.list()[0]!.remaining).toBeNull()
    emulator.faults.clear('apiax.token')
    expect((await requests['apiax.token']()).status).toBe(200)
    expect((await requests['apiax.api']()).status).toBe(503)
    emulator.faults.clear()
    expect((await requests['apiax.api']()).status).toBe(401)
  })

  it('faults only the target it names', async () => {
    emulator.faults.set('clearid.api', { kind: 'status', status: 500 })
    expect((await requests['clearid.token']()).status).toBe(200)
    expect((await requests['clearid.api']()).status).toBe(500)
  })

  it('refuses malformed faults and targets', () => {
    const bad: unknown[] = [
      { kind: 'explode' },
      { kind: 'latency' },
      { kind: 'latency', ms: -1 },
      { kind: 'status', status: 200 },
      { kind: 'status', status: 503, body: 'xml' },
      { kind: 'rate-limit', retryAfter: 1.5 },
      { kind: 'body', body: 'binary' },
      { kind: 'reset', times: 0 },
    ]
    for (const fault of bad) {
      expect(
        () => emulator.faults.set('clear.token', fault as Fault),
        JSON.stringify(fault),
      ).toThrow(EmulatorError)
    }
    expect(() => emulator.faults.set('clear.web' as FaultTarget, { kind: 'reset' })).toThrow(
      /target/,
    )
    expect(emulator.faults.list()).toEqual([])
  })

  it('stops promptly while a delayed request is pending', async () => {
    const other = await startEmulator({ seed: false })
    other.faults.set('clear.token', { kind: 'latency', ms: 60_000 })
    const pending = fetch(`${other.urls.clear.baseUrl}/integration/v1/authz/token`).then(
      (response) => response.status,
      () => 'failed',
    )
    // Wait until the request has reached the server (no sleeping: poll the counters).
    while (other.counters().clear.tokenRequests === 0) {
      await new Promise((resolve) => setImmediate(resolve))
    }
    await other.stop()
    expect(await pending).toBe('failed')
  })
})
