import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'

/** One token request the server received. */
export interface TokenRequestRecord {
  readonly index: number
  /** Whatever `onRequest` returned for it (e.g. who held the lease at that moment). */
  readonly note: unknown
}

/** Options of {@link startTokenServer}. */
export interface TokenServerOptions {
  /** Seconds of validity of issued tokens. Default 3600. */
  expiresIn?: number
  /** Delay of each answer in ms; `'hold'` keeps the first request unanswered until `releaseHeld()`. */
  delay?: number | ((index: number) => number | 'hold')
  /** Called on each request before answering; what it returns is kept in `requests`. */
  onRequest?: (index: number) => unknown | Promise<unknown>
}

/** A loopback OAuth token endpoint that counts requests and numbers its tokens. */
export interface TokenServer {
  readonly url: string
  readonly requests: TokenRequestRecord[]
  get count(): number
  /** Resolves once at least `count` requests have arrived. */
  waitForRequests(count: number): Promise<void>
  releaseHeld(): void
  close(): Promise<void>
}

/** Starts a token server on 127.0.0.1, port 0 (plain HTTP is allowed to loopback). */
export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const requests: TokenRequestRecord[] = []
  const waiters: Array<{ count: number; resolve: () => void }> = []
  const held: Array<() => void> = []
  let count = 0
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume()
    request.on('end', async () => {
      if (request.url !== '/token' || request.method !== 'POST') {
        response.writeHead(404).end()
        return
      }
      const index = count++
      const note = options.onRequest ? await options.onRequest(index) : undefined
      requests.push({ index, note })
      for (const waiter of waiters.filter((item) => item.count <= count)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
      const answer = () => {
        if (response.destroyed) return
        response.writeHead(200, { 'content-type': 'application/json' })
        response.end(
          JSON.stringify({
            access_token: `token-${index + 1}`,
            token_type: 'Bearer',
            expires_in: options.expiresIn ?? 3600,
          }),
        )
      }
      const delay = typeof options.delay === 'function' ? options.delay(index) : options.delay
      if (delay === 'hold') held.push(answer)
      else if (delay) setTimeout(answer, delay)
      else answer()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}/token`,
    requests,
    get count() {
      return count
    },
    waitForRequests: (wanted) =>
      count >= wanted
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ count: wanted, resolve })),
    releaseHeld: () => {
      for (const answer of held.splice(0)) answer()
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
