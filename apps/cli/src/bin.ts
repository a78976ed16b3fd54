#!/usr/bin/env node
import { runCli } from './cli.ts'

// Ctrl-C stops a running command cleanly (the demo restores the terminal and stops the
// emulator); a second Ctrl-C exits at once.
const controller = new AbortController()
process.once('SIGINT', () => {
  controller.abort(new Error('interrupted'))
  process.once('SIGINT', () => process.exit(130))
})

runCli(process.argv.slice(2), { signal: controller.signal }).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`tokenkeeper: unexpected ${(error as Error)?.name ?? 'error'}\n`)
    process.exitCode = 1
  },
)
