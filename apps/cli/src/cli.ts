import { type ParseArgsConfig, parseArgs } from 'node:util'
import { type ConfigurationError, TokenKeeperError } from '@tokenkeeper/auth-core'
import packageJson from '../package.json' with { type: 'json' }
import { requestCommand } from './commands/request.ts'
import { headersCommand, tokenCommand } from './commands/token.ts'
import type { VendorCommandOptions } from './commands/vendor-client.ts'
import { describeVendor, vendorsCommand } from './commands/vendors.ts'
import { runDemo } from './demo/run-demo.ts'
import { EXIT_CODES, UsageError } from './errors.ts'
import { type CliIo, Redactor, resolveIo } from './io.ts'
import { formatConfigurationError } from './settings.ts'
import { allSettingFlags, findVendor, VENDOR_SPECS, type VendorSpec } from './vendors.ts'

type Command = 'token' | 'headers' | 'request' | 'vendors' | 'demo' | 'help'
type Options = NonNullable<ParseArgsConfig['options']>

const VENDOR_NAMES = VENDOR_SPECS.map((spec) => spec.id).join(', ')

const HELP: Record<Command | 'main', string> = {
  main: `Usage: tokenkeeper <command> [options]

Obtain, cache and renew API access tokens for Genetec ClearID, Clear Finance Cloud,
Akamai Identity Cloud and Apiax.

Commands:
  token <vendor>          print an access token (--json: with its expiry)
  headers <vendor>        print the headers that present the token
  request <vendor> <url>  make an authenticated request, curl-like
  vendors [vendor]        list the vendors and the settings each needs
  demo                    run every vendor against the embedded emulator (offline)

Vendors: ${VENDOR_NAMES} (their package names work too)

Run 'tokenkeeper <command> --help' for a command's options.
Exit codes: 0 ok, 1 failure, 2 usage or settings error, 3 HTTP error status (request).
`,
  token: `Usage: tokenkeeper token <vendor> [settings] [options]

Prints an access token for <vendor>: from the token cache while a valid one is there,
otherwise newly requested.

Options:
  --json                  print the token with its type, expiry and id as JSON
${commonOptions()}`,
  headers: `Usage: tokenkeeper headers <vendor> [settings] [options]

Prints the headers that present the token to the vendor's API, one "Name: value" per line
(ready for curl -H). For Apiax they include the Apikey; for Clear, the static headers.

Options:
  --json                  print the headers as a JSON object
${commonOptions()}`,
  request: `Usage: tokenkeeper request <vendor> <url> [settings] [options]

Makes an authenticated request: the token is attached, and renewed and the request sent again
once if the API rejects it. <url> is absolute, or a path of the vendor's API (/api/...).
The response body goes to standard output; an HTTP status of 400 or above exits with code 3.

Options:
  -X, --request <method>  HTTP method (default GET, or POST with -d)
  -d, --data <body>       request body; @file reads a file, @- standard input
                          (content type: JSON when it parses as JSON, else form)
  -H, --header <header>   extra header "Name: value" (repeatable)
  -i, --include           print the status line and response headers first
  --origin <url>          also allow the token to go to this origin (repeatable)
${commonOptions()}`,
  vendors: `Usage: tokenkeeper vendors [vendor] [--json]

Lists each vendor's settings: the flag, the environment variable the vendor package reads,
and what the setting is for.
`,
  demo: `Usage: tokenkeeper demo [--plain] [--pace <ms>]

Starts the embedded emulator on loopback and runs all four vendors through their token
lifecycle: first issue, reuse, background renewal, a rejected token recovered with one
renewal, a fault survived, and one vendor-specific hazard (ClearID key file, Clear's
revoke-on-reissue with a shared cache, Akamai's 403 for expired tokens, Apiax's rotating
refresh tokens). Time is simulated, so token lifetimes pass in an instant and the outcome
does not depend on the machine's speed. Needs no network and no credentials.

Options:
  --plain        one line per step, even on a terminal (the default when not a terminal)
  --pace <ms>    pause after each step so it can be followed (default 500; 0 for none)
`,
  help: `Usage: tokenkeeper help [command]
`,
}

function commonOptions(): string {
  return `  --config <file>         JSON file with the vendor's settings (or TOKENKEEPER_CONFIG)
  --cache[=<file>]        keep tokens in the encrypted cache file (default: on, except for
                          clearid; file: TOKENKEEPER_CACHE_FILE or the user cache directory)
  --no-cache              neither read nor write the token cache
  -h, --help              show this help (with a vendor: its settings too)

Settings: flags such as --client-secret, or the vendor package's environment variables
(e.g. CLEAR_CLIENT_SECRET); see 'tokenkeeper vendors <vendor>'.
`
}

/** Options each command accepts, on top of `--help`. */
function commandOptions(command: Command): Options {
  const vendorOptions: Options = {
    config: { type: 'string' },
    cache: { type: 'boolean' },
    'cache-file': { type: 'string' },
    'no-cache': { type: 'boolean' },
  }
  for (const flag of allSettingFlags().keys()) vendorOptions[flag] = { type: 'string' }
  const help: Options = { help: { type: 'boolean', short: 'h' } }
  switch (command) {
    case 'token':
    case 'headers':
      return { ...help, ...vendorOptions, json: { type: 'boolean' } }
    case 'request':
      return {
        ...help,
        ...vendorOptions,
        request: { type: 'string', short: 'X' },
        data: { type: 'string', short: 'd' },
        header: { type: 'string', short: 'H', multiple: true },
        include: { type: 'boolean', short: 'i' },
        origin: { type: 'string', multiple: true },
      }
    case 'vendors':
      return { ...help, json: { type: 'boolean' } }
    case 'demo':
      return { ...help, plain: { type: 'boolean' }, pace: { type: 'string' } }
    case 'help':
      return help
  }
}

const POSITIONALS: Record<Command, { min: number; max: number; usage: string }> = {
  token: { min: 1, max: 1, usage: 'token <vendor>' },
  headers: { min: 1, max: 1, usage: 'headers <vendor>' },
  request: { min: 2, max: 2, usage: 'request <vendor> <url>' },
  vendors: { min: 0, max: 1, usage: 'vendors [vendor]' },
  demo: { min: 0, max: 0, usage: 'demo' },
  help: { min: 0, max: 1, usage: 'help [command]' },
}

function isCommand(value: string): value is Command {
  return Object.hasOwn(POSITIONALS, value)
}

/**
 * Runs the `tokenkeeper` command line and resolves with its exit code (it never calls
 * `process.exit`). The bin is `runCli(process.argv.slice(2))`; tests pass their own streams
 * and environment through `io`.
 *
 * Secrets never reach the output: vendor errors carry none, and every message on standard
 * error is also scrubbed of the secret values seen in flags, the config file and the
 * environment. Only `token` and `headers` print credentials, because that is what they are
 * for.
 *
 * @example
 * const code = await runCli(['token', 'clear', '--json'], { env: { ...process.env } })
 */
export async function runCli(argv: readonly string[], io: CliIo = {}): Promise<number> {
  const resolved = resolveIo(io)
  const redactor = new Redactor()
  const fail = (message: string) =>
    resolved.stderr.write(`tokenkeeper: ${redactor.redact(message)}\n`)
  let spec: VendorSpec | undefined
  let command: Command | undefined
  try {
    const [first, ...rest] = argv
    if (first === undefined || first === '-h' || first === '--help') {
      resolved.stdout.write(HELP.main)
      return EXIT_CODES.ok
    }
    if (first === '-v' || first === '--version') {
      resolved.stdout.write(`${packageJson.version}\n`)
      return EXIT_CODES.ok
    }
    if (!isCommand(first)) {
      throw new UsageError(
        first.startsWith('-')
          ? `the command comes first (token, headers, request, vendors or demo)`
          : `unknown command ${JSON.stringify(first)}; use token, headers, request, vendors or demo`,
      )
    }
    command = first
    const { values, positionals } = parse(command, rest)
    if (values.help === true) {
      resolved.stdout.write(helpFor(command, positionals[0]))
      return EXIT_CODES.ok
    }
    const expected = POSITIONALS[command]
    if (positionals.length < expected.min || positionals.length > expected.max) {
      throw new UsageError(
        positionals.length < expected.min
          ? `missing argument: tokenkeeper ${expected.usage}`
          : `too many arguments: tokenkeeper ${expected.usage}`,
      )
    }
    switch (command) {
      case 'help': {
        const topic = positionals[0]
        resolved.stdout.write(topic && isCommand(topic) ? HELP[topic] : HELP.main)
        return EXIT_CODES.ok
      }
      case 'vendors': {
        const specs = positionals[0] === undefined ? VENDOR_SPECS : [vendorNamed(positionals[0])]
        return vendorsCommand(specs, values.json === true, resolved)
      }
      case 'demo':
        return await runDemo(
          { plain: values.plain === true, pace: parsePace(values.pace) },
          resolved,
        )
      default: {
        spec = vendorNamed(positionals[0] as string)
        checkVendorFlags(spec, values)
        const options: VendorCommandOptions = { flags: values, io: resolved, redactor }
        if (command === 'token') return await tokenCommand(spec, options)
        if (command === 'headers') return await headersCommand(spec, options)
        return await requestCommand(spec, positionals[1] as string, options)
      }
    }
  } catch (error) {
    return report(error, { spec, command, fail, signal: resolved.signal })
  }
}

function parse(
  command: Command,
  args: string[],
): { values: Record<string, unknown>; positionals: string[] } {
  // `--cache=<file>` (an optional value, GNU style) becomes `--cache-file <file>`.
  const normalised = args.flatMap((arg) =>
    arg.startsWith('--cache=') ? ['--cache-file', arg.slice('--cache='.length)] : [arg],
  )
  try {
    const { values, positionals } = parseArgs({
      args: normalised,
      options: commandOptions(command),
      allowPositionals: true,
      strict: true,
    })
    return { values: values as Record<string, unknown>, positionals }
  } catch (error) {
    // Node's messages name the option, never a value; keep the first sentence.
    const message = String((error as Error).message).split('. ')[0]
    throw new UsageError(`${message}; run 'tokenkeeper ${command} --help'`)
  }
}

function vendorNamed(name: string): VendorSpec {
  const spec = findVendor(name)
  if (spec === undefined) {
    throw new UsageError(`unknown vendor ${JSON.stringify(name)}; use ${VENDOR_NAMES}`)
  }
  return spec
}

/** Refuses setting flags that belong to other vendors (a likely mix-up of settings). */
function checkVendorFlags(spec: VendorSpec, values: Record<string, unknown>): void {
  const own = new Set(spec.settings.map((setting) => setting.flag))
  for (const flag of allSettingFlags().keys()) {
    if (values[flag] !== undefined && !own.has(flag)) {
      throw new UsageError(
        `--${flag} is not a setting of ${spec.id}; see 'tokenkeeper vendors ${spec.id}'`,
      )
    }
  }
}

function parsePace(value: unknown): number | undefined {
  if (value === undefined) return undefined
  const pace = Number(value)
  if (typeof value !== 'string' || !/^\d+$/.test(value) || pace > 10_000) {
    throw new UsageError('--pace needs a number of milliseconds from 0 to 10000')
  }
  return pace
}

function helpFor(command: Command, vendorName: string | undefined): string {
  const spec = vendorName === undefined ? undefined : findVendor(vendorName)
  if (spec === undefined || (command !== 'token' && command !== 'headers' && command !== 'request'))
    return HELP[command]
  return `${HELP[command]}\nSettings of ${spec.id}:\n${describeVendor(spec).slice(1).join('\n')}\n`
}

/** Turns an error into its one-line message and exit code. */
function report(
  error: unknown,
  context: {
    spec: VendorSpec | undefined
    command: Command | undefined
    fail: (message: string) => void
    signal: AbortSignal | undefined
  },
): number {
  const { spec, command, fail } = context
  if (context.signal?.aborted) {
    // Nothing to say when the reader went away (`tokenkeeper demo | head`).
    if ((context.signal.reason as Error | undefined)?.name !== 'OutputClosedError') {
      fail('interrupted')
    }
    return EXIT_CODES.interrupted
  }
  if (error instanceof UsageError && error.setting === undefined) {
    fail(error.message)
    if (command === undefined) fail(`run 'tokenkeeper --help' for the commands`)
    return EXIT_CODES.usage
  }
  if (TokenKeeperError.is(error) && isConfiguration(error)) {
    fail(formatConfigurationError(error as ConfigurationError, spec))
    return EXIT_CODES.usage
  }
  if (TokenKeeperError.is(error)) {
    fail(`${error.message} [${error.code}]`)
    return EXIT_CODES.failure
  }
  const name = error instanceof Error ? error.name : 'Error'
  const message = error instanceof Error ? error.message : String(error)
  fail(`unexpected ${name}: ${message}`)
  return EXIT_CODES.failure
}

function isConfiguration(error: TokenKeeperError): boolean {
  return (
    error.code === 'CONFIGURATION_INVALID' ||
    error.code === 'INSECURE_TRANSPORT' ||
    error.code === 'ORIGIN_NOT_ALLOWED'
  )
}
