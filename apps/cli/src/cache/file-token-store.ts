import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs'
import { dirname, resolve } from 'node:path'
import {
  type Clock,
  ConfigurationError,
  isSpent,
  type LeaseOptions,
  type StoredToken,
  StoreError,
  type StoreSetOptions,
  systemClock,
  TokenKeeperError,
  type TokenLease,
  type TokenStore,
} from '@tokenkeeper/auth-core'
import { decodeCacheKey, loadCacheKey } from './cache-key.ts'
import { acquireFileLock, isCode } from './file-lock.ts'

/** Options of {@link createFileTokenStore}. */
export interface FileTokenStoreOptions {
  /** The cache file. Its lock files (`<path>.lock`, `<path>.<hash>.lease`) live next to it. */
  path: string
  /**
   * The AES-256 key: 32 bytes, or their base64 or hex text. Default: `TOKENKEEPER_CACHE_KEY`
   * from `env`, else the key file `<path>.key` (created with permissions 0600 when missing).
   */
  key?: Uint8Array | string
  /** Where `TOKENKEEPER_CACHE_KEY` is read when `key` is not given. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>
  /** Clock used to drop entries whose token and state have both expired. Default: system. */
  clock?: Clock
  /**
   * A write lock not refreshed for this many ms is taken over (its holder died). Default 10 000.
   * Leases use the token client's lease `ttl` instead.
   */
  lockStaleAfter?: number
  /** Longest wait for another process's write, ms. Default 10 000. */
  lockWaitTimeout?: number
  /** Told when the file cannot be read or decrypted (it is then treated as empty). */
  onWarning?: (message: string) => void
}

/** A {@link TokenStore} in an encrypted file, shared by every process that uses the file. */
export interface FileTokenStore extends TokenStore {
  /** The cache file. */
  readonly path: string
  readonly shared: true
  get(key: string): StoredToken | undefined
  set(key: string, entry: StoredToken, options?: StoreSetOptions): Promise<boolean>
  invalidate(key: string, value: string): Promise<boolean>
  delete(key: string): Promise<void>
  lease(key: string, options: LeaseOptions): Promise<TokenLease | null>
}

/** Marks the file format; the version changes if the layout does. */
const FORMAT = 'tokenkeeper-token-cache'
const VERSION = 1
/** Authenticated with every file, so a ciphertext cannot be moved into another format. */
const ASSOCIATED_DATA = Buffer.from(`${FORMAT}/v${VERSION}`)

interface Envelope {
  format: typeof FORMAT
  version: typeof VERSION
  iv: string
  tag: string
  data: string
}

interface Snapshot {
  /** inode, size and mtime of the file read; `''` when there is no file. */
  readonly signature: string
  readonly entries: ReadonlyMap<string, StoredToken>
}

/**
 * Creates a token store kept in one file, encrypted with AES-256-GCM (a fresh 96-bit IV per
 * write; the whole content, cache keys included, is encrypted and authenticated), so that
 * separate runs of a command share tokens:
 *
 * - writes are atomic (a temporary file with permissions 0600, fsync, rename) and serialised
 *   between processes by a lock file, so concurrent writers never lose each other's entries;
 * - `lease()` is a per-key lock file with stale-lock recovery: while one process requests a
 *   token, the others wait and then read the token it wrote (one token request, not one per
 *   process: essential for vendors where a new token revokes the previous one);
 * - reads are synchronous and cached until the file changes (the token client's hot path);
 * - a file that cannot be decrypted (another key) is treated as empty and replaced on the next
 *   write.
 *
 * @example
 * const store = createFileTokenStore({ path: '/home/me/.cache/tokenkeeper/tokens.cache' })
 * const clear = createClearCfc({ environment: 'india-sandbox', store })
 */
export function createFileTokenStore(options: FileTokenStoreOptions): FileTokenStore {
  if (typeof options?.path !== 'string' || options.path === '') {
    throw new ConfigurationError('createFileTokenStore: path must be a file path', {
      setting: 'path',
    })
  }
  const path = resolve(options.path)
  const key =
    options.key === undefined
      ? loadCacheKey(path, options.env ?? process.env)
      : typeof options.key === 'string'
        ? decodeCacheKey(options.key, 'key')
        : Buffer.from(options.key)
  if (key.length !== 32) {
    throw new ConfigurationError('createFileTokenStore: key must be 32 bytes', { setting: 'key' })
  }
  return new EncryptedFileTokenStore(path, key, options)
}

class EncryptedFileTokenStore implements FileTokenStore {
  readonly shared = true as const
  readonly path: string
  readonly #key: Buffer
  readonly #clock: Clock
  readonly #lockStaleAfter: number
  readonly #lockWaitTimeout: number
  readonly #onWarning: (message: string) => void
  #snapshot: Snapshot = { signature: '', entries: new Map() }
  #warned = false

  constructor(path: string, key: Buffer, options: FileTokenStoreOptions) {
    this.path = path
    this.#key = key
    this.#clock = options.clock ?? systemClock
    this.#lockStaleAfter = options.lockStaleAfter ?? 10_000
    this.#lockWaitTimeout = options.lockWaitTimeout ?? 10_000
    this.#onWarning = options.onWarning ?? (() => {})
  }

  get(key: string): StoredToken | undefined {
    const entry = this.#read().get(key)
    if (entry === undefined || isSpent(entry, this.#clock.now())) return undefined
    return entry
  }

  set(key: string, entry: StoredToken, options: StoreSetOptions = {}): Promise<boolean> {
    return this.#update((entries) => {
      const current = entries.get(key)
      if (
        options.expectedValue !== undefined &&
        current !== undefined &&
        current.value !== options.expectedValue
      ) {
        return false
      }
      entries.set(key, entry)
      return true
    })
  }

  invalidate(key: string, value: string): Promise<boolean> {
    return this.#update((entries) => {
      const current = entries.get(key)
      if (current === undefined || current.value !== value || current.rejected) return false
      entries.set(key, { ...current, rejected: true })
      return true
    })
  }

  async delete(key: string): Promise<void> {
    await this.#update((entries) => entries.delete(key))
  }

  async lease(key: string, options: LeaseOptions): Promise<TokenLease | null> {
    const digest = createHash('sha256').update(key).digest('hex').slice(0, 16)
    const held = await this.#guard(
      () =>
        acquireFileLock(`${this.path}.${digest}.lease`, {
          mode: 'lease',
          staleAfter: options.ttl,
          waitTimeout: options.waitTimeout,
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      options.signal,
    )
    if (held === null) return null
    return { release: async () => held.release() }
  }

  close(): void {}

  /** Read-modify-write under the write lock; writes only when `change` reports a change. */
  async #update(change: (entries: Map<string, StoredToken>) => boolean): Promise<boolean> {
    return this.#guard(async () => {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 })
      const lock = await acquireFileLock(`${this.path}.lock`, {
        mode: 'wait',
        staleAfter: this.#lockStaleAfter,
        waitTimeout: this.#lockWaitTimeout,
      })
      try {
        const now = this.#clock.now()
        const entries = new Map<string, StoredToken>()
        for (const [key, entry] of this.#read()) if (!isSpent(entry, now)) entries.set(key, entry)
        const changed = change(entries)
        if (changed) this.#write(entries)
        return changed
      } finally {
        lock?.release()
      }
    })
  }

  /** The entries of the file, re-read only when the file changed. */
  #read(): ReadonlyMap<string, StoredToken> {
    let signature: string
    try {
      const stat = statSync(this.path)
      signature = `${stat.ino}:${stat.size}:${stat.mtimeMs}`
    } catch (error) {
      if (isCode(error, 'ENOENT')) {
        if (this.#snapshot.signature !== '') this.#snapshot = { signature: '', entries: new Map() }
        return this.#snapshot.entries
      }
      throw storeError('read', this.path, error)
    }
    if (signature === this.#snapshot.signature) return this.#snapshot.entries
    let text: string
    try {
      text = readFileSync(this.path, 'utf8')
    } catch (error) {
      if (isCode(error, 'ENOENT')) return new Map()
      throw storeError('read', this.path, error)
    }
    this.#snapshot = { signature, entries: this.#decrypt(text) }
    return this.#snapshot.entries
  }

  #decrypt(text: string): Map<string, StoredToken> {
    try {
      const envelope = JSON.parse(text) as Partial<Envelope>
      if (envelope.format !== FORMAT || envelope.version !== VERSION) throw new Error('format')
      const decipher = createDecipheriv(
        'aes-256-gcm',
        this.#key,
        Buffer.from(String(envelope.iv), 'base64'),
      )
      decipher.setAAD(ASSOCIATED_DATA)
      decipher.setAuthTag(Buffer.from(String(envelope.tag), 'base64'))
      const plaintext = Buffer.concat([
        decipher.update(Buffer.from(String(envelope.data), 'base64')),
        decipher.final(),
      ]).toString('utf8')
      const parsed = JSON.parse(plaintext) as { entries?: Record<string, unknown> }
      const entries = new Map<string, StoredToken>()
      for (const [key, entry] of Object.entries(parsed.entries ?? {})) {
        if (isStoredToken(entry)) entries.set(key, entry)
      }
      return entries
    } catch {
      if (!this.#warned) {
        this.#warned = true
        this.#onWarning(
          `The token cache ${this.path} cannot be decrypted with the current key (or is damaged); it is ignored and will be replaced`,
        )
      }
      return new Map()
    }
  }

  #write(entries: ReadonlyMap<string, StoredToken>): void {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    cipher.setAAD(ASSOCIATED_DATA)
    const data = Buffer.concat([
      cipher.update(JSON.stringify({ entries: Object.fromEntries(entries) }), 'utf8'),
      cipher.final(),
    ])
    const envelope: Envelope = {
      format: FORMAT,
      version: VERSION,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    }
    const temporary = `${this.path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`
    try {
      const descriptor = openSync(temporary, 'wx', 0o600)
      try {
        writeSync(descriptor, `${JSON.stringify(envelope)}\n`)
        fsyncSync(descriptor)
      } finally {
        closeSync(descriptor)
      }
      renameSync(temporary, this.path)
    } catch (error) {
      rmSync(temporary, { force: true })
      throw storeError('write', this.path, error)
    }
    const stat = statSync(this.path)
    this.#snapshot = {
      signature: `${stat.ino}:${stat.size}:${stat.mtimeMs}`,
      entries: new Map(entries),
    }
  }

  /** File system failures become a `StoreError`; tokenkeeper errors and aborts pass through. */
  async #guard<T>(work: () => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await work()
    } catch (error) {
      if (TokenKeeperError.is(error) || signal?.aborted) throw error
      throw storeError('use', this.path, error)
    }
  }
}

function storeError(action: string, path: string, error: unknown): TokenKeeperError {
  if (TokenKeeperError.is(error)) return error
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'error'
  return new StoreError(`Cannot ${action} the token cache ${path} (${code})`, {
    retryable: code === 'EBUSY' || code === 'EAGAIN',
  })
}

function isStoredToken(value: unknown): value is StoredToken {
  if (typeof value !== 'object' || value === null) return false
  const entry = value as Partial<StoredToken>
  return (
    typeof entry.value === 'string' &&
    typeof entry.type === 'string' &&
    typeof entry.issuedAt === 'number' &&
    (entry.expiresAt === null || typeof entry.expiresAt === 'number')
  )
}
