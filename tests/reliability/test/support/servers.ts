import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** What a recording server received. */
export interface ReceivedRequest {
  readonly method: string
  readonly url: string
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly body: string
}

/** Answers one request; the body has been read. */
export type Answer = (request: ReceivedRequest, response: ServerResponse) => void

/** A loopback HTTP server that records every request it receives, then answers it. */
export class RecordingServer {
  readonly received: ReceivedRequest[] = []
  origin = ''
  #server: Server | undefined
  #answer: Answer

  constructor(answer: Answer) {
    this.#answer = answer
  }

  async start(): Promise<this> {
    this.#server = createServer((message: IncomingMessage, response) => {
      const chunks: Buffer[] = []
      message.on('data', (chunk: Buffer) => chunks.push(chunk))
      message.on('end', () => {
        const request: ReceivedRequest = {
          method: message.method ?? '',
          url: message.url ?? '',
          headers: { ...message.headers },
          body: Buffer.concat(chunks).toString('utf8'),
        }
        this.received.push(request)
        this.#answer(request, response)
      })
    })
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve))
    this.origin = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
    return this
  }

  /** Everything received, as one text (to search for secrets). */
  text(): string {
    return this.received
      .map(
        (request) =>
          `${request.method} ${request.url} ${JSON.stringify(request.headers)} ${request.body}`,
      )
      .join('\n')
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections()
    await new Promise<void>((resolve) =>
      this.#server ? this.#server.close(() => resolve()) : resolve(),
    )
  }
}

/** A token answer every vendor package accepts (OAuth fields plus Clear's `valid_till`). */
export function tokenAnswer(response: ServerResponse, value: string): void {
  response.writeHead(200, { 'content-type': 'application/json' })
  response.end(
    JSON.stringify({
      access_token: value,
      expires_in: 3600,
      token_type: 'Bearer',
      refresh_token: `${value}-refresh`,
      refresh_expires_in: 0,
      valid_till: '2099-01-01T00:00:00+00:00',
    }),
  )
}
