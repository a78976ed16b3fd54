import { randomBytes } from 'node:crypto'
import { isSpent, type StoredToken } from '@tokenkeeper/auth-core'
import { describe, expect, it } from 'vitest'
import { EntryCipher } from './encryption.ts'
import { EntryCodec, usefulUntil } from './entry-codec.ts'

const NOW = Date.parse('2026-01-01T00:00:00Z')
const base: StoredToken = { value: 'v', type: 'Bearer', expiresAt: NOW + 1000, issuedAt: NOW }

describe('usefulUntil', () => {
  it('agrees with the core’s isSpent', () => {
    const cases: StoredToken[] = [
      base,
      { ...base, expiresAt: null },
      { ...base, rejected: true },
      { ...base, state: { r: 1 } },
      { ...base, state: { r: 1 }, stateExpiresAt: NOW + 5000 },
      { ...base, state: { r: 1 }, stateExpiresAt: NOW - 5000 },
      { ...base, rejected: true, state: { r: 1 }, stateExpiresAt: NOW + 5000 },
      { ...base, rejected: true, state: { r: 1 }, stateExpiresAt: null },
      { ...base, expiresAt: NOW - 1 },
    ]
    for (const entry of cases) {
      for (const at of [NOW - 10_000, NOW, NOW + 999, NOW + 1000, NOW + 4999, NOW + 10_000]) {
        expect(usefulUntil(entry) > at, JSON.stringify({ entry, at })).toBe(!isSpent(entry, at))
      }
    }
  })
})

describe('EntryCodec', () => {
  const full: StoredToken = {
    ...base,
    scope: ['a', 'b'],
    state: { refreshToken: 'r', nested: [1, null, { x: true }] },
    stateExpiresAt: null,
  }

  it('round-trips an entry, with the rejected flag kept outside the data', () => {
    const codec = new EntryCodec(undefined)
    const encoded = codec.encode({ ...full, rejected: true }, 'k')
    expect(encoded).toMatchObject({ fmt: 'json', rej: '1', exp: String(NOW + 1000), sexp: '' })
    expect(JSON.parse(encoded.data)).not.toHaveProperty('rejected')
    expect(codec.decode([encoded.data, encoded.fmt, encoded.rej], 'k', 'entry')).toEqual({
      ...full,
      rejected: true,
    })
    expect(codec.decode([encoded.data, encoded.fmt, '0'], 'k', 'entry')).toEqual(full)
  })

  it('encodes the metadata the scripts need', () => {
    const codec = new EntryCodec(undefined)
    expect(codec.encode({ ...base, expiresAt: null }, 'k')).toMatchObject({ exp: '', sexp: 'none' })
    expect(codec.encode({ ...base, state: {}, stateExpiresAt: 7 }, 'k').sexp).toBe('7')
  })

  it('encrypts the data only, and reads back what it wrote', () => {
    const codec = new EntryCodec(new EntryCipher([randomBytes(32)]))
    const encoded = codec.encode(full, 'k')
    expect(encoded.fmt).toBe('a256gcm')
    expect(encoded.data).not.toContain('refreshToken')
    expect(codec.decode([encoded.data, encoded.fmt, encoded.rej], 'k', 'entry')).toEqual(full)
  })

  it('returns undefined for a missing entry and refuses malformed ones', () => {
    const codec = new EntryCodec(undefined)
    expect(codec.decode([null, null, null], 'k', 'entry')).toBeUndefined()
    for (const fields of [
      ['not json', 'json', '0'],
      ['{"value":""}', 'json', '0'],
      ['{"value":"v","type":"Bearer","expiresAt":"soon","issuedAt":1}', 'json', '0'],
      ['{}', 'rot13', '0'],
    ]) {
      expect(() => codec.decode(fields, 'k', 'entry')).toThrow(
        expect.objectContaining({ name: 'StoreError', retryable: false }),
      )
    }
  })
})
