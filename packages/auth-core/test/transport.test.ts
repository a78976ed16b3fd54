import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import {
  assertSecureUrl,
  createTokenClient,
  createUndiciTransport,
  isLoopbackHost,
  type TokenSource,
} from '../src/index.ts'

const servers: Server[] = []
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
  )
})

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  server.unref()
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('undici transport', () => {
  it('reads status, lower-cased headers and body', async () => {
    const url = await serve((_, response) => {
      response.writeHead(200, { 'Content-Type': 'application/json', 'X-Thing': 'a' })
      response.end('{"ok":true}')
    })
    const { transport, close } = createUndiciTransport()
    const answer = await transport({ url, method: 'GET', headers: {} })
    expect(answer).toMatchObject({ status: 200, body: '{"ok":true}' })
    expect(answer.headers['x-thing']).toBe('a')
    await close()
  })

  it('caps the response body: a multi-megabyte answer is refused', async () => {
    const url = await serve((_, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      const chunk = Buffer.alloc(64 * 1024, 'a')
      let sent = 0
      const write = () => {
        while (sent < 8 * 1024 * 1024) {
          sent += chunk.length
          if (!response.write(chunk)) return response.once('drain', write)
        }
        response.end()
      }
      write()
    })
    const { transport, close } = createUndiciTransport({ maxResponseBytes: 1024 * 1024 })
    await expect(transport({ url, method: 'GET', headers: {} })).rejects.toMatchObject({
      code: 'INVALID_TOKEN_RESPONSE',
      message: expect.stringMatching(/larger than 1048576 bytes/),
    })
    await close()
  })

  it('does not follow redirects', async () => {
    let followed = false
    const target = await serve((_, response) => {
      followed = true
      response.end('{}')
    })
    const url = await serve((_, response) => {
      response.writeHead(302, { location: `${target}/steal` })
      response.end()
    })
    const { transport, close } = createUndiciTransport()
    const answer = await transport({
      url,
      method: 'POST',
      headers: {},
      body: 'client_secret=SECRET',
    })
    expect(answer.status).toBe(302)
    expect(followed).toBe(false)
    await close()
  })

  it('times out with a typed, retryable error', async () => {
    const url = await serve(() => {
      // never answers
    })
    const { transport, close } = createUndiciTransport({ timeout: 100 })
    await expect(transport({ url, method: 'GET', headers: {} })).rejects.toMatchObject({
      code: 'TIMEOUT',
      retryable: true,
    })
    await close()
  })

  it('turns a reset connection into a typed, retryable network error', async () => {
    const url = await serve((request) => {
      request.socket.destroy()
    })
    const { transport, close } = createUndiciTransport()
    await expect(transport({ url, method: 'GET', headers: {} })).rejects.toMatchObject({
      code: 'NETWORK_ERROR',
      retryable: true,
    })
    await close()
  })
})

describe('secure URLs', () => {
  it('allows https and loopback http only', () => {
    expect(() => assertSecureUrl('https://auth.example.com/token')).not.toThrow()
    for (const url of [
      'http://127.0.0.1:1/x',
      'http://localhost/x',
      'http://[::1]:8080/x',
      'http://api.localhost/x',
    ]) {
      expect(() => assertSecureUrl(url)).not.toThrow()
    }
    for (const url of [
      'http://auth.example.com/token',
      'http://10.0.0.1/token',
      'ftp://127.0.0.1/x',
      'http://127.0.0.1.evil.com/x',
    ]) {
      expect(() => assertSecureUrl(url)).toThrowError(
        expect.objectContaining({
          code: expect.stringMatching(/INSECURE_TRANSPORT|CONFIGURATION_INVALID/),
        }),
      )
    }
    expect(isLoopbackHost('127.8.9.10')).toBe(true)
    expect(isLoopbackHost('128.0.0.1')).toBe(false)
  })

  it('a token request carrying a secret to plain-HTTP non-loopback is refused before sending', async () => {
    let sent = 0
    const source: TokenSource = {
      vendor: 'example',
      cacheKey: () => 'k',
      async requestToken({ transport }) {
        await transport({
          url: 'http://auth.example.com/token',
          method: 'POST',
          headers: {},
          body: 'client_secret=s',
        })
        sent++
        return { value: 'x' }
      },
      authHeaders: () => ({}),
    }
    const client = createTokenClient(source, {
      transport: async () => {
        sent++
        return { status: 200, headers: {}, body: '{}' }
      },
    })
    await expect(client.getToken()).rejects.toMatchObject({ code: 'INSECURE_TRANSPORT' })
    expect(sent).toBe(0)
    await client.close()
  })
})
