import { inspect } from 'node:util'
import { TokenKeeperError } from '@tokenkeeper/auth-core'
import type { IHttpRequestOptions } from 'n8n-workflow'
import { describe, expect, it } from 'vitest'
import { n8nTransport } from '../src/transport.ts'

describe('n8nTransport', () => {
  it("asks n8n's helper for the full text response, no redirects, no status errors", async () => {
    const calls: IHttpRequestOptions[] = []
    const transport = n8nTransport(async (options) => {
      calls.push(options)
      return {
        statusCode: 200,
        headers: { 'Content-Type': 'application/json', Date: 'x' },
        body: '{"a":1}',
      }
    })
    const response = await transport({
      url: 'https://sts.example.com/connect/token',
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    })
    expect(response).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json', date: 'x' },
      body: '{"a":1}',
    })
    expect(calls[0]).toMatchObject({
      url: 'https://sts.example.com/connect/token',
      method: 'POST',
      body: 'grant_type=client_credentials',
      returnFullResponse: true,
      ignoreHttpStatusErrors: true,
      disableFollowRedirect: true,
      encoding: 'text',
      json: false,
    })
  })

  it('turns parsed, buffered and repeated values back into text', async () => {
    const bodies: unknown[] = [{ access_token: 'x' }, Buffer.from('buffered'), undefined]
    const transport = n8nTransport(async () => ({
      statusCode: 400,
      headers: { 'set-cookie': ['a=1', 'b=2'], empty: undefined },
      body: bodies.shift(),
    }))
    const request = { url: 'https://h.example', method: 'GET' as const, headers: {} }
    expect(await transport(request)).toMatchObject({
      status: 400,
      headers: { 'set-cookie': 'a=1, b=2' },
      body: '{"access_token":"x"}',
    })
    expect((await transport(request)).body).toBe('buffered')
    expect((await transport(request)).body).toBe('')
  })

  it('reports a failed connection by host only, never with the request it carried', async () => {
    const secret = 'client-secret-value-123'
    const transport = n8nTransport(async (options) => {
      const error = new Error('connect ECONNREFUSED 127.0.0.1:9')
      Object.assign(error, {
        code: 'ECONNREFUSED',
        config: { headers: options.headers, data: options.body },
      })
      throw error
    })
    const failure = await transport({
      url: 'https://auth.example.com/token',
      method: 'POST',
      headers: { authorization: `Basic ${secret}` },
      body: `password=${secret}`,
    }).catch((error: unknown) => error)
    expect(TokenKeeperError.is(failure)).toBe(true)
    expect((failure as TokenKeeperError).code).toBe('NETWORK_ERROR')
    expect(String(failure)).toContain('auth.example.com')
    expect(String(failure)).toContain('ECONNREFUSED')
    for (const text of [
      String(failure),
      inspect(failure, { depth: 10 }),
      JSON.stringify(failure),
    ]) {
      expect(text).not.toContain(secret)
    }
  })

  it('reports a timeout as a timeout', async () => {
    const transport = n8nTransport(async () => {
      throw Object.assign(new Error('timeout of 10000ms exceeded'), { code: 'ECONNABORTED' })
    })
    await expect(
      transport({ url: 'https://h.example/t', method: 'GET', headers: {} }),
    ).rejects.toMatchObject({ code: 'TIMEOUT' })
  })

  it('refuses an answer without a status', async () => {
    const transport = n8nTransport(async () => 'just a body')
    await expect(
      transport({ url: 'https://h.example/t', method: 'GET', headers: {} }),
    ).rejects.toMatchObject({ code: 'NETWORK_ERROR' })
  })
})
