import { redactSecrets } from '@tokenkeeper/auth-core'

/** Where the command writes. `process.stdout` and `process.stderr` fit; tests pass buffers. */
export interface CliOutput {
  write(chunk: string | Uint8Array): unknown
  /** True when the output is a terminal (the demo then draws a table that updates in place). */
  readonly isTTY?: boolean
  /** Terminal width in characters, when known. */
  readonly columns?: number
}

/**
 * How {@link runCli} talks to the outside world. Every field is optional; the defaults are the
 * current process's streams, environment and working directory.
 */
export interface CliIo {
  stdout?: CliOutput
  stderr?: CliOutput
  /** Read for `-d @-` (request body from standard input). */
  stdin?: AsyncIterable<string | Uint8Array>
  /** Environment variables (vendor settings, `TOKENKEEPER_*`). Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>
  /** Directory that relative paths are resolved against. Default `process.cwd()`. */
  cwd?: string
  /**
   * Aborts a running command (the bin wires it to Ctrl-C): exit code 130. An abort reason
   * named `OutputClosedError` (the reader of the output went away) ends it without a message.
   */
  signal?: AbortSignal
}

/** {@link CliIo} with every default filled in. */
export interface ResolvedIo {
  readonly stdout: CliOutput
  readonly stderr: CliOutput
  readonly stdin: AsyncIterable<string | Uint8Array>
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  readonly signal: AbortSignal | undefined
}

/** Fills in the defaults of a {@link CliIo}. */
export function resolveIo(io: CliIo = {}): ResolvedIo {
  return {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stdin: io.stdin ?? process.stdin,
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
    signal: io.signal,
  }
}

/**
 * Replaces every known secret value in a text with `[redacted]`, in each spelling an echo may
 * use (raw, URL- and form-encoded; core's `redactSecrets`). Messages of the vendor packages
 * never contain secrets; this is a second line of defence for anything else that reaches the
 * terminal (an unexpected error's message, a file system error, a server's echo).
 */
export class Redactor {
  readonly #secrets = new Set<string>()

  /** Remembers a secret value. Very short values are ignored: they would mangle ordinary text. */
  add(value: unknown): void {
    if (typeof value === 'string' && value.trim().length >= 4) {
      this.#secrets.add(value)
      this.#secrets.add(value.trim())
    }
  }

  /** The text with every spelling of every known secret replaced by `[redacted]`. */
  redact(text: string): string {
    // Longest first, so a secret that contains another is replaced whole.
    return redactSecrets(
      text,
      [...this.#secrets].sort((a, b) => b.length - a.length),
    )
  }
}
