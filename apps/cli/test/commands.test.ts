import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../src/cli.ts'
import { demoSecrets, useEmulator, vendorArgs } from './support/emulator.ts'
import { captureIo } from './support/io.ts'

const context = useEmulator()

async function run(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}) {
  const { io, stdout, stderr } = captureIo(context.env(options.env), {
    cwd: context.directory,
    ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
  })
  const code = await runCli(args, io)
  return { code, stdout: stdout.text, stderr: stderr.text }
}

function expectNoSecrets(...texts: string[]): void {
  for (const secret of demoSecrets(context.emulator)) {
    for (const text of texts) expect(text).not.toContain(secret)
  }
}

describe('tokenkeeper (no command), --help, --version', () => {
  it('prints the overview and exits 0', async () => {
    const result = await run([])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('Usage: tokenkeeper <command>')
    for (const command of ['token', 'headers', 'request', 'vendors', 'demo']) {
      expect(result.stdout).toContain(command)
    }
  })

  it('prints the version', async () => {
    const result = await run(['--version'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+/)
  })

  it('gives --help for every command, with the vendor settings when a vendor is named', async () => {
    for (const command of ['token', 'headers', 'request', 'vendors', 'demo']) {
      const result = await run([command, '--help'])
      expect(result.code).toBe(0)
      expect(result.stdout).toContain(`Usage: tokenkeeper ${command}`)
    }
    const withVendor = await run(['token', 'clear', '--help'])
    expect(withVendor.stdout).toContain('--client-secret <secret>')
    expect(withVendor.stdout).toContain('CLEAR_CLIENT_SECRET')
  })

  it('refuses an unknown command, vendor or flag with exit code 2', async () => {
    const command = await run(['tokens', 'clear'])
    expect(command.code).toBe(2)
    expect(command.stderr).toContain('unknown command "tokens"')
    const vendor = await run(['token', 'stripe'])
    expect(vendor.code).toBe(2)
    expect(vendor.stderr).toContain('unknown vendor "stripe"; use clearid, clear, akamai, apiax')
    const flag = await run(['token', 'clear', '--frobnicate'])
    expect(flag.code).toBe(2)
    expect(flag.stderr).toContain("Unknown option '--frobnicate'")
    const missing = await run(['request', 'clear'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('missing argument: tokenkeeper request <vendor> <url>')
  })
})

describe('tokenkeeper token', () => {
  it('prints the access token, and nothing else', async () => {
    const result = await run(['token', 'clear', ...vendorArgs(context.emulator).clear])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^[A-Za-z0-9_-]{20,}\n$/)
    expect(result.stderr).toBe('')
    expect(context.emulator.counters().clear.tokensIssued).toBe(1)
  })

  it('--json prints the metadata with the expiry, never the secret settings', async () => {
    const args = ['token', 'apiax', ...vendorArgs(context.emulator).apiax, '--json']
    const first = await run(args)
    expect(first.code).toBe(0)
    const json = JSON.parse(first.stdout)
    expect(json).toMatchObject({
      vendor: 'apiax',
      tokenType: 'Bearer',
      cached: false,
      accessToken: expect.any(String),
      tokenId: expect.stringMatching(/^[0-9a-f]{12}$/),
    })
    expect(Date.parse(json.expiresAt)).toBeGreaterThan(Date.now())
    expect(json.expiresIn).toBeGreaterThan(1700)
    expect(json.expiresIn).toBeLessThanOrEqual(1800)
    expectNoSecrets(first.stdout, first.stderr)
    expect(first.stdout).not.toContain(context.emulator.demo.apiax.apiKey)
    // The second run finds the token in the cache (no request).
    const second = JSON.parse((await run(args)).stdout)
    expect(second).toMatchObject({ cached: true, tokenId: json.tokenId })
    expect(context.emulator.counters().apiax.tokenRequests).toBe(1)
  })

  it('accepts the package name as the vendor', async () => {
    const result = await run([
      'token',
      '@tokenkeeper/akamai-identity',
      ...vendorArgs(context.emulator).akamai,
    ])
    expect(result.code).toBe(0)
    expect(context.emulator.counters().akamai.tokensIssued).toBe(1)
  })

  it('reads the settings from the vendor packages’ environment variables', async () => {
    const { demo, urls } = context.emulator
    const result = await run(['token', 'akamai', '--json'], {
      env: {
        AKAMAI_IDENTITY_OIDC_URL: urls.akamai.oidcUrl,
        AKAMAI_IDENTITY_CLIENT_ID: demo.akamai.clientId,
        AKAMAI_IDENTITY_CLIENT_SECRET: demo.akamai.clientSecret,
      },
    })
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ vendor: 'akamai', scope: ['*:webhooks/**'] })
  })

  it('reads the settings from a --config file, per vendor or flat, and a ClearID key file', async () => {
    const { demo, urls } = context.emulator
    const config = join(context.directory, 'tokenkeeper.json')
    writeFileSync(
      config,
      JSON.stringify({
        clear: { baseUrl: urls.clear.baseUrl, clientSecret: demo.clear.clientSecret },
      }),
    )
    const perVendor = await run(['token', 'clear', '--config', config])
    expect(perVendor.code).toBe(0)

    writeFileSync(join(context.directory, 'key.json'), JSON.stringify(demo.clearid.keyFile))
    const flat = join(context.directory, 'clearid.json')
    writeFileSync(flat, JSON.stringify({ keyFile: 'key.json' })) // relative to the config file
    const keyFile = await run(['token', 'clearid', '--json'], { env: { TOKENKEEPER_CONFIG: flat } })
    expect(keyFile.stderr).toBe('')
    expect(keyFile.code).toBe(0)
    expect(context.emulator.counters().clearid.byGrant['jwt-bearer']).toBe(1)

    const flag = await run(['token', 'clearid', '--key-file', 'key.json', '--no-cache'])
    expect(flag.code).toBe(0)
  })

  it('lets flags win over the config file, and the config file over the environment', async () => {
    const { demo, urls } = context.emulator
    const config = join(context.directory, 'config.json')
    writeFileSync(
      config,
      JSON.stringify({ baseUrl: urls.clear.baseUrl, clientSecret: 'SECRET-wrong-in-config' }),
    )
    const env = {
      CLEAR_CLIENT_SECRET: 'SECRET-wrong-in-env',
      CLEAR_BASE_URL: 'https://api.clear.in',
    }
    const fromFlag = await run(
      ['token', 'clear', '--config', config, '--client-secret', demo.clear.clientSecret],
      { env },
    )
    expect(fromFlag.code).toBe(0)
    const fromConfig = await run(['token', 'clear', '--config', config, '--no-cache'], { env })
    expect(fromConfig.code).toBe(1)
    expect(fromConfig.stderr).toContain('TOKEN_ENDPOINT_REJECTED')
    expect(fromConfig.stderr).not.toContain('SECRET-wrong')
  })

  it('keeps the cache off for ClearID unless --cache asks for it', async () => {
    const cacheFile = join(context.directory, 'cache', 'tokens.cache')
    const args = ['token', 'clearid', ...vendorArgs(context.emulator).clearid]
    expect((await run(args)).code).toBe(0)
    expect(existsSync(cacheFile)).toBe(false)
    expect((await run(args)).code).toBe(0)
    expect(context.emulator.counters().clearid.tokenRequests).toBe(2)

    const own = join(context.directory, 'own.cache')
    expect((await run([...args, `--cache=${own}`])).code).toBe(0)
    expect((await run([...args, '--cache-file', own])).code).toBe(0)
    expect(existsSync(own)).toBe(true)
    expect(context.emulator.counters().clearid.tokenRequests).toBe(3)
    expect((await run([...args, '--cache'])).code).toBe(0)
    expect(existsSync(cacheFile)).toBe(true)
  })

  it('--no-cache neither reads nor writes the cache; --cache with --no-cache is refused', async () => {
    const args = ['token', 'akamai', ...vendorArgs(context.emulator).akamai]
    await run([...args, '--no-cache'])
    await run([...args, '--no-cache'])
    expect(context.emulator.counters().akamai.tokenRequests).toBe(2)
    expect(existsSync(join(context.directory, 'cache'))).toBe(false)
    const both = await run([...args, '--no-cache', '--cache'])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('--cache and --no-cache')
  })

  it('reports a refused credential with exit code 1, the error code, and no secret', async () => {
    const { urls } = context.emulator
    const secret = 'SECRET-clear-wrong-4f2a9c'
    const result = await run([
      'token',
      'clear',
      '--base-url',
      urls.clear.baseUrl,
      '--client-secret',
      secret,
    ])
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain('[TOKEN_ENDPOINT_REJECTED]')
    expect(result.stderr).not.toContain(secret)
  })

  it('reports an unreachable token endpoint with exit code 1', async () => {
    const result = await run([
      'token',
      'clear',
      '--base-url',
      'http://127.0.0.1:9',
      '--client-secret',
      'SECRET-unreachable-1',
    ])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('[NETWORK_ERROR]')
    expect(result.stderr).not.toContain('SECRET-unreachable-1')
  })
})

describe('tokenkeeper headers', () => {
  it('prints the headers ready for curl -H, or as JSON', async () => {
    const args = ['headers', 'apiax', ...vendorArgs(context.emulator).apiax]
    const lines = await run(args)
    expect(lines.code).toBe(0)
    expect(lines.stdout).toMatch(/^Authorization: Bearer \S+\nApikey: emulator-apiax-api-key\n$/)
    const json = await run([...args, '--json'])
    expect(JSON.parse(json.stdout)).toEqual({
      Authorization: expect.stringMatching(/^Bearer /),
      Apikey: context.emulator.demo.apiax.apiKey,
    })
    expectNoSecrets(lines.stdout, json.stdout)
  })

  it('includes Clear’s static headers from the config file', async () => {
    const { demo, urls } = context.emulator
    const config = join(context.directory, 'clear.json')
    writeFileSync(
      config,
      JSON.stringify({
        baseUrl: urls.clear.baseUrl,
        clientSecret: demo.clear.clientSecret,
        headers: { 'x-workspace-id': 'ws-1' },
      }),
    )
    const result = await run(['headers', 'clear', '--config', config])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^x-workspace-id: ws-1\nx-cleartax-auth-token: \S+\n$/)
  })
})

describe('tokenkeeper request', () => {
  it('GETs a path of the vendor API and prints the body (exit 0)', async () => {
    const { demo } = context.emulator
    const result = await run([
      'request',
      'akamai',
      `/${demo.akamai.customerId}/webhooks/subscriptions`,
      ...vendorArgs(context.emulator).akamai,
    ])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ _embedded: { subscriptions: [] } })
  })

  it('POSTs -d as JSON with -H headers; -i prints the status line and headers first', async () => {
    const { urls } = context.emulator
    const body = JSON.stringify({ products: [{ productId: 'P-1' }], regimes: ['CH'] })
    const result = await run([
      'request',
      'apiax',
      `${urls.apiax.apiUrl}/api/v3/rules/eval`,
      '-d',
      body,
      '-H',
      'x-request-id: test-1',
      '-i',
      ...vendorArgs(context.emulator).apiax,
    ])
    expect(result.code).toBe(0)
    const [head, content] = result.stdout.split('\n\n')
    expect(head).toMatch(/^HTTP 200 OK\n/)
    expect(head).toContain('content-type: application/json')
    expect(JSON.parse(content ?? '')).toMatchObject({ results: [{ outcome: 'ALLOWED' }] })
  })

  it('reads -d @file and -d @- (standard input)', async () => {
    const body = JSON.stringify({ products: [{ productId: 'P-2' }] })
    writeFileSync(join(context.directory, 'body.json'), body)
    const args = ['request', 'apiax', '/api/v3/rules/eval', ...vendorArgs(context.emulator).apiax]
    const fromFile = await run([...args, '-d', '@body.json'])
    expect(fromFile.code).toBe(0)
    expect(JSON.parse(fromFile.stdout).results[0].product).toEqual({ productId: 'P-2' })
    const fromStdin = await run([...args, '-d', '@-'], { stdin: body })
    expect(fromStdin.code).toBe(0)
    expect(JSON.parse(fromStdin.stdout).results[0].product).toEqual({ productId: 'P-2' })
  })

  it('exits 3 on an HTTP error status, with the body on stdout and the status on stderr', async () => {
    const { demo } = context.emulator
    const result = await run([
      'request',
      'clearid',
      `/api/v2/accounts/${demo.clearid.accountId}/nothing-here`,
      ...vendorArgs(context.emulator).clearid,
    ])
    expect(result.code).toBe(3)
    expect(result.stderr).toMatch(
      /^tokenkeeper: HTTP 404 Not Found from http:\/\/127\.0\.0\.1:\d+\/api\/v2\/accounts\/[^ ]+\/nothing-here\n$/,
    )
  })

  it('renews a rejected token once and retries (the vendor client’s fetch)', async () => {
    const { demo } = context.emulator
    const args = [
      'request',
      'clearid',
      `/api/v2/accounts/${demo.clearid.accountId}/identities`,
      ...vendorArgs(context.emulator).clearid,
      '--cache',
    ]
    expect((await run(args)).code).toBe(0)
    context.emulator.revokeTokens('clearid')
    const result = await run(args)
    expect(result.code).toBe(0)
    const counters = context.emulator.counters().clearid
    expect(counters.tokensIssued).toBe(2)
    expect(counters.apiRejectedByReason.revoked).toBe(1)
  })

  it('refuses to send the token to another origin unless --origin allows it', async () => {
    const { urls, demo } = context.emulator
    const other = `${urls.clear.baseUrl}/integration/v1/generatePreSign/sales?fileName=a.csv`
    const refused = await run([
      'request',
      'clearid',
      other,
      ...vendorArgs(context.emulator).clearid,
    ])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('not one of the origins allowed')
    expect(refused.stderr).toContain('--origin')
    expect(context.emulator.counters().clear.apiRejected).toBe(0)
    const allowed = await run([
      'request',
      'clearid',
      `${urls.clearid.apiUrl}/api/v2/accounts/${demo.clearid.accountId}/identities`,
      '--origin',
      urls.clear.baseUrl,
      ...vendorArgs(context.emulator).clearid,
    ])
    expect(allowed.code).toBe(0)
  })

  it('refuses a target that is neither a URL nor an API path', async () => {
    const result = await run([
      'request',
      'clear',
      'ftp://example.test/x',
      ...vendorArgs(context.emulator).clear,
    ])
    expect(result.code).toBe(2)
    const relative = await run([
      'request',
      'clear',
      'integration/v1',
      ...vendorArgs(context.emulator).clear,
    ])
    expect(relative.code).toBe(2)
    expect(relative.stderr).toContain('neither an absolute URL nor a path')
  })
})

describe('tokenkeeper vendors', () => {
  it('lists every vendor with its flags and environment variables', async () => {
    const result = await run(['vendors'])
    expect(result.code).toBe(0)
    for (const text of [
      'clearid  Genetec ClearID (@tokenkeeper/clearid',
      'clear  Clear Finance Cloud (@tokenkeeper/clear-cfc',
      'akamai  Akamai Identity Cloud (@tokenkeeper/akamai-identity',
      'apiax  Apiax (@tokenkeeper/apiax',
      '--client-secret <secret>',
      'CLEARID_CLIENT_SECRET',
      'CLEAR_CLIENT_SECRET',
      'AKAMAI_IDENTITY_OIDC_URL',
      'APIAX_PASSWORD',
      '--assertion-private-key-file <file>',
      'TOKENKEEPER_CACHE_KEY',
    ]) {
      expect(result.stdout).toContain(text)
    }
  })

  it('--json describes one vendor for programs', async () => {
    const result = await run(['vendors', 'clear', '--json'])
    const [clear] = JSON.parse(result.stdout)
    expect(clear).toMatchObject({
      id: 'clear',
      package: '@tokenkeeper/clear-cfc',
      cacheByDefault: true,
    })
    expect(clear.settings).toContainEqual(
      expect.objectContaining({
        name: 'clientSecret',
        flag: '--client-secret',
        env: 'CLEAR_CLIENT_SECRET',
        secret: true,
      }),
    )
  })
})

describe('secrets', () => {
  it('never appear in the output of any command but token and headers', async () => {
    const args = vendorArgs(context.emulator)
    const outputs: string[] = []
    for (const vendor of ['clearid', 'clear', 'akamai', 'apiax'] as const) {
      const token = await run(['token', vendor, ...args[vendor], '--json'])
      outputs.push(token.stdout, token.stderr)
      const wrongPath = await run(['request', vendor, '/definitely/not/here', ...args[vendor]])
      outputs.push(wrongPath.stderr)
      const wrongFlag = await run(['token', vendor, ...args[vendor], '--scope-x', 'y'])
      outputs.push(wrongFlag.stderr)
    }
    const cacheText = readFileSync(join(context.directory, 'cache', 'tokens.cache'), 'utf8')
    expectNoSecrets(...outputs, cacheText)
  })
})
