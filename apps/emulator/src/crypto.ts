import {
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  randomUUID,
} from 'node:crypto'
import { promisify } from 'node:util'
import { EmulatorError } from './errors.ts'
import type { PublicKeyInput } from './types.ts'

const generateKeyPairAsync = promisify(generateKeyPair)

/** A new RSA-2048 key pair (generated off the main thread). */
export async function generateRsaKeyPair(): Promise<{
  privateKey: KeyObject
  publicKey: KeyObject
}> {
  return generateKeyPairAsync('rsa', { modulusLength: 2048 })
}

const processKeyPairs = new Map<string, Promise<{ privateKey: KeyObject; publicKey: KeyObject }>>()

/**
 * An RSA-2048 key pair generated once per process and role, shared by every emulator started in
 * it: generating RSA keys dominates start-up, and test suites start many emulators. Sharing is
 * safe because each emulator signs with its own origin as issuer and checks its own token
 * records, so a token never crosses from one emulator to another.
 */
export function processKeyPair(
  role: string,
): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  let pair = processKeyPairs.get(role)
  if (!pair) {
    pair = generateRsaKeyPair()
    processKeyPairs.set(role, pair)
    // A failed generation must not be cached.
    pair.catch(() => processKeyPairs.delete(role))
  }
  return pair
}

/** A new RSA-2048 key pair, generated synchronously (blocks for a fraction of a second). */
export function generateRsaKeyPairSync(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('rsa', { modulusLength: 2048 })
}

/** An opaque random token value (base64url, 43 characters = 256 bits). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}

/** A random GUID. */
export function guid(): string {
  return randomUUID()
}

/**
 * Imports an RSA public key from a JWK, a PEM string (public key, certificate or private key)
 * or a `KeyObject`. Private material is reduced to its public half.
 */
export function importPublicKey(input: PublicKeyInput, name: string): KeyObject {
  try {
    let key: KeyObject
    if (typeof input === 'string') key = createPublicKey(input)
    else if (isKeyObject(input)) key = input.type === 'public' ? input : createPublicKey(input)
    else key = createPublicKey({ key: publicJwk(input), format: 'jwk' })
    if (key.asymmetricKeyType !== 'rsa') throw new Error('not an RSA key')
    return key
  } catch (error) {
    throw new EmulatorError(
      'INVALID_OPTION',
      `${name} must be an RSA public key (JWK, PEM or KeyObject): ${(error as Error).message.split('\n')[0]}`,
    )
  }
}

function isKeyObject(value: unknown): value is KeyObject {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as KeyObject).export === 'function' &&
    typeof (value as KeyObject).type === 'string'
  )
}

/** Keeps only the public members of an RSA JWK (`createPublicKey` refuses private JWKs). */
function publicJwk(jwk: Record<string, unknown>): { kty: string; n: string; e: string } {
  return { kty: String(jwk.kty), n: String(jwk.n), e: String(jwk.e) }
}

/**
 * Remembers `jti` values until their assertion expires, so a replay inside its lifetime is
 * refused. Pruned lazily; bounded by what clients send within one assertion lifetime.
 */
export class ReplayCache {
  readonly #seen = new Map<string, number>()

  /** Records a `jti`; false when it was already seen and has not expired yet. */
  remember(key: string, expiresAtMs: number, nowMs: number): boolean {
    if (this.#seen.size > 10_000) {
      for (const [seenKey, expiry] of this.#seen) if (expiry < nowMs) this.#seen.delete(seenKey)
    }
    const previous = this.#seen.get(key)
    if (previous !== undefined && previous >= nowMs) return false
    this.#seen.set(key, expiresAtMs)
    return true
  }
}
