import { createPrivateKey, type KeyObject, randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'

/** POSTs an `application/x-www-form-urlencoded` body. */
export function postForm(
  url: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  })
}

/** RFC 6749 §2.3.1 Basic credentials: each part form-encoded, then base64. */
export function basic(user: string, password: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+')
  return `Basic ${Buffer.from(`${encode(user)}:${encode(password)}`).toString('base64')}`
}

/** Sends JSON with a method. */
export function sendJson(
  url: string,
  method: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

/** Decodes a JWT's header and payload without verifying it. */
export function decodeJwtParts(token: string): {
  header: Record<string, unknown>
  payload: Record<string, unknown>
} {
  const [header, payload] = token.split('.')
  return {
    header: JSON.parse(Buffer.from(header!, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')),
  }
}

/** Signs a JWT assertion with overridable claims (epoch seconds from `nowMs`). */
export function signAssertion(
  key: KeyObject | string,
  options: {
    alg: 'RS256' | 'RS512'
    issuer: string
    subject?: string
    audience: string
    nowMs: number
    lifetime?: number
    jti?: string | null
    kid?: string
  },
): Promise<string> {
  const privateKey = typeof key === 'string' ? createPrivateKey(key) : key
  const issuedAt = Math.floor(options.nowMs / 1000)
  const jwt = new SignJWT({})
    .setProtectedHeader({
      alg: options.alg,
      typ: 'JWT',
      ...(options.kid ? { kid: options.kid } : {}),
    })
    .setIssuer(options.issuer)
    .setSubject(options.subject ?? options.issuer)
    .setAudience(options.audience)
    .setIssuedAt(issuedAt)
    .setNotBefore(issuedAt)
    .setExpirationTime(issuedAt + (options.lifetime ?? 60))
  if (options.jti !== null) jwt.setJti(options.jti ?? randomUUID())
  return jwt.sign(privateKey)
}
