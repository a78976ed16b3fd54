import { spawn } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundledBin } from './support/bundle.ts'
import { useEmulator, vendorArgs } from './support/emulator.ts'

const context = useEmulator()
let bin: string

beforeAll(async () => {
  bin = await bundledBin()
})
afterAll(() => rmSync(bin, { force: true }))

/** Runs the bundled `tokenkeeper` in a child process (stdout and stderr are pipes, not a TTY). */
export function spawnCli(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

describe('the token cache across processes', () => {
  it('two processes started together make one token request and print the same token', async () => {
    const cache = join(context.directory, 'shared.cache')
    const args = ['token', 'clear', ...vendorArgs(context.emulator).clear, `--cache=${cache}`]
    const [first, second] = await Promise.all([
      spawnCli(args, context.env()),
      spawnCli(args, context.env()),
    ])
    expect(first.stderr).toBe('')
    expect(second.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(second.code).toBe(0)
    expect(first.stdout).toBe(second.stdout)
    const clear = context.emulator.counters().clear
    expect(clear.tokenRequests).toBe(1)
    // Clear revokes the previous token on every issue: one request means nothing was revoked.
    expect(clear.revokedByReissue).toBe(0)

    // A later process reuses it too, and the API accepts it.
    const later = await spawnCli(
      [
        'request',
        'clear',
        '/integration/v1/generatePreSign/sales?fileName=a.csv',
        ...vendorArgs(context.emulator).clear,
        `--cache=${cache}`,
      ],
      context.env(),
    )
    expect(later.code).toBe(0)
    expect(JSON.parse(later.stdout)).toMatchObject({ fileName: 'a.csv', type: 'sales' })
    expect(context.emulator.counters().clear.tokenRequests).toBe(1)

    // The cache file holds no plaintext token.
    const token = first.stdout.trim()
    expect(token.length).toBeGreaterThan(20)
    const raw = readFileSync(cache, 'utf8')
    expect(raw).not.toContain(token)
    expect(raw).not.toContain(context.emulator.demo.clear.clientSecret)
  })

  it('many processes at once on a cold cache still make one token request (the lease)', async () => {
    const args = ['token', 'apiax', ...vendorArgs(context.emulator).apiax]
    const results = await Promise.all(
      Array.from({ length: 6 }, () => spawnCli(args, context.env())),
    )
    for (const result of results) expect(result.code).toBe(0)
    expect(new Set(results.map((result) => result.stdout)).size).toBe(1)
    expect(context.emulator.counters().apiax.tokenRequests).toBe(1)
  })

  it('a process that finds a token the API rejects renews it once for everyone', async () => {
    const args = [
      'request',
      'akamai',
      `/${context.emulator.demo.akamai.customerId}/webhooks/subscriptions`,
      ...vendorArgs(context.emulator).akamai,
    ]
    expect((await spawnCli(args, context.env())).code).toBe(0)
    context.emulator.revokeTokens('akamai')
    expect((await spawnCli(args, context.env())).code).toBe(0)
    expect((await spawnCli(args, context.env())).code).toBe(0)
    const akamai = context.emulator.counters().akamai
    expect(akamai.tokenRequests).toBe(2)
    expect(akamai.apiRejected).toBe(1)
  })

  it('exits with code 2 and one line for a settings error in a real process', async () => {
    const result = await spawnCli(['token', 'apiax'], context.env())
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe(
      'tokenkeeper: Apiax: username is missing; pass --username or set APIAX_USERNAME\n',
    )
  })
})
