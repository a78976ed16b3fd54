import { createPrivateKey, type JsonWebKey, type KeyObject, randomUUID } from 'node:crypto'
import { ConfigurationError, Secret } from '@tokenkeeper/auth-core'
import { importPKCS8, SignJWT } from 'jose'
import { VENDOR } from './clearid-environments.ts'

/**
 * A private key for the JWT assertion: a PEM string (PKCS#8 `BEGIN PRIVATE KEY` or PKCS#1
 * `BEGIN RSA PRIVATE KEY`), a JWK as JSON text, either wrapped in a `Secret`, or a JWK object
 * (`kty: 'RSA'` with the private members `d`, `p`, `q`, ...).
 */
export type ClearIdPrivateKeyInput = string | Secret | JsonWebKey

/** The `aud` claim ClearID's STS expects in an assertion: a literal string, not a URL. */
export const CLEARID_ASSERTION_AUDIENCE = 'iams-sts'

/** The JWS algorithm ClearID uses for assertions. */
export const CLEARID_ASSERTION_ALGORITHM = 'RS512'

/** `iat` and `nbf` are set this many seconds in the past, so a server clock behind ours accepts them. */
const BACKDATE_SECONDS = 30
/** The assertion is valid this many seconds; it is used once, at once. */
const LIFETIME_SECONDS = 300
/** jose refuses shorter RSA keys for RS512, and so should we, with a clearer message. */
const MIN_MODULUS_BITS = 2048

/**
 * Turns a private key setting into a validated RSA private key. `label` names the option or
 * variable the value came from. Errors never quote the key.
 */
export function readPrivateKey(input: unknown, label: string): KeyObject {
  const fail = (problem: string): never => {
    throw new ConfigurationError(`${VENDOR}: ${label} ${problem}`, { setting: 'privateKey' })
  }
  const value = input instanceof Secret ? input.reveal() : input
  let key: KeyObject
  if (typeof value === 'string') {
    key = fromText(value, fail)
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    key = fromJwk(value as JsonWebKey, fail)
  } else {
    return fail('must be a PEM string, a JWK (object or JSON text) or a Secret holding one')
  }
  if (key.asymmetricKeyType !== 'rsa') {
    fail(
      `is a ${key.asymmetricKeyType ?? 'non-RSA'} key; ClearID assertions are signed with RS512 and need an RSA key`,
    )
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
  if (bits < MIN_MODULUS_BITS) {
    fail(`is a ${bits}-bit RSA key; RS512 needs at least ${MIN_MODULUS_BITS} bits`)
  }
  return key
}

function fromText(raw: string, fail: (problem: string) => never): KeyObject {
  let text = raw.trim()
  if (text.length === 0) return fail('is empty')
  if (text.startsWith('{')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return fail('looks like JSON but is not valid JSON (expected a JWK)')
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return fail('is JSON but not a JWK object')
    }
    return fromJwk(parsed as JsonWebKey, fail)
  }
  // Environment variables and .env files often hold a PEM on one line with literal "\n".
  if (!text.includes('\n') && text.includes('\\n')) text = text.replace(/(?:\\r)?\\n/g, '\n')
  if (text.includes('-----BEGIN')) {
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(text)) {
      fail(
        'is an encrypted PEM key; decrypt it first (e.g. openssl pkey -in key.pem -out plain.pem)',
      )
    }
    if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(text)) {
      fail(
        'is a PEM block but not a private key (a public key or certificate?); ClearID needs the private key',
      )
    }
    try {
      return createPrivateKey({ key: text, format: 'pem' })
    } catch (error) {
      return fail(`is a PEM private key that cannot be read${codeOf(error)}`)
    }
  }
  // Bare base64 DER (PKCS#8, then PKCS#1), as some tools export it without the PEM armour.
  if (/^[A-Za-z0-9+/=\s]+$/.test(text) && text.length > 256) {
    const der = Buffer.from(text.replace(/\s+/g, ''), 'base64')
    for (const type of ['pkcs8', 'pkcs1'] as const) {
      try {
        return createPrivateKey({ key: der, format: 'der', type })
      } catch {
        // try the next encoding
      }
    }
  }
  return fail(
    'is not a PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----) or a JWK',
  )
}

function fromJwk(jwk: JsonWebKey, fail: (problem: string) => never): KeyObject {
  if (jwk.kty !== 'RSA') {
    return fail(
      `is a JWK with kty ${typeof jwk.kty === 'string' ? JSON.stringify(jwk.kty) : 'missing'}; ClearID needs an RSA key (kty "RSA")`,
    )
  }
  if (typeof jwk.d !== 'string') {
    return fail('is a public JWK (it has no "d" member); ClearID needs the private key')
  }
  try {
    return createPrivateKey({ key: jwk, format: 'jwk' })
  } catch (error) {
    return fail(`is an RSA JWK that cannot be read${codeOf(error)}`)
  }
}

/** The Node error code of a key parsing failure; Node's messages never contain the key. */
function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' ? ` (${code})` : ''
}

/** A key ready to sign assertions (a non-extractable WebCrypto key). */
export type ClearIdSigningKey = Awaited<ReturnType<typeof importPKCS8>>

/**
 * Imports a validated private key for RS512 signing. PKCS#1 and JWK keys go through PKCS#8,
 * the one format jose's `importPKCS8` reads.
 */
export function importSigningKey(key: KeyObject): Promise<ClearIdSigningKey> {
  const pkcs8 = key.export({ type: 'pkcs8', format: 'pem' }).toString()
  return importPKCS8(pkcs8, CLEARID_ASSERTION_ALGORITHM, { extractable: false })
}

/** Input of {@link createClearIdAssertion}. */
export interface ClearIdAssertionInput {
  /** The integration's client id; it is the `kid`, `iss` and `sub` of the assertion. */
  clientId: string
  key: ClearIdSigningKey
  /** Local epoch ms (the token client's clock). */
  now: number
}

/**
 * Signs the RFC 7523 client assertion ClearID's STS accepts with
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`: header `{ alg: 'RS512', kid:
 * clientId, typ: 'JWT' }`, claims `iss = sub = clientId`, `aud = 'iams-sts'`, a fresh random
 * `jti`, `iat` and `nbf` 30 s in the past, `exp` 5 min ahead.
 */
export function createClearIdAssertion(input: ClearIdAssertionInput): Promise<string> {
  const now = Math.floor(input.now / 1000)
  return new SignJWT({})
    .setProtectedHeader({ alg: CLEARID_ASSERTION_ALGORITHM, kid: input.clientId, typ: 'JWT' })
    .setIssuer(input.clientId)
    .setSubject(input.clientId)
    .setAudience(CLEARID_ASSERTION_AUDIENCE)
    .setJti(randomUUID())
    .setIssuedAt(now - BACKDATE_SECONDS)
    .setNotBefore(now - BACKDATE_SECONDS)
    .setExpirationTime(now + LIFETIME_SECONDS)
    .sign(input.key)
}
