#!/usr/bin/env node
import { runCli } from './cli.ts'

// Ctrl-C (or SIGTERM, or a closed terminal) stops a running command cleanly: the demo restores
// the terminal, stops the emulator and removes its temporary files. A second Ctrl-C exits at once.
const controller = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    controller.abort(new Error('interrupted'))
    process.once(signal, () => process.exit(130))
  })
}

// A reader that goes away (`tokenkeeper demo | head`) is not an error worth a stack trace:
// stop the command the same way, and exit 0 as if the output had been read.
let outputClosed = false
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
    if (!outputClosed) {
      outputClosed = true
      const reason = new Error('output closed')
      reason.name = 'OutputClosedError'
      controller.abort(reason)
    }
  })
}

runCli(process.argv.slice(2), { signal: controller.signal }).then(
  (code) => {
    process.exitCode = outputClosed ? 0 : code
  },
  (error: unknown) => {
    process.stderr.write(`tokenkeeper: unexpected ${(error as Error)?.name ?? 'error'}\n`)
    process.exitCode = 1
  },
)
