import {
  type Dispatcher,
  Headers,
  type RequestInit,
  type Response,
  fetch as undiciFetch,
} from 'undici'
import type { AccessToken } from './access-token.ts'
import { ConfigurationError } from './errors.ts'
import { isSecureOrigin, type OriginPolicy } from './origins.ts'

/** `RequestInit` of undici's fetch. */
export type FetchInit = RequestInit

/** What `fetch()` and `interceptor()` need from a token client. */
export interface HttpAuthContext {
  readonly vendor: string
  getToken(options?: { signal?: AbortSignal }): Promise<AccessToken>
  invalidate(token: AccessToken): boolean
  headersFor(token: AccessToken): Record<string, string>
  /** The current token's headers if they can be had synchronously (the hot path). */
  peekHeaders(): { token: AccessToken; headers: Record<string, string> } | undefined
  readonly rejectionStatuses: readonly number[]
  readonly origins: OriginPolicy
  readonly dispatcher: Dispatcher | undefined
}

/** Whether a fetch body can be sent a second time. Streams cannot. */
export function isReplayableBody(body: unknown): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof URLSearchParams ||
    body instanceof Blob ||
    body instanceof FormData
  )
}

/**
 * undici fetch with auth headers; one retry with the current token after a rejection status.
 * Never follows redirects: a redirect could carry the token (or a custom auth header, which the
 * fetch spec does not strip) to another host.
 */
export async function authenticatedFetch(
  context: HttpAuthContext,
  input: string | URL,
  init: FetchInit = {},
): Promise<Response> {
  const url = new URL(input)
  if (!isSecureOrigin(url)) {
    throw new ConfigurationError(
      `${context.vendor}: refusing to send a token to ${url.origin} over plain HTTP (allowed only for loopback)`,
      { code: 'INSECURE_TRANSPORT' },
    )
  }
  if (context.origins.origins.size > 0 && !context.origins.allows(url.origin)) {
    throw new ConfigurationError(
      `${context.vendor}: ${url.origin} is not one of the origins allowed to receive the token; add it to the origins option`,
      { code: 'ORIGIN_NOT_ALLOWED', setting: 'origins' },
    )
  }
  const signal = init.signal ?? undefined
  const send = (token: AccessToken) => {
    const headers = new Headers(init.headers)
    for (const [name, value] of Object.entries(context.headersFor(token))) headers.set(name, value)
    return undiciFetch(url, {
      ...init,
      headers,
      redirect: 'manual',
      ...(context.dispatcher ? { dispatcher: context.dispatcher } : {}),
    })
  }

  const token = await context.getToken(signal ? { signal } : undefined)
  const response = await send(token)
  if (!context.rejectionStatuses.includes(response.status) || !isReplayableBody(init.body)) {
    return response
  }
  context.invalidate(token)
  const next = await context.getToken(signal ? { signal } : undefined)
  // The client kept the token (rejected right after a renewal): retrying cannot help.
  if (next.value === token.value) return response
  await response.body?.cancel().catch(() => {})
  return send(next)
}
