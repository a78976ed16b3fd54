import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../src/cli.ts'
import { Redactor } from '../src/io.ts'
import { captureIo } from './support/io.ts'

/** A password full of characters that URL and form encoding escape. */
const PASSWORD = 'SECRET-pa55:word+1/= ü'

/** Every spelling in which an echoing server can repeat a value it received. */
function spellings(value: string): string[] {
  return [
    ...new Set([
      value,
      encodeURIComponent(value),
      new URLSearchParams({ v: value }).toString().slice(2),
    ]),
  ]
}

describe('Redactor', () => {
  it('replaces a secret in every spelling: raw, URL-encoded and form-encoded', () => {
    const redactor = new Redactor()
    redactor.add(PASSWORD)
    const text = spellings(PASSWORD)
      .map((spelling) => `<${spelling}>`)
      .join(' ')
    expect(spellings(PASSWORD)).toHaveLength(3)
    expect(redactor.redact(text)).toBe('<[redacted]> <[redacted]> <[redacted]>')
  })

  it('replaces a secret that contains another whole, and ignores values too short to be one', () => {
    const redactor = new Redactor()
    redactor.add('SECRET-inner')
    redactor.add('SECRET-inner+outer')
    redactor.add('abc')
    redactor.add(undefined)
    expect(redactor.redact('a SECRET-inner+outer b SECRET-inner%2Bouter c SECRET-inner abc')).toBe(
      'a [redacted] b [redacted] c [redacted] abc',
    )
  })
})

describe('tokenkeeper token against an endpoint that echoes the request', () => {
  let server: Server
  let origin: string
  let directory: string
  const received: string[] = []

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'tokenkeeper-cli-redaction-'))
    server = createServer((request, response) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        received.push(body)
        response.writeHead(400, { 'content-type': 'application/json' })
        response.end(JSON.stringify({ error: body, error_description: `received ${body}` }))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    rmSync(directory, { recursive: true, force: true })
  })

  it('apiax: standard error shows no spelling of the password', async () => {
    const { io, stdout, stderr } = captureIo({}, { cwd: directory })
    const code = await runCli(
      [
        'token',
        'apiax',
        '--username',
        'someone@example.test',
        '--password',
        PASSWORD,
        '--token-url',
        `${origin}/auth/realms/apiax/protocol/openid-connect/token`,
        '--no-cache',
      ],
      io,
    )
    expect(code).toBe(1)
    expect(stdout.text).toBe('')
    expect(received).toHaveLength(1)
    expect(new URLSearchParams(received[0]).get('password')).toBe(PASSWORD)
    expect(stderr.text).toContain('password=[redacted]')
    for (const spelling of spellings(PASSWORD)) expect(stderr.text).not.toContain(spelling)
  })
})
