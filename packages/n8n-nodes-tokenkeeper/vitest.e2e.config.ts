import { defineConfig } from 'vitest/config'
import shared from '../../vitest.shared.ts'

/**
 * The end-to-end proof in a real n8n (`pnpm --filter n8n-nodes-tokenkeeper test:e2e`): one
 * file, run once, with time limits that bound the whole run. Sibling packages (the emulator)
 * resolve to their sources like in the unit tests.
 */
export default defineConfig({
  resolve: shared.resolve,
  ssr: shared.ssr,
  test: {
    include: ['e2e/**/*.e2e.test.ts'],
    testTimeout: 240_000,
    // Installing n8n the first time takes minutes (about 13 on two cores).
    hookTimeout: 1_500_000,
    fileParallelism: false,
    reporters: ['verbose'],
  },
})
