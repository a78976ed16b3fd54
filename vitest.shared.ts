import { defineConfig } from 'vitest/config'

/**
 * Shared test settings: sibling workspace packages resolve to their TypeScript sources through
 * the `@tokenkeeper/source` export condition, so tests never depend on stale builds.
 */
export default defineConfig({
  resolve: { conditions: ['@tokenkeeper/source'] },
  ssr: { resolve: { conditions: ['@tokenkeeper/source'], externalConditions: [] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
})
