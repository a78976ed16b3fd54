import type { Options } from 'tsup'

/**
 * The one tsup preset for every published library: ESM with types, Node 20.19 target,
 * dependencies left external. The `@tokenkeeper/source` condition (tests, type checks) is
 * switched off for builds so declarations reference sibling packages by name.
 */
export function libraryPreset(options: Options = {}): Options {
  return {
    entry: ['src/index.ts'],
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    dts: { compilerOptions: { customConditions: [] } },
    sourcemap: true,
    clean: true,
    splitting: false,
    treeshake: true,
    ...options,
  }
}
