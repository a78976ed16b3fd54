import { errors as joseErrors } from 'jose'

/**
 * Decodes an `Authorization: Basic` header (RFC 7617, with the RFC 6749 §2.3.1 form-encoding of
 * each part). Returns `undefined` when absent or malformed.
 */
export function parseBasic(
  header: string | undefined,
): { user: string; password: string } | undefined {
  const match = /^Basic +([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? '')
  if (!match) return undefined
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  try {
    return {
      user: formDecode(decoded.slice(0, colon)),
      password: formDecode(decoded.slice(colon + 1)),
    }
  } catch {
    return undefined
  }
}

/** `application/x-www-form-urlencoded` decoding of one value (`+` is a space). */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '))
}

/** A short, secret-free description of why jose refused a JWT. */
export function describeJoseError(error: unknown, what: string): string {
  if (error instanceof joseErrors.JWTExpired) return `The ${what} has expired`
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return `The ${what} claim "${error.claim}" is invalid (${error.reason})`
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return `The ${what} signature is invalid`
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return `The ${what} algorithm is not allowed`
  return `The ${what} is malformed`
}

/** Whether an `iat` claim (seconds) lies beyond the leeway in the future. */
export function issuedInFuture(
  issuedAt: unknown,
  nowMs: number,
  toleranceSeconds: number,
): boolean {
  return typeof issuedAt === 'number' && issuedAt * 1000 > nowMs + toleranceSeconds * 1000
}
