// Benchmarks of @tokenkeeper/auth-core (run `pnpm bench` after `pnpm build`). Every figure is a
// ratio against a baseline measured in the same run, so machines and load cancel out.
import { createServer } from 'node:http'
import { Agent, request } from 'undici'
import { createTokenClient } from '../dist/index.js'

const results = []
const report = (name, value, goal, ok) => {
  results.push({ name, value, goal, ok })
  console.log(`${ok ? 'ok  ' : 'MISS'} ${name.padEnd(58)} ${value.padStart(12)}   goal ${goal}`)
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** A source that answers instantly from memory (no HTTP): isolates the client's own cost. */
function memorySource(counter = { requests: 0 }) {
  return {
    vendor: 'bench',
    cacheKey: () => 'bench:1',
    async requestToken() {
      counter.requests++
      await new Promise((resolve) => setTimeout(resolve, 5))
      return { value: `token-${counter.requests}`, expiresIn: 3600 }
    },
    authHeaders: (token) => ({ authorization: `Bearer ${token.value}` }),
  }
}

async function timeLoop(fn, iterations) {
  const start = process.hrtime.bigint()
  for (let index = 0; index < iterations; index++) await fn()
  return Number(process.hrtime.bigint() - start) / iterations
}

// 1. Cached getToken() against `async () => value`.
{
  const client = createTokenClient(memorySource())
  await client.getToken()
  const value = { value: 'x' }
  const baseline = async () => value
  const getToken = () => client.getToken()
  const iterations = 200_000
  const ratios = []
  let baseNs = 0
  let tokenNs = 0
  for (let round = 0; round < 9; round++) {
    baseNs = await timeLoop(baseline, iterations)
    tokenNs = await timeLoop(getToken, iterations)
    ratios.push(tokenNs / baseNs)
  }
  const ratio = median(ratios)
  report('cached getToken() vs async () => value', `${ratio.toFixed(2)}x`, '<= 1.5x', ratio <= 1.5)
  console.log(`     (${tokenNs.toFixed(0)} ns vs ${baseNs.toFixed(0)} ns per call, last round)`)
  await client.close()
}

// 2. Loopback requests/s through interceptor() against a static header.
{
  const server = createServer((_, response) => response.end('ok'))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${server.address().port}`
  const client = createTokenClient(memorySource(), { origins: [origin] })
  await client.getToken()
  const agent = new Agent({ connections: 16 })
  const staticDispatcher = agent
  const intercepted = agent.compose(client.interceptor())
  const staticHeaders = { authorization: 'Bearer static-token' }

  async function throughput(dispatcher, headers, durationMs = 1500, concurrency = 32) {
    let count = 0
    const deadline = performance.now() + durationMs
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          const response = await request(`${origin}/`, { dispatcher, headers })
          await response.body.dump()
          count++
        }
      }),
    )
    return count / (durationMs / 1000)
  }
  await throughput(staticDispatcher, staticHeaders, 500)
  await throughput(intercepted, {}, 500)
  // ABBA rounds (static, intercepted, intercepted, static) cancel drift in machine load.
  const ratios = []
  let staticRate = 0
  let interceptedRate = 0
  for (let round = 0; round < 9; round++) {
    const first = await throughput(staticDispatcher, staticHeaders, 600)
    const second = await throughput(intercepted, {}, 600)
    const third = await throughput(intercepted, {}, 600)
    const fourth = await throughput(staticDispatcher, staticHeaders, 600)
    staticRate = (first + fourth) / 2
    interceptedRate = (second + third) / 2
    ratios.push(interceptedRate / staticRate)
  }
  const ratio = median(ratios)
  report(
    'loopback req/s through interceptor() vs static header',
    ratio.toFixed(3),
    '>= 0.97',
    ratio >= 0.97,
  )
  console.log(`     (${interceptedRate.toFixed(0)} vs ${staticRate.toFixed(0)} req/s, last round)`)
  await client.close()
  await agent.close()
  await new Promise((resolve) => server.close(resolve))
}

// 3. Token requests for 1000 cold callers.
{
  const counter = { requests: 0 }
  const client = createTokenClient(memorySource(counter))
  await Promise.all(Array.from({ length: 1000 }, () => client.getToken()))
  report(
    'token requests for 1000 concurrent cold callers',
    String(counter.requests),
    '1',
    counter.requests === 1,
  )
  await client.close()
}

const missed = results.filter((result) => !result.ok)
console.log(
  missed.length === 0
    ? '\nAll benchmark goals met.'
    : `\n${missed.length} goal(s) missed (figures above).`,
)
