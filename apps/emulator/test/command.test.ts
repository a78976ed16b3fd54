import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type CommandIo, type Emulator, runEmulatorCommand } from '../src/index.ts'

/** An in-memory IO whose stop signal the test fires. */
function testIo() {
  const out: string[] = []
  const error: string[] = []
  let stop!: (signal: string) => void
  let started!: (emulator: Emulator) => void
  const running = new Promise<Emulator>((resolve) => {
    started = resolve
  })
  const io: CommandIo = {
    out: (line) => out.push(line),
    error: (line) => error.push(line),
    stopSignal: () =>
      new Promise((resolve) => {
        stop = resolve
      }),
    started: (emulator) => started(emulator),
  }
  return { io, out, error, running, stop: (signal: string) => stop(signal) }
}

describe('tokenkeeper-emulator command', () => {
  it('prints URLs and demo credentials as JSON, serves, and stops on a signal', async () => {
    const test = testIo()
    const exit = runEmulatorCommand(['--json', '--quiet'], test.io)
    const emulator = await test.running
    const printed = JSON.parse(test.out[0]!) as { urls: Emulator['urls']; demo: Emulator['demo'] }
    expect(printed.urls).toEqual(emulator.urls)
    expect(printed.demo.clear.clientSecret).toBe(emulator.demo.clear.clientSecret)
    const response = await fetch(`${printed.urls.clear.baseUrl}/integration/v1/authz/token`, {
      headers: { 'x-clear-client-secret': printed.demo.clear.clientSecret },
    })
    expect(response.status).toBe(200)
    test.stop('SIGTERM')
    expect(await exit).toBe(0)
    expect(test.out.at(-1)).toBe('Received SIGTERM, stopping.')
    await expect(fetch(`${printed.urls.admin}/_emulator`)).rejects.toThrow()
  })

  it('prints a readable banner, logs requests without secrets and writes the key file', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'emulator-command-'))
    try {
      const keyFile = join(directory, 'key.json')
      const test = testIo()
      const exit = runEmulatorCommand(['--key-file', keyFile], test.io)
      const emulator = await test.running
      const text = test.out.join('\n')
      expect(text).toContain(emulator.urls.apiax.tokenUrl)
      expect(text).toContain(emulator.urls.akamai.oidcUrl)
      expect(text).toContain(emulator.demo.apiax.password)
      expect(text).toContain(keyFile)
      const written = JSON.parse(await readFile(keyFile, 'utf8')) as { clientId: string }
      expect(written.clientId).toBe(emulator.demo.clearid.clientId)
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600)

      const bannerLines = test.out.length
      const body = (await (
        await fetch(`${emulator.urls.clear.baseUrl}/integration/v1/authz/token`, {
          headers: { 'x-clear-client-secret': emulator.demo.clear.clientSecret },
        })
      ).json()) as { access_token: string }
      const logLines = test.out.slice(bannerLines)
      expect(logLines).toHaveLength(1)
      expect(logLines[0]).toMatch(/clear GET \/integration\/v1\/authz\/token 200/)
      expect(logLines[0]).not.toContain(body.access_token)
      expect(logLines[0]).not.toContain(emulator.demo.clear.clientSecret)
      test.stop('SIGINT')
      expect(await exit).toBe(0)
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  })

  it('shows help, refuses unknown flags, bad ports and non-loopback hosts', async () => {
    const help = testIo()
    expect(await runEmulatorCommand(['--help'], help.io)).toBe(0)
    expect(help.out.join('\n')).toMatch(/Usage: tokenkeeper-emulator/)

    const unknown = testIo()
    expect(await runEmulatorCommand(['--bogus'], unknown.io)).toBe(2)
    expect(unknown.error.join('\n')).toMatch(/bogus/)

    const port = testIo()
    expect(await runEmulatorCommand(['--clear-port', 'eighty'], port.io)).toBe(2)
    expect(port.error.join('\n')).toMatch(/--clear-port/)

    const host = testIo()
    expect(await runEmulatorCommand(['--host', '0.0.0.0'], host.io)).toBe(1)
    expect(host.error.join('\n')).toMatch(/loopback/)
  })
})
