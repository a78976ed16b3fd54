import { defineConfig, mergeConfig } from 'vitest/config'
import shared from '../../vitest.shared.ts'

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      include: ['test/**/*.test.ts'],
      globalSetup: ['test/support/report.ts'],
      pool: 'forks',
      maxWorkers: 2,
      execArgv: ['--expose-gc', '--min-semi-space-size=16', '--max-semi-space-size=16'],
      testTimeout: 240_000,
      hookTimeout: 60_000,
    },
  }),
)
