import type { TransportResponse } from '@tokenkeeper/auth-core'
import fc from 'fast-check'

/** Strings that parsers and validators are known to trip over. */
const NASTY = [
  '',
  ' ',
  '\t\n',
  'null',
  'undefined',
  'true',
  '0',
  '-1',
  '1.5',
  '1e309',
  '-0',
  'NaN',
  'Infinity',
  '9'.repeat(30),
  '9'.repeat(400),
  '0x10',
  '<!DOCTYPE html><html><body>Sign in</body></html>',
  '{',
  '{"access_token":',
  '[]',
  '\u0000',
  '\uD800',
  '\uDFFF\uD800',
  '%',
  '%E0%A4%A',
  'bearer',
  'Bearer x y',
  'https://example.com',
  'https://example.com/path?query=1#fragment',
  'https://user:pass@example.com',
  'http://127.0.0.1:1',
  'http://evil.example',
  'http://[::1]:1',
  'ftp://example.com',
  'redis://127.0.0.1:1',
  '//example.com',
  'javascript:alert(1)',
  '2026-01-01T00:00:00Z',
  '2026-01-01T00:00:00',
  '2026-02-30T00:00:00Z',
  '2026-01-01T24:00:00+00:00',
  '+275760-09-13T00:00:00.000Z',
  '-271821-04-20T00:00:00Z',
  'Thu, 01 Jan 2026 00:00:00 GMT',
  'Fri, 31 Dec 9999 23:59:59 GMT',
  '1767225600',
  '1767225600000',
  '3600 seconds',
  'tomorrow',
  'a'.repeat(5_000),
]

/** Any string: printable, any code unit (lone surrogates included), or a known troublemaker. */
export const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(...NASTY),
)

/** Numbers at and beyond every edge. */
export const number = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(
    0,
    -0,
    -1,
    1,
    0.5,
    59,
    3600,
    1e11,
    1e15,
    8.64e15,
    8.64e15 + 1,
    1e300,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_VALUE,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
  ),
)

/** Any JSON value, or a string or number from above. */
export const value: fc.Arbitrary<unknown> = fc.oneof(
  text,
  number,
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 2 }),
)

const base64url = (data: unknown) => Buffer.from(JSON.stringify(data)).toString('base64url')

/** JWT-shaped strings with arbitrary claims (the signature is never checked by clients). */
export const jwtLike = fc
  .record({ exp: value, iat: value, nbf: value }, { requiredKeys: [] })
  .map((claims) => `${base64url({ alg: 'RS256', typ: 'JWT' })}.${base64url(claims)}.c2ln`)

/** An ISO date-time, sometimes impossible, with or without an offset. */
export const isoLike = fc
  .record({
    date: fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }),
    cut: fc.integer({ min: 10, max: 24 }),
    suffix: fc.constantFrom('', 'Z', '+00:00', '+05:30', '-23:59', '+24:00', '+0530'),
  })
  .map(({ date, cut, suffix }) => `${date.toISOString().slice(0, cut)}${suffix}`)

/** Fields of a token answer of any vendor, each present or not, with any value. */
export const tokenBody = fc.record(
  {
    access_token: fc.oneof(text, jwtLike, value),
    'access-token': fc.oneof(text, value),
    expires_in: fc.oneof(number, text, value),
    token_type: fc.oneof(fc.constantFrom('Bearer', 'bearer', 'MAC', 'Bearer x'), text, value),
    scope: fc.oneof(text, fc.array(text, { maxLength: 3 }), value),
    refresh_token: fc.oneof(text, value),
    refresh_expires_in: fc.oneof(number, value),
    valid_till: fc.oneof(isoLike, text, number, fc.constant(null)),
    error: fc.oneof(text, value),
    error_description: fc.oneof(text, value),
    errors: fc.oneof(
      fc.array(
        fc.record(
          { error_code: value, error_message: value, error_id: value },
          { requiredKeys: [] },
        ),
        { maxLength: 2 },
      ),
      value,
    ),
  },
  { requiredKeys: [] },
)

/** A plausible token answer for a vendor (so generated settings reach the whole pipeline). */
export const goodTokenBody = fc.record({
  access_token: fc.oneof(fc.constantFrom('opaque-token-value', 'a.b.c'), jwtLike),
  expires_in: fc.oneof(fc.integer({ min: 1, max: 86_400 }), number),
  token_type: fc.constantFrom('Bearer', 'bearer'),
  refresh_token: fc.constantFrom('refresh-token-value', 'another-refresh-token'),
  valid_till: fc.oneof(isoLike, fc.constant(null)),
})

/** A response body: token-shaped JSON (whole or cut), any JSON, any text, HTML. */
export const body = fc.oneof(
  tokenBody.map((fields) => JSON.stringify(fields)),
  fc.tuple(tokenBody, fc.nat()).map(([fields, cut]) => {
    const whole = JSON.stringify(fields)
    return whole.slice(0, cut % (whole.length + 1))
  }),
  goodTokenBody.map((fields) => JSON.stringify(fields)),
  fc.json({ maxDepth: 2 }),
  text,
)

/** HTTP dates, real or not. */
export const httpDate = fc.oneof(
  fc
    .date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true })
    .map((date) => date.toUTCString()),
  fc.constantFrom(
    new Date(8.64e15).toUTCString(),
    new Date(-8.64e15).toUTCString(),
    new Date(8.64e15).toISOString(),
    'Fri, 31 Dec 9999 23:59:59 GMT',
  ),
  text,
)

/** Response headers a token endpoint might send (names in lower case, as transports give them). */
export const headers: fc.Arbitrary<Record<string, string>> = fc.record(
  {
    'retry-after': fc.oneof(fc.nat().map(String), httpDate, text),
    date: httpDate,
    'content-type': fc.oneof(
      fc.constantFrom('application/json', 'text/html; charset=utf-8', 'text/plain'),
      text,
    ),
  },
  { requiredKeys: [] },
)

/** Statuses, common first. */
export const status = fc.oneof(
  fc.constantFrom(200, 201, 204, 302, 400, 401, 403, 404, 408, 429, 500, 502, 503),
  fc.integer({ min: 100, max: 599 }),
)

/** A whole transport response. */
export const response: fc.Arbitrary<TransportResponse> = fc.record({ status, headers, body })

/** A 2xx response whose body is (often) a plausible token answer. */
export const successResponse: fc.Arbitrary<TransportResponse> = fc.record({
  status: fc.constantFrom(200, 201),
  headers,
  body: fc.oneof(
    goodTokenBody.map((fields) => JSON.stringify(fields)),
    body,
  ),
})

/** A local time within a few centuries of now. */
export const epochMs = fc.oneof(
  fc.integer({ min: 0, max: 8_000_000_000_000 }),
  fc.constantFrom(Date.parse('2026-01-01T00:00:00Z'), Date.parse('2026-12-31T23:59:59.999Z')),
)

/** An environment map that may hold any of `names`, with any text. */
export function environment(names: readonly string[]): fc.Arbitrary<Record<string, string>> {
  return fc.dictionary(fc.constantFrom(...names), text, { maxKeys: names.length })
}

/** A settings object that may hold any of `names`, each with any value. */
export function settings(
  names: readonly string[],
  overrides: Record<string, fc.Arbitrary<unknown>> = {},
): fc.Arbitrary<Record<string, unknown>> {
  const fields: Record<string, fc.Arbitrary<unknown>> = {}
  for (const name of names) fields[name] = overrides[name] ?? value
  return fc.record(fields, { requiredKeys: [] })
}
