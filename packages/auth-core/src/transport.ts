import { isIP } from 'node:net'
import { Agent, type Dispatcher, request } from 'undici'
import {
  ConfigurationError,
  InvalidTokenResponseError,
  NetworkError,
  TokenKeeperError,
  TokenTimeoutError,
} from './errors.ts'
import type { Transport, TransportRequest, TransportResponse } from './types.ts'

/** Default limit for a token response body: 1 MiB. Real token responses are a few KiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024

/** Default timeout of one token request (connect, headers and body), in ms. */
export const DEFAULT_TIMEOUT = 10_000

/** True for `localhost`, `*.localhost`, 127.0.0.0/8 and ::1. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost')) return true
  const family = isIP(host)
  if (family === 4) return host.startsWith('127.')
  if (family === 6)
    return host === '::1' || host === '0:0:0:0:0:0:0:1' || host === '::ffff:127.0.0.1'
  return false
}

/**
 * Parses a URL that will carry a secret and checks it is HTTPS, or plain HTTP to a loopback
 * address (tests, the emulator). Throws a {@link ConfigurationError} otherwise.
 */
export function assertSecureUrl(url: string | URL, setting?: string): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    // No cause: the parser's message quotes the URL, which may carry a secret.
    throw new ConfigurationError(`Not a valid absolute URL${setting ? ` in ${setting}` : ''}`, {
      setting,
    })
  }
  if (parsed.protocol === 'https:') return parsed
  if (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)) return parsed
  throw new ConfigurationError(
    `Refusing to send credentials to ${parsed.origin}: use https:// (plain http:// is allowed only for loopback addresses)`,
    { setting, code: 'INSECURE_TRANSPORT' },
  )
}

/** Options of {@link createUndiciTransport}. */
export interface UndiciTransportOptions {
  /** Dispatcher for token requests. Default: a private `Agent` (never the global dispatcher). */
  dispatcher?: Dispatcher
  /** Timeout per request in ms (connect, headers and body together). Default 10 000. */
  timeout?: number
  /** Largest response body accepted, in bytes. Default 1 MiB. */
  maxResponseBytes?: number
}

/** A {@link Transport} plus the resources it owns. */
export interface OwnedTransport {
  readonly transport: Transport
  /** Closes the private Agent, if the transport created one. */
  close(): Promise<void>
}

/**
 * The default transport: undici `request` over a private Agent, no redirects followed, the body
 * capped and the whole exchange bounded by a timeout.
 */
export function createUndiciTransport(options: UndiciTransportOptions = {}): OwnedTransport {
  const timeout = options.timeout ?? DEFAULT_TIMEOUT
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES
  const ownAgent = options.dispatcher
    ? undefined
    : new Agent({ connectTimeout: timeout, headersTimeout: timeout, bodyTimeout: timeout })
  const dispatcher = options.dispatcher ?? (ownAgent as Dispatcher)

  const transport: Transport = async (input) => {
    const timeoutSignal = AbortSignal.timeout(timeout)
    const signal = input.signal ? AbortSignal.any([input.signal, timeoutSignal]) : timeoutSignal
    const origin = safeOrigin(input.url)
    try {
      const response = await request(input.url, {
        method: input.method,
        headers: input.headers,
        body: input.body,
        dispatcher,
        signal,
      })
      const body = await readCapped(response.body, maxBytes, origin)
      return { status: response.statusCode, headers: flattenHeaders(response.headers), body }
    } catch (error) {
      throw transportError(error, { origin, timeout, timedOut: timeoutSignal.aborted, input })
    }
  }

  return {
    transport,
    close: async () => {
      await ownAgent?.close()
    },
  }
}

async function readCapped(
  body: AsyncIterable<Uint8Array> & { destroy(error?: Error): unknown },
  maxBytes: number,
  origin: string,
): Promise<string> {
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.byteLength
    if (size > maxBytes) {
      body.destroy()
      throw new InvalidTokenResponseError(
        `Token response from ${origin} is larger than ${maxBytes} bytes; refusing to read it`,
      )
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Lower-cases header names and joins repeated headers. */
export function flattenHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const flat: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value
  }
  return flat
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return 'the token endpoint'
  }
}

function transportError(
  error: unknown,
  context: { origin: string; timeout: number; timedOut: boolean; input: TransportRequest },
): unknown {
  if (TokenKeeperError.is(error)) return error
  if (context.timedOut) {
    return new TokenTimeoutError(
      `Token request to ${context.origin} did not complete within ${context.timeout} ms`,
    )
  }
  // The caller's own signal (client closed, caller gave up): pass its reason through.
  if (context.input.signal?.aborted) return context.input.signal.reason
  const code = (error as { code?: string } | undefined)?.code
  return new NetworkError(
    `Could not reach ${context.origin}${code ? ` (${code})` : ''}; check the URL and the network`,
    { cause: sanitizeCause(error) },
  )
}

/** Keeps the name, code and message of a low-level error, nothing that could hold a request. */
function sanitizeCause(error: unknown): Error | undefined {
  if (!(error instanceof Error)) return undefined
  const clean = new Error(error.message)
  clean.name = error.name
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string') Object.assign(clean, { code })
  return clean
}

/**
 * Wraps a transport so that every request is checked: secrets only over HTTPS (or to loopback),
 * the request's send time and the response's `Date` are recorded for expiry computation.
 */
export function guardTransport(
  transport: Transport,
  observe: (exchange: { sentAt: number; receivedAt: number; response: TransportResponse }) => void,
  now: () => number,
): Transport {
  return async (input) => {
    assertSecureUrl(input.url)
    const sentAt = now()
    const response = await transport(input)
    observe({ sentAt, receivedAt: now(), response })
    return response
  }
}
