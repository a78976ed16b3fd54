import {
  excerpt,
  readOAuthError,
  redactSecrets,
  type SecretInput,
  type TokenEndpointError,
  type TransportResponse,
  tokenEndpointError,
  tryParseJsonObject,
} from '@tokenkeeper/auth-core'
import {
  AKAMAI_IDENTITY_SCOPES,
  AKAMAI_IDENTITY_ENVIRONMENT as ENV,
  VENDOR,
} from './akamai-identity-settings.ts'

/** What the error mapping needs to know about the request that failed. */
export interface AkamaiIdentityErrorContext {
  /** Local epoch ms, for `Retry-After`. */
  now: number
  /** The scope that was requested (not secret), named in `invalid_scope` messages. */
  scope: string
  /** Origin of the token endpoint, named in 404 messages. */
  origin: string
  /**
   * Values that must never reach a message even if the server echoes them (the client secret and
   * the Basic credential): replaced with `[redacted]` raw, URL- and form-encoded.
   */
  redact?: ReadonlyArray<SecretInput | undefined>
}

const CREDENTIALS_HINT = `Check clientId and clientSecret (${ENV.clientId}, ${ENV.clientSecret}): they must be the configuration client Akamai set up for this customer, not a login or API client`

const ALLOWED_SCOPES = `${AKAMAI_IDENTITY_SCOPES.webhooks} for Webhooks v3, ${AKAMAI_IDENTITY_SCOPES.config} for the configuration APIs, ${AKAMAI_IDENTITY_SCOPES.customProviders} for the Custom Providers API`

/** What to tell the user, from the OAuth error code first and the status second. */
function hintFor(
  status: number,
  oauthError: string | undefined,
  context: AkamaiIdentityErrorContext,
) {
  switch (oauthError) {
    case 'invalid_client':
      return CREDENTIALS_HINT
    case 'invalid_scope':
      return `The configuration client may not request scope "${context.scope}"; set scope (${ENV.scope}) to one its token policy allows: ${ALLOWED_SCOPES}`
    case 'unauthorized_client':
      return `The configuration client may not use the client_credentials grant or scope "${context.scope}"; ask Akamai to check its token policy, or check scope (${ENV.scope})`
    case 'invalid_grant':
    case 'unsupported_grant_type':
    case 'invalid_request':
      return 'Akamai refused the token request itself; check that customerId and the region, baseUrl or oidcUrl point to the Identity Cloud token endpoint'
  }
  if (status === 401) return CREDENTIALS_HINT
  if (status === 403) {
    return `Akamai refused the configuration client; check clientId and clientSecret (${ENV.clientId}, ${ENV.clientSecret}) and that its token policy allows scope "${context.scope}"`
  }
  if (status === 404) {
    return `${context.origin} has no token endpoint for this customer; check customerId (${ENV.customerId}) and region, baseUrl or oidcUrl`
  }
  if (status >= 300 && status < 400) {
    return 'The token endpoint redirected (redirects are not followed); check region, baseUrl or oidcUrl'
  }
  if (status === 429 || status >= 500) return 'The request is retried with backoff'
  return undefined
}

/** A short description from the body: OAuth `error_description`, else `errors` or `message`. */
function describe(response: TransportResponse, description: string | undefined) {
  if (description) return description
  const body = tryParseJsonObject(response)
  if (!body) return undefined
  const errors = Array.isArray(body.errors)
    ? body.errors.filter((item) => typeof item === 'string').join('; ')
    : body.errors
  return excerpt(errors) ?? excerpt(body.message)
}

/**
 * Maps an error answer of `/{customerId}/login/token` to a {@link TokenEndpointError} with the
 * HTTP status, the raw OAuth `error` (`oauthError`, e.g. `invalid_client`) and a message that
 * names the setting to fix. Works for OAuth JSON, `{"errors": ...}` bodies and non-JSON bodies
 * (an HTML gateway page); the body itself is never quoted, only its short description.
 *
 * Bad credentials and refused scopes are `TOKEN_ENDPOINT_REJECTED` (not retryable); 429 and 5xx
 * are retryable, honouring `Retry-After`.
 */
export function akamaiIdentityTokenError(
  response: TransportResponse,
  context: AkamaiIdentityErrorContext,
): TokenEndpointError {
  const secrets = context.redact ?? []
  // Redacted in the body first: descriptions are shortened when read, and a cut through an echoed
  // secret would leave a piece that no longer matches it.
  const redacted = { ...response, body: redactSecrets(response.body, secrets) }
  const oauth = readOAuthError(redacted)
  const description = describe(redacted, oauth.errorDescription)
  const hint = hintFor(response.status, oauth.error, context)
  return tokenEndpointError(response, {
    vendor: VENDOR,
    now: context.now,
    ...(oauth.error ? { oauthError: oauth.error } : {}),
    ...(description ? { description } : {}),
    ...(hint ? { hint } : {}),
    // Again after parsing, for spellings only JSON unescaping reveals.
    secrets,
  })
}
