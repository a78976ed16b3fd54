import type { TokenClient } from './token-client.ts'

/**
 * The credentials a client presents to an API: each auth header's value after its scheme (the
 * token after `Bearer`, an API key). An API helper passes them to `redactSecrets` before quoting
 * an error answer, since some APIs echo the request. `undefined` when they cannot be had (then
 * the answer should not be quoted). Called after `fetch()`, they are those of the request that was
 * answered: its one retry after a rejection uses the then current token.
 */
export async function presentedCredentials(
  client: Partial<Pick<TokenClient, 'getAuthHeaders'>>,
  options: { signal?: AbortSignal } = {},
): Promise<string[] | undefined> {
  if (typeof client.getAuthHeaders !== 'function') return undefined
  try {
    const headers = await client.getAuthHeaders(
      options.signal ? { signal: options.signal } : undefined,
    )
    // Redacting the credential after its scheme covers the whole header value too.
    return Object.values(headers).map((value) => value.replace(/^\S+\s+/, ''))
  } catch {
    return undefined
  }
}
