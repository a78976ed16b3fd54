import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../src/cli.ts'
import { useEmulator, vendorArgs } from './support/emulator.ts'
import { captureIo } from './support/io.ts'

const context = useEmulator()

async function run(args: string[], env: Record<string, string> = {}) {
  const { io, stdout, stderr } = captureIo(context.env(env), { cwd: context.directory })
  const code = await runCli(args, io)
  return { code, stdout: stdout.text, stderr: stderr.text }
}

/** A settings error: exit 2, nothing on stdout, exactly one line on stderr. */
function expectOneLine(result: { code: number; stdout: string; stderr: string }): string {
  expect(result.code).toBe(2)
  expect(result.stdout).toBe('')
  const lines = result.stderr.trimEnd().split('\n')
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(/^tokenkeeper: /)
  return lines[0] as string
}

describe('a missing setting is one line naming the flag and the variable, exit code 2', () => {
  const cases: [string, (args: Record<string, string[]>) => string[], string, string][] = [
    ['clearid', () => ['--sts-url', 'http://127.0.0.1:1'], '--client-id', 'CLEARID_CLIENT_ID'],
    [
      'clearid',
      () => [
        '--sts-url',
        'http://127.0.0.1:1',
        '--client-id',
        '3f2504e0-4f89-41d3-9a0c-0305e82c3301:acct',
      ],
      '--client-secret',
      'CLEARID_CLIENT_SECRET',
    ],
    ['clear', () => ['--base-url', 'http://127.0.0.1:1'], '--client-secret', 'CLEAR_CLIENT_SECRET'],
    ['clear', () => ['--client-secret', 'SECRET-x-1'], '--environment', 'CLEAR_ENVIRONMENT'],
    [
      'akamai',
      () => ['--oidc-url', 'http://127.0.0.1:1/c/login', '--client-id', 'c'],
      '--client-secret',
      'AKAMAI_IDENTITY_CLIENT_SECRET',
    ],
    [
      'akamai',
      () => ['--client-id', 'c', '--client-secret', 'SECRET-x-2'],
      '--region',
      'AKAMAI_IDENTITY_REGION',
    ],
    ['apiax', () => [], '--username', 'APIAX_USERNAME'],
    ['apiax', () => ['--username', 'someone'], '--password', 'APIAX_PASSWORD'],
  ]
  for (const [vendor, args, flag, variable] of cases) {
    it(`${vendor}: ${flag} / ${variable}`, async () => {
      const line = expectOneLine(
        await run(['token', vendor, ...args(vendorArgs(context.emulator))]),
      )
      expect(line).toContain(flag)
      expect(line).toContain(variable)
      expect(line).not.toMatch(/\{ \w+ \}/) // no code-style hints left
    })
  }

  it('for headers and request too', async () => {
    expect(expectOneLine(await run(['headers', 'apiax']))).toContain('--username')
    expect(expectOneLine(await run(['request', 'clear', '/x']))).toContain('CLEAR_CLIENT_SECRET')
  })

  it('sends no request to any vendor', () => {
    const counters = context.emulator.counters()
    for (const vendor of ['clearid', 'clear', 'akamai', 'apiax'] as const) {
      expect(counters[vendor].tokenRequests).toBe(0)
    }
  })
})

describe('a wrong setting is one line naming the flag and the variable, exit code 2', () => {
  it('an insecure URL', async () => {
    const line = expectOneLine(
      await run([
        'token',
        'clear',
        '--base-url',
        'http://clear.example.com',
        '--client-secret',
        'SECRET-x-3',
      ]),
    )
    expect(line).toContain('https://')
    expect(line).toContain('--base-url')
    expect(line).toContain('CLEAR_BASE_URL')
  })

  it('an unknown environment name, from the variable', async () => {
    const line = expectOneLine(
      await run(['token', 'clear'], {
        CLEAR_CLIENT_SECRET: 'SECRET-x-4',
        CLEAR_ENVIRONMENT: 'mars',
      }),
    )
    expect(line).toContain('CLEAR_ENVIRONMENT must be one of')
    expect(line).toContain('--environment')
    expect(line).not.toContain('SECRET-x-4')
  })

  it('an unknown ClearID environment', async () => {
    const line = expectOneLine(
      await run([
        'token',
        'clearid',
        '--environment',
        'moon',
        '--client-id',
        'a:b',
        '--client-secret',
        'SECRET-x-5',
      ]),
    )
    expect(line).toContain('--environment')
    expect(line).toContain('CLEARID_ENVIRONMENT')
    expect(line).not.toContain('SECRET-x-5')
  })

  it('an unreadable private key file', async () => {
    const line = expectOneLine(
      await run(['token', 'clearid', '--private-key-file', 'missing.pem', '--client-id', 'a:b']),
    )
    expect(line).toContain('--private-key-file')
    expect(line).toContain('ENOENT')
    expect(line).toContain('CLEARID_PRIVATE_KEY')
  })

  it('a private key file that is not a key, without quoting it', async () => {
    writeFileSync(join(context.directory, 'key.pem'), 'SECRET-this-is-no-key-material')
    const line = expectOneLine(
      await run([
        'token',
        'clearid',
        '--private-key-file',
        'key.pem',
        '--client-id',
        '3f2504e0-4f89-41d3-9a0c-0305e82c3301:acct',
        '--sts-url',
        'http://127.0.0.1:1',
      ]),
    )
    expect(line).toContain('--private-key-file')
    expect(line).not.toContain('SECRET-this-is-no-key-material')
  })

  it('a setting flag of another vendor', async () => {
    const line = expectOneLine(await run(['token', 'clear', '--username', 'someone']))
    expect(line).toContain('--username is not a setting of clear')
  })

  it('a malformed cache key', async () => {
    const line = expectOneLine(
      await run(['token', 'clear', ...vendorArgs(context.emulator).clear], {
        TOKENKEEPER_CACHE_KEY: 'SECRET-short-key',
      }),
    )
    expect(line).toContain('TOKENKEEPER_CACHE_KEY')
    expect(line).not.toContain('SECRET-short-key')
  })
})

describe('the --config file', () => {
  it('refuses an unknown setting name, listing the known ones', async () => {
    const config = join(context.directory, 'c.json')
    writeFileSync(config, JSON.stringify({ clientSecrt: 'SECRET-typo-1' }))
    const line = expectOneLine(await run(['token', 'clear', '--config', config]))
    expect(line).toContain('"clientSecrt" is not a Clear Finance Cloud setting')
    expect(line).toContain('clientSecret')
    expect(line).not.toContain('SECRET-typo-1')
  })

  it('refuses invalid JSON without quoting the file', async () => {
    const config = join(context.directory, 'c.json')
    writeFileSync(config, '{"clientSecret": "SECRET-in-broken-json" oops}')
    const line = expectOneLine(await run(['token', 'clear', '--config', config]))
    expect(line).toContain('is not valid JSON')
    expect(line).not.toContain('SECRET-in-broken-json')
  })

  it('refuses a missing file, naming TOKENKEEPER_CONFIG when it came from there', async () => {
    const line = expectOneLine(await run(['token', 'clear'], { TOKENKEEPER_CONFIG: 'nope.json' }))
    expect(line).toContain('Cannot read the config file')
    expect(line).toContain('TOKENKEEPER_CONFIG')
  })

  it('refuses a section that is not a vendor', async () => {
    const config = join(context.directory, 'c.json')
    writeFileSync(config, JSON.stringify({ clear: {}, stripe: {} }))
    expect(expectOneLine(await run(['token', 'clear', '--config', config]))).toContain(
      '"stripe" is not a vendor',
    )
  })

  it('names the config key of a config-only setting', async () => {
    const config = join(context.directory, 'c.json')
    writeFileSync(config, JSON.stringify({ headers: { 'x-cleartax-auth-token': 'no' } }))
    const line = expectOneLine(
      await run([
        'headers',
        'clear',
        '--config',
        config,
        '--base-url',
        'http://127.0.0.1:1',
        '--client-secret',
        'SECRET-x-6',
      ]),
    )
    expect(line).toContain('"headers" in --config')
  })
})
