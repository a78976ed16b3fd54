import type { CliIo, CliOutput } from '../../src/io.ts'

/** A stream that remembers what was written. */
export class CapturedOutput implements CliOutput {
  readonly chunks: (string | Uint8Array)[] = []
  readonly isTTY: boolean
  readonly columns: number | undefined

  constructor(options: { isTTY?: boolean; columns?: number } = {}) {
    this.isTTY = options.isTTY ?? false
    this.columns = options.columns
  }

  write(chunk: string | Uint8Array): boolean {
    this.chunks.push(chunk)
    return true
  }

  get text(): string {
    return this.chunks
      .map((chunk) => (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')))
      .join('')
  }
}

/** A CliIo with captured output, an explicit environment and an optional stdin. */
export function captureIo(
  env: Record<string, string | undefined>,
  options: { cwd?: string; stdin?: string; tty?: boolean } = {},
): { io: CliIo; stdout: CapturedOutput; stderr: CapturedOutput } {
  const stdout = new CapturedOutput({ isTTY: options.tty ?? false, columns: 120 })
  const stderr = new CapturedOutput()
  const stdin = options.stdin
  return {
    io: {
      stdout,
      stderr,
      env,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      stdin: (async function* () {
        if (stdin !== undefined) yield stdin
      })(),
    },
    stdout,
    stderr,
  }
}
