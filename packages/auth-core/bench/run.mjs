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

  // Requests per CPU-second of this process (client and server both run here): unlike wall-clock
  // throughput, it does not move when other processes take the machine's cores.
  async function throughput(dispatcher, headers, durationMs = 1500, concurrency = 32) {
    let count = 0
    const deadline = performance.now() + durationMs
    const cpuBefore = process.cpuUsage()
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          const response = await request(`${origin}/`, { dispatcher, headers })
          await response.body.dump()
          count++
        }
      }),
    )
    const cpu = process.cpuUsage(cpuBefore)
    return count / ((cpu.user + cpu.system) / 1e6)
  }
  // The same header set by a pass-through interceptor: what undici's compose() itself costs
  // (handler wrapping, headers parsed to an object and back), which any interceptor pays.
  const passThrough = agent.compose(
    (dispatch) =>
      function passThroughInterceptor(opts, handler) {
        return dispatch(opts, handler)
      },
  )
  const contenders = [
    ['static', staticDispatcher, staticHeaders],
    ['passThrough', passThrough, staticHeaders],
    ['intercepted', intercepted, undefined],
  ]
  for (const [, dispatcher, headers] of contenders) await throughput(dispatcher, headers, 400)
  // Rounds alternate the order (forward, backward) so drift in machine load cancels out.
  const rates = { static: [], passThrough: [], intercepted: [] }
  for (let round = 0; round < 10; round++) {
    const order = round % 2 === 0 ? contenders : [...contenders].reverse()
    for (const [name, dispatcher, headers] of order) {
      rates[name].push(await throughput(dispatcher, headers, 500))
    }
  }
  // Median over rounds of the per-round ratios: robust to a round that a GC or the VM spoiled.
  const ratioOf = (numerator, denominator) =>
    median(rates[numerator].map((rate, round) => rate / rates[denominator][round]))
  const ratio = ratioOf('intercepted', 'static')
  const composeRatio = ratioOf('passThrough', 'static')
  const ownRatio = ratioOf('intercepted', 'passThrough')
  report(
    'loopback requests per CPU-second, interceptor() vs static header',
    ratio.toFixed(3),
    '>= 0.97',
    ratio >= 0.97,
  )
  console.log(
    `     (undici's compose() with a pass-through interceptor alone: ${composeRatio.toFixed(3)})`,
  )
  report(
    'the same against a static header set through compose()',
    ownRatio.toFixed(3),
    '>= 0.97',
    ownRatio >= 0.97,
  )
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
