import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { ConfigurationError, revealSecret, Secret, StoreError } from '@tokenkeeper/auth-core'

/** A 256-bit key: 32 bytes, 64 hex digits, or base64/base64url of 32 bytes. */
export type EncryptionKeyInput = Uint8Array | string | Secret

const ALGORITHM = 'aes-256-gcm'
const IV_BYTES = 12
const TAG_BYTES = 16
const HEX_KEY = /^[0-9a-fA-F]{64}$/
const BASE64_KEY = /^[A-Za-z0-9+/_-]{43}=?$/

/** The encrypted form of an entry as stored in Redis (JSON). */
interface Envelope {
  /** Envelope format version. */
  readonly v: 1
  readonly alg: 'A256GCM'
  /** Which key encrypted it (a non-secret hash prefix of the key). */
  readonly kid: string
  readonly iv: string
  readonly ct: string
  readonly tag: string
}

interface Key {
  readonly id: string
  readonly bytes: Buffer
}

/**
 * Reads a 256-bit key without ever putting key material into an error message.
 *
 * @param setting The option name for messages, e.g. `encryptionKey`.
 */
export function parseEncryptionKey(input: EncryptionKeyInput, setting: string): Buffer {
  const bad = () =>
    new ConfigurationError(
      `Redis token store: ${setting} must be 32 bytes: a Buffer, 64 hex digits, or base64 (e.g. the output of \`openssl rand -base64 32\`)`,
      { setting },
    )
  if (input instanceof Uint8Array) {
    if (input.byteLength !== 32) throw bad()
    return Buffer.from(input)
  }
  if (typeof input !== 'string' && !(input instanceof Secret)) throw bad()
  const text = revealSecret(input).trim()
  if (HEX_KEY.test(text)) return Buffer.from(text, 'hex')
  if (BASE64_KEY.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
    if (bytes.byteLength === 32) return bytes
  }
  throw bad()
}

/** A non-secret identifier of a key, stored with each envelope so readers pick the right key. */
export function keyId(key: Buffer): string {
  return createHash('sha256')
    .update('tokenkeeper-store-redis:key-id:')
    .update(key)
    .digest('hex')
    .slice(0, 12)
}

/**
 * AES-256-GCM for entries at rest: a random 96-bit IV per write, the key id in the envelope,
 * and the entry's Redis key name as additional authenticated data (an entry copied to another
 * key does not decrypt).
 */
export class EntryCipher {
  readonly #current: Key
  readonly #keys: ReadonlyMap<string, Key>

  /** @param keys The key to write with first, then older keys still accepted for reading. */
  constructor(keys: readonly Buffer[]) {
    const parsed = keys.map((bytes) => ({ id: keyId(bytes), bytes }))
    const current = parsed[0]
    if (current === undefined) throw new Error('EntryCipher needs at least one key')
    this.#current = current
    this.#keys = new Map(parsed.map((key) => [key.id, key]))
  }

  /** Id of the key new entries are encrypted with. */
  get keyId(): string {
    return this.#current.id
  }

  encrypt(plaintext: string, associatedData: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv(ALGORITHM, this.#current.bytes, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(Buffer.from(associatedData, 'utf8'))
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    const envelope: Envelope = {
      v: 1,
      alg: 'A256GCM',
      kid: this.#current.id,
      iv: iv.toString('base64url'),
      ct: ciphertext.toString('base64url'),
      tag: cipher.getAuthTag().toString('base64url'),
    }
    return JSON.stringify(envelope)
  }

  /**
   * @param where A non-secret description of the entry for messages.
   * @throws ConfigurationError when the entry was encrypted with a key this store does not have.
   * @throws StoreError when the envelope is malformed or fails authentication.
   */
  decrypt(text: string, associatedData: string, where: string): string {
    const envelope = readEnvelope(text)
    if (envelope === undefined) {
      throw new StoreError(`Redis token store: ${where} is not a valid encrypted entry`, {
        retryable: false,
      })
    }
    const key = this.#keys.get(envelope.kid)
    if (key === undefined) {
      throw new ConfigurationError(
        `Redis token store: ${where} was encrypted with key ${envelope.kid}, which this process does not have (its key is ${this.#current.id}); give every process the same encryptionKey, and list the previous key in decryptionKeys while rotating`,
        { setting: 'encryptionKey' },
      )
    }
    try {
      const decipher = createDecipheriv(
        ALGORITHM,
        key.bytes,
        Buffer.from(envelope.iv, 'base64url'),
        {
          authTagLength: TAG_BYTES,
        },
      )
      decipher.setAAD(Buffer.from(associatedData, 'utf8'))
      decipher.setAuthTag(Buffer.from(envelope.tag, 'base64url'))
      return Buffer.concat([
        decipher.update(Buffer.from(envelope.ct, 'base64url')),
        decipher.final(),
      ]).toString('utf8')
    } catch {
      throw new StoreError(
        `Redis token store: ${where} failed authentication (it was altered, moved to another key, or written with a different key that has the same id)`,
        { retryable: false },
      )
    }
  }
}

function readEnvelope(text: string): Envelope | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined
  const envelope = parsed as Record<string, unknown>
  if (
    envelope.v !== 1 ||
    envelope.alg !== 'A256GCM' ||
    typeof envelope.kid !== 'string' ||
    typeof envelope.iv !== 'string' ||
    typeof envelope.ct !== 'string' ||
    typeof envelope.tag !== 'string'
  ) {
    return undefined
  }
  return envelope as unknown as Envelope
}
