import { randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import type { ResolvedAssertion } from './apiax-settings.ts'

/** RFC 7523 §2.2: how a JWT client assertion is labelled in the token request. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/**
 * Seconds a client assertion stays valid. Keycloak rejects assertions that live long or whose
 * `jti` it has seen, so each request gets a fresh, short-lived one.
 */
export const CLIENT_ASSERTION_LIFETIME = 60

/**
 * Signs the 2FA client assertion for one token request (RFC 7523): RS256, `iss` = `sub` = the
 * client id Apiax assigned, `aud` = the exact token URL, a fresh `jti`, `iat` now and `exp` a
 * minute later, on the token client's clock.
 */
export async function signClientAssertion(
  assertion: ResolvedAssertion,
  tokenUrl: string,
  nowMs: number,
): Promise<string> {
  const issuedAt = Math.floor(nowMs / 1000)
  return new SignJWT({})
    .setProtectedHeader({
      alg: 'RS256',
      typ: 'JWT',
      ...(assertion.keyId ? { kid: assertion.keyId } : {}),
    })
    .setIssuer(assertion.clientId)
    .setSubject(assertion.clientId)
    .setAudience(tokenUrl)
    .setJti(randomUUID())
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + CLIENT_ASSERTION_LIFETIME)
    .sign(assertion.privateKey)
}
