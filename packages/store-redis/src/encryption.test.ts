import { randomBytes } from 'node:crypto'
import { inspect } from 'node:util'
import { Secret } from '@tokenkeeper/auth-core'
import { describe, expect, it } from 'vitest'
import { EntryCipher, keyId, parseEncryptionKey } from './encryption.ts'

describe('parseEncryptionKey', () => {
  const bytes = randomBytes(32)

  it('accepts 32 bytes as a Buffer, hex, base64, base64url or a Secret', () => {
    for (const input of [
      bytes,
      new Uint8Array(bytes),
      bytes.toString('hex'),
      bytes.toString('base64'),
      bytes.toString('base64url'),
      new Secret(bytes.toString('base64')),
      ` ${bytes.toString('hex')}\n`,
    ]) {
      expect(parseEncryptionKey(input, 'encryptionKey').equals(bytes)).toBe(true)
    }
  })

  it('refuses anything else with a ConfigurationError that shows no key material', () => {
    const tooShort = randomBytes(31)
    for (const input of [
      tooShort,
      tooShort.toString('hex'),
      tooShort.toString('base64'),
      'passphrase-like-SECRET-1234',
      `${bytes.toString('hex')}00`,
      42 as unknown as string,
    ]) {
      let error: unknown
      try {
        parseEncryptionKey(input, 'encryptionKey')
      } catch (caught) {
        error = caught
      }
      expect(error).toMatchObject({ name: 'ConfigurationError', setting: 'encryptionKey' })
      const shown = inspect(error, { depth: 5 })
      expect(shown).not.toContain('SECRET-1234')
      expect(shown).not.toContain(tooShort.toString('hex'))
      expect(shown).not.toContain(tooShort.toString('base64'))
    }
  })
})

describe('EntryCipher', () => {
  const key = randomBytes(32)
  const cipher = new EntryCipher([key])
  const plaintext = '{"value":"TOKEN-sentinel-1"}'

  it('round-trips, with a fresh IV each time and the key id in the envelope', () => {
    const first = cipher.encrypt(plaintext, 'prefix:{a}:token')
    const second = cipher.encrypt(plaintext, 'prefix:{a}:token')
    expect(first).not.toBe(second)
    expect(first).not.toContain('TOKEN-sentinel-1')
    expect(JSON.parse(first)).toMatchObject({ v: 1, alg: 'A256GCM', kid: keyId(key) })
    expect(cipher.decrypt(first, 'prefix:{a}:token', 'entry')).toBe(plaintext)
    expect(cipher.decrypt(second, 'prefix:{a}:token', 'entry')).toBe(plaintext)
  })

  it('binds the ciphertext to its Redis key', () => {
    const envelope = cipher.encrypt(plaintext, 'prefix:{a}:token')
    expect(() => cipher.decrypt(envelope, 'prefix:{b}:token', 'entry')).toThrow(
      expect.objectContaining({ name: 'StoreError', retryable: false }),
    )
  })

  it('names the unknown key id when the key differs, and decrypts with a listed older key', () => {
    const old = randomBytes(32)
    const envelope = new EntryCipher([old]).encrypt(plaintext, 'k')
    expect(() => cipher.decrypt(envelope, 'k', 'entry')).toThrow(
      expect.objectContaining({
        name: 'ConfigurationError',
        message: expect.stringContaining(keyId(old)),
      }),
    )
    expect(new EntryCipher([key, old]).decrypt(envelope, 'k', 'entry')).toBe(plaintext)
  })

  it('rejects garbage as a malformed entry', () => {
    for (const text of ['', 'not json', '{"v":2}', '[]']) {
      expect(() => cipher.decrypt(text, 'k', 'entry')).toThrow(
        expect.objectContaining({ name: 'StoreError', retryable: false }),
      )
    }
  })

  it('key ids are stable and reveal nothing usable', () => {
    expect(keyId(key)).toBe(keyId(Buffer.from(key)))
    expect(keyId(key)).toMatch(/^[0-9a-f]{12}$/)
    expect(key.toString('hex')).not.toContain(keyId(key))
  })
})
