import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import type { AccessToken } from './access-token.ts'
import type { HttpAuthContext } from './authenticated-fetch.ts'
import { ConfigurationError } from './errors.ts'
import { isSecureOrigin, normaliseOrigins } from './origins.ts'

/** Options of `TokenClient.interceptor()`. */
export interface AuthInterceptorOptions {
  /**
   * Origins (`https://host[:port]`) whose requests get the token. Requests to any other origin
   * pass through untouched. Default: the client's `origins` option, else the source's origins.
   */
  origins?: string[]
}

type Dispatch = Dispatcher.Dispatch
type DispatchOptions = Dispatcher.DispatchOptions
type DispatchHandler = Dispatcher.DispatchHandler
type DispatchController = Dispatcher.DispatchController

/**
 * An undici interceptor (`Dispatcher.compose`) that attaches the token's headers to requests for
 * the allowed origins, and on a rejection status invalidates the token and re-dispatches once
 * with the current one (when the body can be replayed), like undici's own redirect handler.
 *
 * Token requests never pass through it: the client sends them over its own dispatcher.
 */
export function createAuthInterceptor(
  context: HttpAuthContext,
  options: AuthInterceptorOptions,
): Dispatcher.DispatcherComposeInterceptor {
  const policy = options.origins ? normaliseOrigins(options.origins) : context.origins
  if (policy.origins.size === 0) {
    throw new ConfigurationError(
      `${context.vendor}: interceptor() needs the API origins that may receive the token; pass { origins: ['https://api.example.com'] }`,
      { setting: 'origins' },
    )
  }
  for (const origin of policy.origins) {
    if (!isSecureOrigin(new URL(origin))) {
      throw new ConfigurationError(
        `${context.vendor}: interceptor origin ${origin} must use https:// (plain http:// only for loopback)`,
        { code: 'INSECURE_TRANSPORT', setting: 'origins' },
      )
    }
  }

  // Dispatch options carry the origin as the caller wrote it; parsing a URL per request is
  // costly, so remember the verdict per spelling (bounded).
  const verdicts = new Map<string, boolean>()
  const allowed = (origin: DispatchOptions['origin']): boolean => {
    if (origin === undefined) return false
    if (typeof origin !== 'string') return policy.allows(origin.origin)
    let verdict = verdicts.get(origin)
    if (verdict === undefined) {
      const parsed = originOf(origin)
      verdict = parsed !== undefined && policy.allows(parsed)
      if (verdicts.size >= 256) verdicts.clear()
      verdicts.set(origin, verdict)
    }
    return verdict
  }

  return (dispatch: Dispatch): Dispatch =>
    function authInterceptor(opts: DispatchOptions, handler: DispatchHandler): boolean {
      if (!allowed(opts.origin)) return dispatch(opts, handler)

      const cached = context.peekHeaders()
      if (cached) {
        return dispatch(
          withHeaders(opts, cached.headers),
          new AuthRetryHandler(context, dispatch, opts, handler, cached.token),
        )
      }
      context.getToken().then(
        (token) => {
          dispatch(
            withHeaders(opts, context.headersFor(token)),
            new AuthRetryHandler(context, dispatch, opts, handler, token),
          )
        },
        (error: Error) => handler.onResponseError?.(null as unknown as DispatchController, error),
      )
      return true
    }
}

function originOf(origin: DispatchOptions['origin']): string | undefined {
  if (origin === undefined) return undefined
  if (typeof origin === 'string') {
    try {
      return new URL(origin).origin
    } catch {
      return undefined
    }
  }
  return origin.origin
}

/** Adds (or replaces) headers, whatever shape the caller used for `opts.headers`. */
function withHeaders(opts: DispatchOptions, auth: Record<string, string>): DispatchOptions {
  const source = opts.headers
  // maxRedirections 0: a redirect interceptor below this one must not carry the token (or a
  // vendor header that cross-origin redirects do not strip) to another host.
  if (source === undefined || source === null) {
    return { ...opts, headers: { ...auth }, maxRedirections: 0 } as DispatchOptions
  }
  const names = lowerCaseNames(auth)
  const merged: Record<string, string | string[]> = {}
  if (Array.isArray(source)) {
    // Flat [name, value, name, value, ...] list.
    for (let index = 0; index + 1 < source.length; index += 2) {
      const name = String(source[index])
      if (!names.has(name.toLowerCase())) merged[name] = source[index + 1] as string | string[]
    }
  } else if (typeof (source as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [name, value] of source as Iterable<[string, string | string[]]>) {
      if (!names.has(name.toLowerCase())) merged[name] = value
    }
  } else {
    const record = source as IncomingHttpHeaders
    for (const name in record) {
      const value = record[name]
      if (value !== undefined && !names.has(name.toLowerCase())) merged[name] = value
    }
  }
  for (const name in auth) merged[name] = auth[name] as string
  return { ...opts, headers: merged, maxRedirections: 0 } as DispatchOptions
}

/** Lower-cased names of an auth-headers object, computed once per object (the hot path). */
const namesOf = new WeakMap<Record<string, string>, ReadonlySet<string>>()
function lowerCaseNames(headers: Record<string, string>): ReadonlySet<string> {
  let names = namesOf.get(headers)
  if (names === undefined) {
    names = new Set(Object.keys(headers).map((name) => name.toLowerCase()))
    namesOf.set(headers, names)
  }
  return names
}

function isReplayable(body: DispatchOptions['body']): boolean {
  return (
    body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array
  )
}

/**
 * Forwards everything to the caller's handler, except one rejected response: that one is
 * swallowed and the request re-dispatched with the current token once it ends.
 */
class AuthRetryHandler implements DispatchHandler {
  readonly #context: HttpAuthContext
  readonly #dispatch: Dispatch
  readonly #opts: DispatchOptions
  readonly #handler: DispatchHandler
  readonly #token: AccessToken
  #retried = false
  #swallowing = false

  constructor(
    context: HttpAuthContext,
    dispatch: Dispatch,
    opts: DispatchOptions,
    handler: DispatchHandler,
    token: AccessToken,
  ) {
    this.#context = context
    this.#dispatch = dispatch
    this.#opts = opts
    this.#handler = handler
    this.#token = token
  }

  onRequestStart(controller: DispatchController, context: unknown): void {
    this.#handler.onRequestStart?.(controller, context)
  }

  onRequestUpgrade(
    controller: DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: import('node:stream').Duplex,
  ): void {
    this.#handler.onRequestUpgrade?.(controller, statusCode, headers, socket)
  }

  onResponseStart(
    controller: DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (
      !this.#retried &&
      this.#context.rejectionStatuses.includes(statusCode) &&
      isReplayable(this.#opts.body)
    ) {
      this.#retried = true
      const dropped = this.#context.invalidate(this.#token)
      // A kept token (rejected right after a renewal) would be rejected again: pass this through.
      if (dropped || this.#context.peekHeaders()?.token.value !== this.#token.value) {
        this.#swallowing = true
        return
      }
    }
    this.#handler.onResponseStart?.(controller, statusCode, headers, statusMessage)
  }

  onResponseData(controller: DispatchController, chunk: Buffer): void {
    if (this.#swallowing) return
    this.#handler.onResponseData?.(controller, chunk)
  }

  onResponseEnd(controller: DispatchController, trailers: IncomingHttpHeaders): void {
    if (!this.#swallowing) {
      this.#handler.onResponseEnd?.(controller, trailers)
      return
    }
    this.#swallowing = false
    this.#context.getToken().then(
      (token) => {
        this.#dispatch(withHeaders(this.#opts, this.#context.headersFor(token)), this)
      },
      (error: Error) => this.#handler.onResponseError?.(controller, error),
    )
  }

  onResponseError(controller: DispatchController, error: Error): void {
    this.#handler.onResponseError?.(controller, error)
  }
}
