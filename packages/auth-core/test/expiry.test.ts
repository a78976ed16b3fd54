import { describe, expect, it } from 'vitest'
import { computeExpiry, parseAbsoluteTime, serverSkew } from '../src/index.ts'

const sentAt = Date.parse('2026-03-01T12:00:00.000Z')
const exchange = { sentAt, receivedAt: sentAt + 200 }
const options = { vendor: 'test', defaultLifetime: 300 }

/** An unsigned JWT with the given claims (signature is irrelevant to expiry). */
function jwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${encode({ alg: 'RS512', typ: 'at+jwt' })}.${encode(claims)}.c2lnbmF0dXJl`
}

describe('computeExpiry', () => {
  it('anchors expires_in at the moment the request was sent', () => {
    expect(computeExpiry({ value: 'x', expiresIn: 3600 }, exchange, options)).toBe(
      sentAt + 3600_000,
    )
  })

  it('corrects absolute expiries by the server clock skew from Date', () => {
    // The server clock is 5 minutes ahead: its valid_till of 13:05 is 13:00 on our clock.
    const date = new Date(sentAt + 5 * 60_000).toUTCString()
    const expiresAt = computeExpiry(
      { value: 'x', expiresAt: '2026-03-01T13:05:00+00:00' },
      { ...exchange, date },
      options,
    )
    expect(expiresAt).toBeGreaterThanOrEqual(Date.parse('2026-03-01T13:00:00Z') - 1000)
    expect(expiresAt).toBeLessThanOrEqual(Date.parse('2026-03-01T13:00:00Z'))

    const behind = new Date(sentAt - 5 * 60_000).toUTCString()
    const later = computeExpiry(
      { value: 'x', expiresAt: '2026-03-01T12:55:00Z' },
      { ...exchange, date: behind },
      options,
    )
    expect(later).toBeGreaterThanOrEqual(Date.parse('2026-03-01T13:00:00Z') - 1000)
    expect(later).toBeLessThanOrEqual(Date.parse('2026-03-01T13:00:00Z'))
  })

  it('ignores sub-second differences that the Date header cannot resolve', () => {
    expect(serverSkew({ ...exchange, date: new Date(sentAt).toUTCString() })).toBe(0)
    expect(serverSkew({ ...exchange, date: 'not a date' })).toBe(0)
  })

  it('takes the earlier of expires_in and the JWT exp', () => {
    const exp = Math.floor((sentAt + 1800_000) / 1000)
    expect(
      computeExpiry({ value: jwt({ exp }), jwt: true, expiresIn: 3600 }, exchange, options),
    ).toBe(exp * 1000)
    const lateExp = Math.floor((sentAt + 7200_000) / 1000)
    expect(
      computeExpiry(
        { value: jwt({ exp: lateExp }), jwt: true, expiresIn: 3600 },
        exchange,
        options,
      ),
    ).toBe(sentAt + 3600_000)
  })

  it('never parses opaque tokens as JWTs', () => {
    const lookalike = jwt({ exp: Math.floor((sentAt + 60_000) / 1000) })
    expect(computeExpiry({ value: lookalike, expiresIn: 3600 }, exchange, options)).toBe(
      sentAt + 3600_000,
    )
  })

  it('uses the default lifetime when nothing is given, and null for never', () => {
    expect(computeExpiry({ value: 'x' }, exchange, options)).toBe(sentAt + 300_000)
    expect(computeExpiry({ value: 'x', neverExpires: true }, exchange, options)).toBeNull()
  })

  it.each([
    ['negative', -5],
    ['zero', 0],
    ['absurdly large', 1e12],
    ['not finite', Number.NaN],
  ])('rejects an expires_in that is %s', (_, expiresIn) => {
    expect(() => computeExpiry({ value: 'x', expiresIn }, exchange, options)).toThrowError(
      expect.objectContaining({ code: 'INVALID_TOKEN_RESPONSE' }),
    )
  })

  it('rejects an absolute expiry in the past or absurdly far away', () => {
    expect(() =>
      computeExpiry({ value: 'x', expiresAt: '2026-03-01T11:00:00Z' }, exchange, options),
    ).toThrow(/already expired/)
    expect(() =>
      computeExpiry({ value: 'x', expiresAt: '2999-01-01T00:00:00Z' }, exchange, options),
    ).toThrow(/not plausible/)
  })

  it('rejects a JWT that cannot be decoded', () => {
    expect(() => computeExpiry({ value: 'not-a-jwt', jwt: true }, exchange, options)).toThrowError(
      expect.objectContaining({ code: 'INVALID_TOKEN_RESPONSE' }),
    )
  })
})

describe('parseAbsoluteTime', () => {
  it('reads epoch seconds, epoch ms and ISO 8601 (UTC when no offset)', () => {
    const ms = Date.parse('2026-03-01T13:00:00Z')
    expect(parseAbsoluteTime(ms / 1000, 'v')).toBe(ms)
    expect(parseAbsoluteTime(ms, 'v')).toBe(ms)
    expect(parseAbsoluteTime(String(ms / 1000), 'v')).toBe(ms)
    expect(parseAbsoluteTime('2026-03-01T13:00:00+00:00', 'v')).toBe(ms)
    expect(parseAbsoluteTime('2026-03-01T18:30:00+05:30', 'v')).toBe(ms)
    expect(parseAbsoluteTime('2026-03-01T13:00:00', 'v')).toBe(ms)
    expect(parseAbsoluteTime('2026-03-01T13:00:00.000Z', 'v')).toBe(ms)
  })

  it.each(['tomorrow', '', '2026-13-45T99:00:00Z', 'Sun, 01 Mar 2026'])('rejects %j', (value) => {
    expect(() => parseAbsoluteTime(value, 'v')).toThrowError(
      expect.objectContaining({ code: 'INVALID_TOKEN_RESPONSE' }),
    )
  })

  it('rejects non-positive numbers', () => {
    expect(() => parseAbsoluteTime(-1, 'v')).toThrow()
    expect(() => parseAbsoluteTime(Number.POSITIVE_INFINITY, 'v')).toThrow()
  })
})

describe('computeExpiry without a stated expiry', () => {
  it('throws if the exchange took longer than the default lifetime', () => {
    expect(() =>
      computeExpiry(
        { value: 'x' },
        { sentAt, receivedAt: sentAt + 400_000 },
        { vendor: 'v', defaultLifetime: 300 },
      ),
    ).toThrow(/already expired/)
  })
})
