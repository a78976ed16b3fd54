import type { KeyObject } from 'node:crypto'
import {
  type AccessToken,
  type IssuedToken,
  oauthIssuedToken,
  parseOAuthTokenResponse,
  type TokenSource,
  type TransportRequest,
  type TransportResponse,
} from '@tokenkeeper/auth-core'
import {
  type ClearIdSigningKey,
  createClearIdAssertion,
  importSigningKey,
} from './clearid-assertion.ts'
import { VENDOR } from './clearid-environments.ts'
import { clearIdTokenError } from './clearid-error.ts'
import {
  type ClearIdGrant,
  type ClearIdTokenSourceSettings,
  type ResolvedClearIdSettings,
  readCodeSettings,
  resolveClearIdSettings,
} from './clearid-settings.ts'

/**
 * ClearID advises requesting a new token after half its lifetime (at most an hour), so the
 * background renewal window opens at half-life.
 */
export const CLEARID_REFRESH_WINDOW_RATIO = 0.5

/** A token request ready to send, plus the secret values in it (for error sanitising). */
export interface ClearIdTokenRequest {
  readonly request: TransportRequest
  readonly grant: ClearIdGrant
  readonly sentSecrets: readonly string[]
}

/**
 * Builds the token request (RFC 6749 §4.4 with `client_secret_post`, or RFC 7523 with an RS512
 * assertion): `POST {stsUrl}/connect/token`, form-encoded (client ids contain `:`, secrets and
 * assertions `+/=`), no scope.
 */
export async function buildClearIdTokenRequest(
  settings: ResolvedClearIdSettings,
  input: {
    now: number
    signal?: AbortSignal
    /** Imports the private key; lets a source import it once. Default: import every time. */
    signingKey?: (privateKey: KeyObject) => Promise<ClearIdSigningKey>
  },
): Promise<ClearIdTokenRequest> {
  const { clientId, credential } = settings
  const form = new URLSearchParams()
  let secret: string
  if (credential.grant === 'client_credentials') {
    secret = credential.clientSecret.reveal()
    form.set('grant_type', 'client_credentials')
    form.set('client_id', clientId)
    form.set('client_secret', secret)
  } else {
    const key = await (input.signingKey ?? importSigningKey)(credential.privateKey)
    secret = await createClearIdAssertion({ clientId, key, now: input.now })
    form.set('grant_type', credential.grant)
    form.set('client_id', clientId)
    form.set('assertion', secret)
  }
  return {
    grant: credential.grant,
    sentSecrets: [secret],
    request: {
      url: settings.location.tokenUrl,
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: form.toString(),
      ...(input.signal ? { signal: input.signal } : {}),
    },
  }
}

/**
 * Turns the STS's answer into an {@link IssuedToken}: 200 with `access_token`, `expires_in`,
 * `token_type`, `scope`; the access token is a JWT, so the core takes the earlier of its `exp`
 * and `expires_in`. Error answers become typed errors (see `clearIdTokenError`).
 */
export function processClearIdTokenResponse(
  response: TransportResponse,
  context: { grant: ClearIdGrant; now: number; tokenUrl: string; sentSecrets: readonly string[] },
): IssuedToken {
  if (response.status < 200 || response.status >= 300) {
    throw clearIdTokenError(response, context)
  }
  const parsed = parseOAuthTokenResponse(response, VENDOR)
  // ClearID issues JWTs; anything else is treated as an opaque token.
  return oauthIssuedToken(parsed, { jwt: 'auto' })
}

/**
 * The ClearID {@link TokenSource}: client secret or JWT assertion against the STS of the chosen
 * environment. Settings passed in code are validated now; the key file and `CLEARID_*`
 * variables are read at the first token request (or `cacheKey()`), once.
 *
 * Use {@link createClearId} for a ready client; use this with `createTokenClient` or the n8n
 * credential.
 *
 * @example
 * const source = clearIdTokenSource({ clientId, clientSecret, environment: 'demo' })
 * const client = createTokenClient(source, { store })
 */
export function clearIdTokenSource(settings: ClearIdTokenSourceSettings = {}): TokenSource {
  const codeLayer = readCodeSettings(settings)
  let resolved: ResolvedClearIdSettings | undefined
  let signingKey: Promise<ClearIdSigningKey> | undefined

  const resolve = (): ResolvedClearIdSettings => {
    resolved ??= resolveClearIdSettings(settings, codeLayer)
    return resolved
  }
  const loadSigningKey = (privateKey: KeyObject): Promise<ClearIdSigningKey> => {
    if (signingKey === undefined) {
      const pending = importSigningKey(privateKey)
      // A failed import is not remembered: the next request tries again.
      pending.catch(() => {
        if (signingKey === pending) signingKey = undefined
      })
      signingKey = pending
    }
    return signingKey
  }

  return {
    vendor: VENDOR,
    refreshWindowRatio: CLEARID_REFRESH_WINDOW_RATIO,
    cacheKey: () => resolve().cacheKey,
    origins: () => [...resolve().location.origins],
    async requestToken(context) {
      const current = resolve()
      const built = await buildClearIdTokenRequest(current, {
        now: context.now(),
        signal: context.signal,
        signingKey: loadSigningKey,
      })
      const response = await context.transport(built.request)
      return processClearIdTokenResponse(response, {
        grant: built.grant,
        now: context.now(),
        tokenUrl: current.location.tokenUrl,
        sentSecrets: built.sentSecrets,
      })
    },
    authHeaders: (token: AccessToken) => ({ authorization: `${token.type} ${token.value}` }),
  }
}
