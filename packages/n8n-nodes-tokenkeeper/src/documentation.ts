/** Where each credential's `documentationUrl` points: this package's README on npm. */
export const DOCUMENTATION_URL = 'https://www.npmjs.com/package/n8n-nodes-tokenkeeper'
