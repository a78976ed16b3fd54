import {
  readOAuthError,
  redactSecrets,
  type TokenEndpointError,
  type TransportResponse,
  tokenEndpointError,
} from '@tokenkeeper/auth-core'
import { VENDOR } from './clearid-environments.ts'
import type { ClearIdGrant } from './clearid-settings.ts'

/** What the error mapping needs to know about the request that failed. */
export interface ClearIdErrorContext {
  readonly grant: ClearIdGrant
  /** Local epoch ms, for `Retry-After`. */
  readonly now: number
  /** The token endpoint that answered, for hints about a wrong `stsUrl`. */
  readonly tokenUrl: string
  /**
   * Secret values sent in the request (client secret, assertion). A server answer that echoes
   * one (raw, URL- or form-encoded) has it replaced with `[redacted]`.
   */
  readonly sentSecrets: readonly string[]
}

const ASSERTION = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

/** What to check for a rejected credential, per grant. */
function credentialHint(grant: ClearIdGrant): string {
  return grant === ASSERTION
    ? 'Check clientId and privateKey: the assertion must be signed with the private key of this API integration, and regenerating the key in the ClearID portal invalidates the old one at once. Also check that stsUrl/environment is the environment (demo, global, eu) where the integration was created'
    : 'Check clientId and clientSecret: the integration may have been deleted or its key regenerated in the ClearID portal, which invalidates the old one at once. Also check that stsUrl/environment is the environment (demo, global, eu) where the integration was created'
}

/** The hint for an IdentityServer error code, or for a status when the body had none. */
function hintFor(
  oauthError: string | undefined,
  status: number,
  context: ClearIdErrorContext,
): string | undefined {
  const grant = context.grant
  switch (oauthError) {
    case 'invalid_client':
      return credentialHint(grant)
    case 'invalid_grant':
      return grant === ASSERTION
        ? 'The STS refused the assertion: check that this machine\u2019s clock is correct (the assertion carries iat/nbf/exp), that privateKey belongs to clientId, and that the key was not regenerated in the ClearID portal'
        : credentialHint(grant)
    case 'unauthorized_client':
      return `This client may not use the ${grant} grant; check the API integration in the ClearID portal (Administration > API integrations)${grant === ASSERTION ? ', or use its clientSecret instead of privateKey' : ''}`
    case 'unsupported_grant_type':
      return `The STS does not support the ${grant} grant; check that stsUrl points at a ClearID STS (e.g. https://sts.clearid.io)`
    case 'invalid_request':
      return 'The STS found the request malformed; check clientId (it has the form <guid>:<accountId>) and stsUrl'
    case 'invalid_scope':
      return 'The STS refused the requested scope; check the API integration in the ClearID portal'
  }
  if (status === 401 || status === 403) return credentialHint(grant)
  if (status === 404 || status === 405) {
    return `There is no token endpoint at ${safeOrigin(context.tokenUrl)}; check stsUrl (or environment)`
  }
  if (status >= 300 && status < 400) {
    return 'The STS answered with a redirect, which is not followed; check stsUrl (use the https:// STS base URL, e.g. https://sts.clearid.io)'
  }
  if (status === 429) {
    return 'ClearID is rate limiting token requests; tokens are cached, so many processes sharing one integration may need a shared store'
  }
  if (status >= 500) return 'The ClearID STS is unavailable; the request is retried with backoff'
  if (status >= 400) return 'Check clientId, the credential and stsUrl (or environment)'
  return undefined
}

/**
 * Maps an error answer of ClearID's STS (IdentityServer: HTTP 400 with `error` and
 * `error_description`) to a {@link TokenEndpointError} whose message says which setting is
 * probably wrong. 400/401/403 are not retryable; 429 and 5xx are (the core decides from the
 * status). The request and raw body are never quoted; an echoed secret in the quoted
 * `error`/`error_description` is redacted.
 */
export function clearIdTokenError(
  response: TransportResponse,
  context: ClearIdErrorContext,
): TokenEndpointError {
  // Redacted in the body first: the description is shortened when read, and a cut through an
  // echoed secret would leave a piece that no longer matches it.
  const { error, errorDescription } = readOAuthError({
    ...response,
    body: redactSecrets(response.body, context.sentSecrets),
  })
  const hint = hintFor(error, response.status, context)
  return tokenEndpointError(response, {
    vendor: VENDOR,
    now: context.now,
    ...(error ? { oauthError: error } : {}),
    ...(errorDescription ? { description: errorDescription } : {}),
    ...(hint ? { hint } : {}),
    // Again after parsing, for spellings only JSON unescaping reveals.
    secrets: context.sentSecrets,
  })
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return 'the configured STS'
  }
}
