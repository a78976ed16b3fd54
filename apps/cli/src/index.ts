export { CACHE_KEY_ENV, keyFilePath } from './cache/cache-key.ts'
export { CACHE_FILE_ENV, defaultCachePath } from './cache/cache-path.ts'
export {
  createFileTokenStore,
  type FileTokenStore,
  type FileTokenStoreOptions,
} from './cache/file-token-store.ts'
export { runCli } from './cli.ts'
export type { TokenJson } from './commands/token.ts'
export type { VendorDescription } from './commands/vendors.ts'
export { EXIT_CODES, UsageError } from './errors.ts'
export type { CliIo, CliOutput } from './io.ts'
export { CONFIG_ENV } from './settings.ts'
export { findVendor, VENDOR_SPECS, type VendorId, type VendorSpec } from './vendors.ts'
