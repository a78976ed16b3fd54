import { resolve } from 'node:path'
import {
  createTokenClient,
  type TokenClient,
  type TokenClientOptions,
} from '@tokenkeeper/auth-core'
import { CACHE_KEY_ENV } from '../cache/cache-key.ts'
import { defaultCachePath } from '../cache/cache-path.ts'
import { createFileTokenStore, type FileTokenStore } from '../cache/file-token-store.ts'
import { UsageError } from '../errors.ts'
import type { Redactor, ResolvedIo } from '../io.ts'
import { buildSettings } from '../settings.ts'
import type { VendorSource, VendorSpec } from '../vendors.ts'

/** The parsed options a vendor command shares. */
export interface VendorCommandOptions {
  readonly flags: Readonly<Record<string, unknown>>
  readonly io: ResolvedIo
  readonly redactor: Redactor
}

/** A token client for one vendor, with the cache the flags asked for. */
export interface VendorClient {
  readonly spec: VendorSpec
  readonly vendor: VendorSource
  readonly client: TokenClient
  /** The file cache, when it is on. */
  readonly store: FileTokenStore | undefined
  close(): Promise<void>
}

/**
 * Whether the file cache is on, and where: `--no-cache` turns it off, `--cache` or
 * `--cache=<file>` on; otherwise the vendor's default (on, except for ClearID).
 */
export function cacheFile(spec: VendorSpec, options: VendorCommandOptions): string | undefined {
  const { flags, io } = options
  const file = flags['cache-file']
  const on = flags.cache === true || typeof file === 'string'
  if (flags['no-cache'] === true) {
    if (on) throw new UsageError('--cache and --no-cache contradict each other; give one')
    return undefined
  }
  if (!on && !spec.cacheByDefault) return undefined
  if (typeof file === 'string') {
    if (file.trim() === '') throw new UsageError('--cache=<file> needs a file name')
    return resolve(io.cwd, file)
  }
  return resolve(io.cwd, defaultCachePath(io.env))
}

/** Builds the vendor's settings, source, cache and client from the command line. */
export function openVendorClient(
  spec: VendorSpec,
  options: VendorCommandOptions,
  clientOptions: (vendor: VendorSource) => TokenClientOptions = () => ({}),
): VendorClient {
  const { flags, io, redactor } = options
  const settings = buildSettings({
    spec,
    flags,
    configPath: typeof flags.config === 'string' ? flags.config : undefined,
    env: io.env,
    cwd: io.cwd,
    redactor,
  })
  redactor.add(io.env[CACHE_KEY_ENV])
  const vendor = spec.createSource(settings, io.env)
  const path = cacheFile(spec, options)
  const store =
    path === undefined
      ? undefined
      : createFileTokenStore({
          path,
          env: io.env,
          onWarning: (message) => io.stderr.write(`tokenkeeper: ${redactor.redact(message)}\n`),
        })
  const client = createTokenClient(vendor.source, {
    ...clientOptions(vendor),
    ...(store ? { store } : {}),
  })
  return {
    spec,
    vendor,
    client,
    store,
    async close() {
      await client.close()
      await store?.close?.()
    },
  }
}
