import { cpSync } from 'node:fs'
import { defineConfig } from 'tsup'

/**
 * n8n loads community packages with require() from the files listed in package.json's `n8n`
 * section, installed without our workspace. So every credential and node is bundled into
 * CommonJS with everything inlined (the vendor packages, auth-core, undici, jose); only
 * `n8n-workflow`, which n8n itself provides, stays external. Sibling packages are bundled from
 * their TypeScript sources (the `@tokenkeeper/source` condition), so no sibling build is needed.
 */
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'credentials/ClearIdApi.credentials': 'credentials/ClearIdApi.credentials.ts',
    'credentials/ClearCfcApi.credentials': 'credentials/ClearCfcApi.credentials.ts',
    'credentials/AkamaiIdentityCloudApi.credentials':
      'credentials/AkamaiIdentityCloudApi.credentials.ts',
    'credentials/ApiaxApi.credentials': 'credentials/ApiaxApi.credentials.ts',
    'nodes/ClearId/ClearId.node': 'nodes/ClearId/ClearId.node.ts',
    'nodes/ClearCfc/ClearCfc.node': 'nodes/ClearCfc/ClearCfc.node.ts',
    'nodes/AkamaiIdentityCloud/AkamaiIdentityCloud.node':
      'nodes/AkamaiIdentityCloud/AkamaiIdentityCloud.node.ts',
    'nodes/Apiax/Apiax.node': 'nodes/Apiax/Apiax.node.ts',
  },
  format: ['cjs'],
  target: 'node20',
  platform: 'node',
  outDir: 'dist',
  clean: true,
  // One shared chunk instead of a copy of the core, undici and jose in every file (tsup splits
  // CommonJS output too); it also gives credentials and nodes one module state.
  splitting: true,
  treeshake: true,
  sourcemap: false,
  // Keep `node:` specifiers: some builtins (node:sqlite, probed by undici) exist only with it.
  removeNodeProtocol: false,
  external: ['n8n-workflow'],
  noExternal: [/^(?!n8n-workflow$).*/],
  esbuildOptions(options) {
    options.conditions = ['@tokenkeeper/source']
  },
  // Only the package entry gets declarations (attw/publint); n8n needs none.
  dts: { entry: { index: 'src/index.ts' }, compilerOptions: { customConditions: [] } },
  onSuccess: async () => {
    cpSync('icons', 'dist/icons', { recursive: true })
  },
})
