import {
  oauthIssuedToken,
  parseOAuthTokenResponse,
  readOAuthError,
  type TokenSource,
  tokenEndpointError,
} from '@tokenkeeper/auth-core'

/** The client secret the test source sends; it must never show up in output. */
export const CLIENT_SECRET = 'SECRET-client-3141'

/** An OAuth client-credentials source against a loopback token server. */
export function loopbackSource(options: {
  url: string
  key: string
  reissueRevokesPrevious?: boolean
}): TokenSource {
  return {
    vendor: 'loopback',
    cacheKey: () => options.key,
    ...(options.reissueRevokesPrevious ? { reissueRevokesPrevious: true } : {}),
    async requestToken(context) {
      const response = await context.transport({
        url: options.url,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_secret: CLIENT_SECRET,
        }).toString(),
        signal: context.signal,
      })
      if (response.status !== 200) {
        const oauth = readOAuthError(response)
        throw tokenEndpointError(response, {
          vendor: 'loopback',
          now: context.now(),
          ...(oauth.error ? { oauthError: oauth.error } : {}),
        })
      }
      return oauthIssuedToken(parseOAuthTokenResponse(response, 'loopback'))
    },
    authHeaders: (token) => ({ authorization: `Bearer ${token.value}` }),
  }
}
