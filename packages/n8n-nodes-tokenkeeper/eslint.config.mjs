// n8n's own lint rules for community packages (@n8n/node-cli). This package imports our vendor
// packages (bundled into dist/), so it cannot be an n8n Cloud "verified" package, which may
// depend on n8n-workflow only: we use the self-hosted rule set, configWithoutCloudSupport.
import { configWithoutCloudSupport } from '@n8n/node-cli/eslint'

export default [
  { ignores: ['dist/**', 'e2e/**', 'test/**', '*.config.ts', '*.config.mjs'] },
  ...configWithoutCloudSupport,
  {
    // The maintainers' contact address is not decided yet; package.json gets an `author` with
    // name and email before the first publish, and these two rules come back on.
    files: ['package.json'],
    rules: {
      '@n8n/community-nodes/valid-author': 'off',
      'n8n-nodes-base/community-package-json-author-missing': 'off',
    },
  },
]
