#!/usr/bin/env node
import { runEmulatorCommand } from './command.ts'

runEmulatorCommand(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`tokenkeeper-emulator: ${(error as Error).message}\n`)
    process.exitCode = 1
  },
)
