import { randomBytes } from 'node:crypto'
import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { dirname } from 'node:path'
import { ConfigurationError } from '@tokenkeeper/auth-core'
import { isCode } from './file-lock.ts'

/** Environment variable holding the cache's encryption key (32 bytes, base64 or hex). */
export const CACHE_KEY_ENV = 'TOKENKEEPER_CACHE_KEY'

/** Length of an AES-256 key. */
const KEY_BYTES = 32

/**
 * Decodes a 32-byte key given as base64 (standard or URL-safe) or hex. The error never quotes
 * the value.
 */
export function decodeCacheKey(text: string, label: string): Buffer {
  const trimmed = text.trim()
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)
      ? Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
      : undefined
  if (key === undefined || key.length !== KEY_BYTES) {
    throw new ConfigurationError(
      `${label} must be a 32-byte key in base64 or hex (create one with: openssl rand -base64 32)`,
      { setting: 'cacheKey' },
    )
  }
  return key
}

/** The key file kept next to a cache file when no key is given: `<cache>.key`. */
export function keyFilePath(cachePath: string): string {
  return `${cachePath}.key`
}

/**
 * The key of a cache file: from {@link CACHE_KEY_ENV} when set; otherwise from `<cache>.key`,
 * created with a random key and permissions 0600 the first time (exclusively, so two processes
 * starting together agree on one key). A key file other users can read is refused, as ssh
 * refuses such private keys.
 */
export function loadCacheKey(
  cachePath: string,
  env: Readonly<Record<string, string | undefined>>,
): Buffer {
  const fromEnv = env[CACHE_KEY_ENV]
  if (fromEnv !== undefined && fromEnv.trim() !== '') return decodeCacheKey(fromEnv, CACHE_KEY_ENV)
  const path = keyFilePath(cachePath)
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  // Written aside, then linked into place: `link` never overwrites, and the key file never
  // exists half-written for another process to read.
  const temporary = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`
  if (!existsSync(path)) {
    try {
      writeFileSync(temporary, `${randomBytes(KEY_BYTES).toString('base64')}\n`, {
        flag: 'wx',
        mode: 0o600,
      })
      linkSync(temporary, path)
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw error
    } finally {
      rmSync(temporary, { force: true })
    }
  }
  if (process.platform !== 'win32') {
    const mode = statSync(path).mode & 0o777
    if ((mode & 0o077) !== 0) {
      throw new ConfigurationError(
        `The cache key file ${path} can be read by other users (mode ${mode.toString(8)}); run chmod 600 on it, or set ${CACHE_KEY_ENV}`,
        { setting: 'cacheKey' },
      )
    }
  }
  return decodeCacheKey(readFileSync(path, 'utf8'), `The cache key file ${path}`)
}
