import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { Socket } from 'node:net'
import { EmulatorError } from './errors.ts'

/** Largest request body the emulator reads; real token endpoints refuse far smaller ones. */
export const REQUEST_BODY_LIMIT = 1024 * 1024

/** A request as the vendor handlers see it: the body is already read. */
export class EmulatorRequest {
  readonly method: string
  readonly pathname: string
  readonly query: URLSearchParams
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
  #form: URLSearchParams | undefined | null = null

  constructor(message: IncomingMessage, url: URL, body: Buffer) {
    this.method = message.method ?? 'GET'
    this.pathname = url.pathname
    this.query = url.searchParams
    this.headers = message.headers
    this.body = body
  }

  /** The first value of a header, or `undefined`. */
  header(name: string): string | undefined {
    const value = this.headers[name.toLowerCase()]
    return Array.isArray(value) ? value[0] : value
  }

  /** The media type of the body, lower case, without parameters. */
  get mediaType(): string {
    return (this.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
  }

  /** The form parameters, or `undefined` when the body is not `application/x-www-form-urlencoded`. */
  form(): URLSearchParams | undefined {
    if (this.#form === null) {
      this.#form =
        this.mediaType === 'application/x-www-form-urlencoded'
          ? new URLSearchParams(this.body.toString('utf8'))
          : undefined
    }
    return this.#form
  }

  /** The JSON body, or `undefined` when it is absent or not JSON. */
  json(): unknown {
    if (this.body.length === 0) return undefined
    try {
      return JSON.parse(this.body.toString('utf8'))
    } catch {
      return undefined
    }
  }

  /** The token of an `Authorization: Bearer` header (scheme case-insensitive), or `undefined`. */
  bearer(): string | undefined {
    const match = /^Bearer +(\S+)\s*$/i.exec(this.header('authorization') ?? '')
    return match?.[1]
  }
}

/** Writes answers with the emulator's `Date` header and reports each status once. */
export class Reply {
  readonly #response: ServerResponse
  readonly #now: () => number
  readonly #onAnswer: (status: number | 'reset') => void
  #answered = false

  constructor(
    response: ServerResponse,
    now: () => number,
    onAnswer: (status: number | 'reset') => void,
  ) {
    this.#response = response
    this.#now = now
    this.#onAnswer = onAnswer
  }

  /** Whether an answer (or a reset) was already sent. */
  get answered(): boolean {
    return this.#answered
  }

  /** A JSON answer; token answers must not be cached (RFC 6749 §5.1), so nothing is. */
  json(status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.send(status, JSON.stringify(body), 'application/json; charset=utf-8', headers)
  }

  /** An answer without a body. */
  empty(status: number, headers: Record<string, string> = {}): void {
    this.send(status, '', undefined, headers)
  }

  /** Any answer. */
  send(
    status: number,
    body: string | Buffer,
    contentType: string | undefined,
    headers: Record<string, string> = {},
  ): void {
    if (this.#answered) return
    this.#answered = true
    this.#onAnswer(status)
    const response = this.#response
    if (response.destroyed) return
    response.statusCode = status
    // The emulator's clock, not the machine's: clock-skew tests read this header.
    response.setHeader('Date', new Date(this.#now()).toUTCString())
    response.setHeader('Cache-Control', 'no-store')
    response.setHeader('Pragma', 'no-cache')
    if (contentType) response.setHeader('Content-Type', contentType)
    for (const [name, value] of Object.entries(headers)) response.setHeader(name, value)
    response.setHeader('Content-Length', Buffer.byteLength(body))
    response.end(body)
  }

  /** Destroys the connection without answering (a TCP reset where the platform allows it). */
  reset(): void {
    if (this.#answered) return
    this.#answered = true
    this.#onAnswer('reset')
    const socket = this.#response.socket as (Socket & { resetAndDestroy?: () => void }) | null
    if (socket?.resetAndDestroy) socket.resetAndDestroy()
    else socket?.destroy()
  }
}

/** Reads a request body up to `limit` bytes; resolves `undefined` when it is larger. */
export function readBody(message: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let tooLarge = false
    message.on('data', (chunk: Buffer) => {
      if (tooLarge) return
      size += chunk.length
      if (size > limit) {
        tooLarge = true
        chunks.length = 0
        resolve(undefined)
        return
      }
      chunks.push(chunk)
    })
    message.on('end', () => {
      if (!tooLarge) resolve(Buffer.concat(chunks))
    })
    message.on('error', reject)
  })
}

/** Whether `host` names a loopback interface. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase()
  return bare === 'localhost' || bare === '::1' || /^127(?:\.\d{1,3}){3}$/.test(bare)
}

/** The address to bind for a loopback host name (`localhost` is pinned to IPv4). */
export function bindAddress(host: string): string {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase()
  return bare === 'localhost' ? '127.0.0.1' : bare
}

/** `http://host:port` with IPv6 brackets. */
export function originOf(address: string, port: number): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`
}

/** A listening server that can be closed with every connection it holds. */
export interface ListeningServer {
  server: Server
  origin: string
  close(): Promise<void>
}

/** Starts an HTTP server on `address:port` (0 = any free port). */
export async function listen(
  address: string,
  port: number,
  name: string,
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<ListeningServer> {
  const server = createServer(handler)
  const sockets = new Set<Socket>()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  // A client that disconnects mid-request must not crash the process.
  server.on('clientError', (_error, socket) => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      server.close()
      reject(
        new EmulatorError(
          'START_FAILED',
          `The ${name} server could not listen on ${address}:${port}: ${error.message}`,
          { cause: error },
        ),
      )
    }
    server.once('error', onError)
    server.listen(port, address, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const bound = server.address()
  const actualPort = typeof bound === 'object' && bound ? bound.port : port
  let closing: Promise<void> | undefined
  return {
    server,
    origin: originOf(address, actualPort),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
        for (const socket of sockets) socket.destroy()
      })
      return closing
    },
  }
}
