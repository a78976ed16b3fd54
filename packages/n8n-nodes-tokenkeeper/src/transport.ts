import {
  NetworkError,
  TokenTimeoutError,
  type Transport,
  type TransportRequest,
  type TransportResponse,
} from '@tokenkeeper/auth-core'
import type { IHttpRequestOptions, IN8nHttpFullResponse } from 'n8n-workflow'

/** Timeout of one token request sent through n8n, in ms (the core's default too). */
export const TOKEN_REQUEST_TIMEOUT = 10_000

/** The part of n8n's helpers the transport needs: `this.helpers.httpRequest` of any context. */
export type HttpRequestFunction = (options: IHttpRequestOptions) => Promise<unknown>

/**
 * A {@link Transport} over n8n's own request helper, so token requests go through n8n's proxy,
 * SSRF and allowed-domain settings like every other request of the credential.
 *
 * The helper is asked for the full response, never to throw on an HTTP status (the vendor
 * package maps error statuses itself), not to follow redirects (a secret must not travel to
 * another host) and to leave the body as text (the vendor package parses it).
 *
 * Failures without an answer become a {@link NetworkError} or {@link TokenTimeoutError} whose
 * message names only the host: n8n's own error carries the request, headers and body included,
 * so it is never kept as the cause.
 */
export function n8nTransport(
  httpRequest: HttpRequestFunction,
  timeout = TOKEN_REQUEST_TIMEOUT,
): Transport {
  return async (request: TransportRequest): Promise<TransportResponse> => {
    const options: IHttpRequestOptions = {
      url: request.url,
      method: request.method,
      headers: { ...request.headers },
      returnFullResponse: true,
      ignoreHttpStatusErrors: true,
      disableFollowRedirect: true,
      encoding: 'text',
      json: false,
      timeout,
    }
    if (request.body !== undefined) options.body = request.body
    if (request.signal) options.abortSignal = request.signal
    let response: unknown
    try {
      response = await httpRequest(options)
    } catch (error) {
      throw requestFailure(error, request.url)
    }
    return toTransportResponse(response, request.url)
  }
}

/** Turns n8n's full response into the core's `{ status, headers, body }`. */
function toTransportResponse(response: unknown, url: string): TransportResponse {
  const full = response as Partial<IN8nHttpFullResponse> | undefined
  if (typeof full?.statusCode !== 'number') {
    throw new NetworkError(
      `n8n's request helper returned no HTTP status for ${hostOf(url)}; the token request cannot be judged`,
    )
  }
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(full.headers ?? {})) {
    if (value === undefined || value === null) continue
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return { status: full.statusCode, headers, body: bodyText(full.body) }
}

/** The body as text whatever shape n8n produced (string, Buffer, or already-parsed JSON). */
function bodyText(body: unknown): string {
  if (body === undefined || body === null) return ''
  if (typeof body === 'string') return body
  if (Buffer.isBuffer(body)) return body.toString('utf8')
  if (body instanceof ArrayBuffer) return Buffer.from(body).toString('utf8')
  if (typeof body === 'object') return JSON.stringify(body)
  return String(body)
}

/** A sanitised error for a request that got no answer (only the host is named). */
function requestFailure(error: unknown, url: string): Error {
  const code = (error as { code?: unknown } | undefined)?.code
  const name = error instanceof Error ? error.name : typeof error
  if (
    code === 'ECONNABORTED' ||
    code === 'ETIMEDOUT' ||
    name === 'AbortError' ||
    name === 'TimeoutError'
  ) {
    return new TokenTimeoutError(`The token request to ${hostOf(url)} timed out or was aborted`)
  }
  // The message of n8n's and axios's errors names the problem (refused connection, domain not
  // allowed by the credential) and never the request's headers or body; it is kept, shortened.
  const message = error instanceof Error ? error.message.replace(/\s+/g, ' ').slice(0, 200) : ''
  const detail = message ? `: ${message}` : typeof code === 'string' ? ` (${code})` : ''
  return new NetworkError(`The token request to ${hostOf(url)} failed without an answer${detail}`)
}

function hostOf(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return 'the token endpoint'
  }
}
