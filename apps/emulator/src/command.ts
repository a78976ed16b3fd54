import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { startEmulator } from './emulator.ts'
import type { Emulator, EmulatorOptions, Vendor } from './types.ts'

/** How the command talks to the outside world (replaceable in tests). */
export interface CommandIo {
  /** One line of normal output. */
  out(line: string): void
  /** One line of error output. */
  error(line: string): void
  /** Resolves with the signal name when the command should stop (SIGINT/SIGTERM by default). */
  stopSignal(): Promise<string>
  /** Called once the emulator is running (tests use it to reach the servers). */
  started?(emulator: Emulator): void
}

const USAGE = `Usage: tokenkeeper-emulator [options]

Runs a local emulator of Genetec ClearID, Clear Finance Cloud, Akamai Identity Cloud and Apiax
on loopback, with demo credentials. Stop it with Ctrl-C.

Options:
  --host <address>        loopback address to bind (default 127.0.0.1)
  --admin-port <port>     admin API port (default: any free port)
  --clearid-port <port>   ClearID port        --clear-port <port>   Clear port
  --akamai-port <port>    Akamai port         --apiax-port <port>   Apiax port
  --key-file <path>       write the demo ClearID key file (JSON) to this path
  --json                  print URLs and demo credentials as one JSON object
  --quiet                 do not print a line per request
  -h, --help              show this help`

/** Waits for SIGINT or SIGTERM. */
function processSignal(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (signal: string) => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      resolve(signal)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

/** The default IO: stdout, stderr and process signals. */
export function processIo(): CommandIo {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    error: (line) => process.stderr.write(`${line}\n`),
    stopSignal: processSignal,
  }
}

/**
 * The `tokenkeeper-emulator` command: starts the emulator, prints its URLs and demo
 * credentials, logs one line per request and stops cleanly on SIGINT/SIGTERM.
 * Resolves with the exit code.
 */
export async function runEmulatorCommand(
  argv: readonly string[],
  io: CommandIo = processIo(),
): Promise<number> {
  let values: Record<string, string | boolean | undefined>
  try {
    ;({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string' },
        'admin-port': { type: 'string' },
        'clearid-port': { type: 'string' },
        'clear-port': { type: 'string' },
        'akamai-port': { type: 'string' },
        'apiax-port': { type: 'string' },
        'key-file': { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    io.error((error as Error).message)
    io.error(USAGE)
    return 2
  }
  if (values.help) {
    io.out(USAGE)
    return 0
  }
  const ports: NonNullable<EmulatorOptions['ports']> = {}
  for (const name of ['admin', 'clearid', 'clear', 'akamai', 'apiax'] as const) {
    const raw = values[`${name}-port`]
    if (typeof raw !== 'string') continue
    const port = Number(raw)
    if (!/^\d+$/.test(raw) || port > 65_535) {
      io.error(`--${name}-port must be a port number, not ${JSON.stringify(raw)}`)
      return 2
    }
    ports[name as Vendor | 'admin'] = port
  }
  let emulator: Emulator
  try {
    emulator = await startEmulator({
      ...(typeof values.host === 'string' ? { host: values.host } : {}),
      ports,
      ...(values.quiet
        ? {}
        : { log: (line: string) => io.out(`${new Date().toISOString()} ${line}`) }),
    })
  } catch (error) {
    io.error(`tokenkeeper-emulator: ${(error as Error).message}`)
    return 1
  }
  try {
    const keyFilePath = typeof values['key-file'] === 'string' ? values['key-file'] : undefined
    if (keyFilePath) {
      await writeFile(keyFilePath, `${JSON.stringify(emulator.demo.clearid.keyFile, null, 2)}\n`, {
        mode: 0o600,
      })
    }
    if (values.json) io.out(JSON.stringify({ urls: emulator.urls, demo: emulator.demo }))
    else for (const line of banner(emulator, keyFilePath)) io.out(line)
    io.started?.(emulator)
    const signal = await io.stopSignal()
    io.out(`Received ${signal}, stopping.`)
    return 0
  } catch (error) {
    io.error(`tokenkeeper-emulator: ${(error as Error).message}`)
    return 1
  } finally {
    await emulator.stop()
  }
}

/** The human-readable start-up text: URLs and demo credentials (emulator-only values). */
function banner(emulator: Emulator, keyFilePath: string | undefined): string[] {
  const { urls, demo } = emulator
  return [
    'tokenkeeper emulator running (demo credentials below work only here)',
    '',
    `Admin API      ${urls.admin}/_emulator`,
    '',
    'Genetec ClearID',
    `  stsUrl        ${urls.clearid.stsUrl}`,
    `  apiUrl        ${urls.clearid.apiUrl}/api/v2/accounts/${demo.clearid.accountId}/identities`,
    `  clientId      ${demo.clearid.clientId}`,
    `  clientSecret  ${demo.clearid.clientSecret}`,
    `  keyFile       ${keyFilePath ?? '(pass --key-file <path> to write the demo key file)'}`,
    '',
    'Clear Finance Cloud',
    `  baseUrl       ${urls.clear.baseUrl}`,
    `  clientSecret  ${demo.clear.clientSecret}`,
    '',
    'Akamai Identity Cloud',
    `  oidcUrl       ${urls.akamai.oidcUrl}`,
    `  customerId    ${demo.akamai.customerId}`,
    `  clientId      ${demo.akamai.clientId}`,
    `  clientSecret  ${demo.akamai.clientSecret}`,
    `  scope         ${demo.akamai.scope}`,
    '',
    'Apiax',
    `  tokenUrl      ${urls.apiax.tokenUrl}`,
    `  apiUrl        ${urls.apiax.apiUrl}`,
    `  username      ${demo.apiax.username}`,
    `  password      ${demo.apiax.password}`,
    `  apiKey        ${demo.apiax.apiKey}`,
    '',
    'Press Ctrl-C to stop.',
  ]
}
