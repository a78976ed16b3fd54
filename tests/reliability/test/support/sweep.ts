import { subscribe } from 'node:diagnostics_channel'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import {
  createUndiciTransport,
  type Logger,
  TOKEN_CHANNELS,
  type Transport,
} from '@tokenkeeper/auth-core'
import { STORE_REDIS_CHANNEL } from '@tokenkeeper/store-redis'

/** Where a captured text came from. */
export interface CapturedText {
  readonly owner: string
  readonly source: string
  readonly text: string
}

/** A secret found where it must not be. */
export interface Leak {
  readonly owner: string
  readonly source: string
  readonly secret: string
  readonly excerpt: string
}

/** Every form in which a secret could show up in a text. */
function forms(secret: string): string[] {
  const values = new Set([
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ value: secret }).toString().slice('value='.length),
    JSON.stringify(secret).slice(1, -1),
    Buffer.from(secret).toString('base64'),
    Buffer.from(secret).toString('base64url'),
  ])
  return [...values].filter((value) => value.length >= 8)
}

let active: Sweep | undefined
let subscribed = false

/** Routes every diagnostics event of the process to the active sweep. */
function subscribeOnce(): void {
  if (subscribed) return
  subscribed = true
  for (const name of [...Object.values(TOKEN_CHANNELS), STORE_REDIS_CHANNEL]) {
    subscribe(name, (event) => active?.capture(`diagnostics ${name}`, event))
  }
}

/**
 * The secrets sweep: a set of secret values, and every text the packages produced (errors,
 * inspect output, JSON, diagnostics events, logger calls, emulator log lines), attributed to
 * the package being exercised. Diagnostics events go to the sweep made active last.
 */
export class Sweep {
  /** The package currently exercised; events and log calls are attributed to it. */
  owner = 'setup'
  readonly #secrets = new Map<string, string>()
  readonly texts: CapturedText[] = []
  /** Error paths driven, per package. */
  readonly paths = new Map<string, number>()

  constructor() {
    subscribeOnce()
  }

  /** Makes this sweep receive the process's diagnostics events (and returns it). */
  activate(): this {
    active = this
    return this
  }

  /** The active sweep, for callbacks that outlive one (e.g. the emulator's log). */
  static get active(): Sweep | undefined {
    return active
  }

  /** Adds secret values (and their encodings) to search for. */
  secret(...values: string[]): void {
    for (const value of values) {
      for (const form of forms(value)) this.#secrets.set(form, value)
    }
  }

  /** The logger to give every client: every call is captured. */
  readonly logger: Logger = {
    debug: (message, fields) => this.capture('logger.debug', { message, fields }),
    info: (message, fields) => this.capture('logger.info', { message, fields }),
    warn: (message, fields) => this.capture('logger.warn', { message, fields }),
    error: (message, fields) => this.capture('logger.error', { message, fields }),
  }

  /** Captures every printable form of a value: message, String, inspect, JSON. */
  capture(source: string, value: unknown, owner = this.owner): void {
    const add = (kind: string, text: string | undefined) => {
      if (text) this.texts.push({ owner, source: `${source} (${kind})`, text })
    }
    if (value instanceof Error) {
      add('message', value.message)
      add('String', String(value))
      add('stack', value.stack)
    }
    add('inspect', inspect(value, { depth: 8, showHidden: false, getters: true }))
    try {
      add('JSON', JSON.stringify(value))
    } catch {
      // Circular or BigInt: inspect covered it.
    }
  }

  /** Runs an error path: it must fail; the error (or rejection) is captured. */
  async fails(label: string, run: () => unknown): Promise<unknown> {
    this.paths.set(this.owner, (this.paths.get(this.owner) ?? 0) + 1)
    let failure: unknown
    let failed = false
    try {
      await run()
    } catch (error) {
      failure = error
      failed = true
      this.capture(`error: ${label}`, error)
    }
    if (!failed) throw new Error(`expected "${label}" to fail`)
    return failure
  }

  /** Runs a path that completes (e.g. a rejected API call that is recovered), counted. */
  async runs(label: string, run: () => unknown): Promise<unknown> {
    this.paths.set(this.owner, (this.paths.get(this.owner) ?? 0) + 1)
    const result = await run()
    this.capture(`result: ${label}`, result)
    return result
  }

  /** Secrets found in captured texts. */
  leaks(): Leak[] {
    const found: Leak[] = []
    for (const captured of this.texts) {
      for (const [form, secret] of this.#secrets) {
        const at = captured.text.indexOf(form)
        if (at >= 0) {
          found.push({
            owner: captured.owner,
            source: captured.source,
            secret,
            excerpt: captured.text.slice(Math.max(0, at - 60), at + form.length + 20),
          })
        }
      }
    }
    return found
  }

  /**
   * The core's undici transport, wrapped to learn every secret that travels: form fields and
   * auth headers of requests, tokens of answers. (Wrapping changes nothing the client sees.)
   */
  transport(): { transport: Transport; close: () => Promise<void> } {
    const owned = createUndiciTransport({ timeout: 5_000 })
    const learn = (text: string) => {
      for (const name of ['access_token', 'access-token', 'refresh_token', 'id_token']) {
        const match = new RegExp(`"${name}"\\s*:\\s*"([^"]+)"`).exec(text)
        if (match?.[1]) this.secret(match[1])
      }
    }
    return {
      transport: async (request) => {
        if (request.body) {
          const form = new URLSearchParams(request.body)
          for (const name of [
            'client_secret',
            'password',
            'assertion',
            'client_assertion',
            'refresh_token',
          ]) {
            const value = form.get(name)
            if (value) this.secret(value)
          }
        }
        for (const name of ['authorization', 'x-clear-client-secret']) {
          const value = request.headers[name]
          if (value) this.secret(value, value.replace(/^(Basic|Bearer) /i, ''))
        }
        const response = await owned.transport(request)
        learn(response.body)
        return response
      },
      close: owned.close,
    }
  }
}

/** What a recorded request held, as one string (echoed back by the hostile server). */
function describeRequest(message: IncomingMessage, body: string): string {
  const headers = Object.entries(message.headers)
    .map(([name, value]) => `${name}=${String(value)}`)
    .join('; ')
  return `${message.method} ${message.url} body=${body} headers=${headers}`.replace(/[\r\n]+/g, ' ')
}

/** How the hostile server answers token requests. */
export type TokenMode =
  | 'issue'
  | 'oauth-echo'
  | 'grant-echo'
  | 'clear-echo'
  | 'html-echo'
  | 'missing-echo'
  | 'rate-echo'
  | 'plain-echo'
  | 'huge-echo'

/** How the hostile server answers API calls: always an error status, echoing the request. */
export interface ApiMode {
  readonly status: number
}

/**
 * A loopback server that echoes what it received (secrets, tokens, API keys) in every field a
 * client might quote: OAuth `error_description`, Clear's `errors[]`, HTML pages, ProblemDetails,
 * Spring and Akamai error bodies. Paths containing `token` are the token endpoint.
 */
export class EchoServer {
  tokenMode: TokenMode = 'issue'
  apiMode: ApiMode = { status: 401 }
  /** Tokens the server issued (secrets too). */
  readonly issued: string[] = []
  #server: Server | undefined
  origin = ''
  #count = 0

  async start(): Promise<void> {
    this.#server = createServer((message, response) => {
      const chunks: Buffer[] = []
      message.on('data', (chunk: Buffer) => chunks.push(chunk))
      message.on('end', () => {
        const echo = describeRequest(message, Buffer.concat(chunks).toString('utf8'))
        const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
          response.writeHead(status, { 'content-type': 'application/json', ...headers })
          response.end(JSON.stringify(body))
        }
        if (!(message.url ?? '').includes('token')) {
          json(this.apiMode.status, {
            traceId: echo,
            title: echo,
            detail: echo,
            message: echo,
            error: echo,
            errors: [echo],
            errorCode: echo,
            errorMessage: echo,
            error_description: echo,
          })
          return
        }
        switch (this.tokenMode) {
          case 'issue': {
            this.#count++
            const access = `ISSUED-ACCESS-TOKEN-${this.#count}-5f1d8c`
            const refresh = `ISSUED-REFRESH-TOKEN-${this.#count}-9b2e7a`
            this.issued.push(access, refresh)
            json(200, {
              access_token: access,
              expires_in: 3600,
              token_type: 'Bearer',
              refresh_token: refresh,
              refresh_expires_in: 0,
              valid_till: '2099-01-01T00:00:00+00:00',
            })
            return
          }
          case 'oauth-echo':
            json(400, { error: 'invalid_client', error_description: echo })
            return
          case 'grant-echo':
            json(401, { error: 'invalid_grant', error_description: echo })
            return
          case 'clear-echo':
            json(401, {
              errors: [
                { error_code: echo, error_message: echo, error_id: echo, error_source: echo },
              ],
            })
            return
          case 'html-echo':
            response.writeHead(503, { 'content-type': 'text/html' })
            response.end(`<!DOCTYPE html><html><body><pre>${echo}</pre></body></html>`)
            return
          case 'missing-echo':
            json(200, { error: echo, message: echo, errors: [{ error_message: echo }] })
            return
          case 'rate-echo':
            json(429, { error: echo, error_description: echo }, { 'retry-after': '30' })
            return
          case 'plain-echo':
            response.writeHead(500, { 'content-type': 'text/plain' })
            response.end(echo)
            return
          case 'huge-echo':
            response.writeHead(200, { 'content-type': 'application/json' })
            response.end(`{"error":"${echo.replace(/"/g, "'").repeat(20_000)}"}`)
            return
        }
      })
    })
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve))
    this.origin = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections()
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve())
  }
}
