import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import {
  createAccessToken,
  createTokenClient,
  loadSecret,
  ManualClock,
  Secret,
  TokenKeeperError,
} from '../src/index.ts'
import { CLIENT_SECRET, captureEvents, exampleSource, mockAgent, tokenEndpoint } from './helpers.ts'

const TOKEN = 'ACCESS-sentinel-5521'

function everyRendering(value: unknown): string {
  return [
    String(value),
    JSON.stringify(value),
    inspect(value, { depth: 10, showHidden: true }),
    `${value}`,
  ].join('\n')
}

describe('secrets stay secret', () => {
  it('AccessToken never shows its value when printed', () => {
    const token = createAccessToken({ value: TOKEN, expiresAt: null, issuedAt: 0, type: 'Bearer' })
    expect(token.value).toBe(TOKEN)
    expect(everyRendering(token)).not.toContain(TOKEN)
    expect(everyRendering({ nested: token })).not.toContain(TOKEN)
    expect(Object.keys(token)).not.toContain('value')
  })

  it('Secret never shows its value when printed', () => {
    const secret = new Secret(CLIENT_SECRET)
    expect(secret.reveal()).toBe(CLIENT_SECRET)
    expect(everyRendering(secret)).not.toContain(CLIENT_SECRET)
    expect(everyRendering({ settings: { clientSecret: secret } })).not.toContain(CLIENT_SECRET)
  })

  it('loadSecret names the option and the variable, never a value', () => {
    const error = (() => {
      try {
        loadSecret({
          value: undefined,
          setting: 'clientSecret',
          env: 'EXAMPLE_CLIENT_SECRET',
          vendor: 'Example',
          environment: {},
        })
      } catch (caught) {
        return caught as TokenKeeperError
      }
    })()
    expect(error?.message).toBe(
      'Example: clientSecret is missing; pass { clientSecret } or set EXAMPLE_CLIENT_SECRET',
    )
    expect(error?.code).toBe('CONFIGURATION_INVALID')
  })

  it('no error path, event or log line of the client contains the secret or a token', async () => {
    const answers = [
      { status: 400, body: { error: 'invalid_client', error_description: 'bad client' } },
      { status: 500, body: `<html>${CLIENT_SECRET}</html>` },
      { status: 200, body: `{"access_token": "${TOKEN}", "expires_in": "soon"}` },
      { status: 200, body: `{"access_token": "${TOKEN}"` },
      { status: 200, body: { access_token: `${TOKEN}\r\nX-Injected: 1`, expires_in: 60 } },
      { status: 429, body: { error: 'slow_down' }, headers: { 'retry-after': '1' } },
      { status: 200, body: { access_token: TOKEN, expires_in: -1 } },
      'reset' as const,
    ]
    const agent = mockAgent()
    tokenEndpoint(agent, (index) => answers[index] ?? 'reset')
    const logs: string[] = []
    const logger = {
      debug: (message: string, fields?: unknown) => logs.push(message + inspect(fields)),
      info: (message: string, fields?: unknown) => logs.push(message + inspect(fields)),
      warn: (message: string, fields?: unknown) => logs.push(message + inspect(fields)),
      error: (message: string, fields?: unknown) => logs.push(message + inspect(fields)),
    }
    const capture = captureEvents()
    const clock = new ManualClock()
    const client = createTokenClient(exampleSource(), {
      dispatcher: agent,
      clock,
      logger,
      negativeCacheTtl: 1,
    })
    const errors: unknown[] = []
    try {
      for (let attempt = 0; attempt < answers.length; attempt++) {
        errors.push(await client.getToken().catch((error: unknown) => error))
        await clock.advance(120_000)
      }
    } finally {
      capture.stop()
      await client.close()
    }
    expect(errors.every((error) => TokenKeeperError.is(error))).toBe(true)
    const output = [
      ...errors.map(everyRendering),
      ...errors.map((error) => inspect((error as Error).cause)),
      inspect(client),
      JSON.stringify(capture.events),
      ...logs,
    ].join('\n')
    expect(output).not.toContain(CLIENT_SECRET)
    expect(output).not.toContain(TOKEN)
    expect(logs.length).toBeGreaterThan(0)
  })
})

describe('urlSetting', () => {
  it('accepts https and loopback http, refuses the rest with the option named', async () => {
    const { urlSetting } = await import('../src/index.ts')
    expect(urlSetting('https://api.example.com/base/', 'baseUrl', 'V')).toBe(
      'https://api.example.com/base',
    )
    expect(urlSetting('http://127.0.0.1:8080', 'baseUrl', 'V')).toBe('http://127.0.0.1:8080')
    expect(() =>
      urlSetting('http://api.example.com', 'baseUrl', 'V', { label: 'V_BASE_URL' }),
    ).toThrowError(
      expect.objectContaining({
        code: 'INSECURE_TRANSPORT',
        setting: 'baseUrl',
        message: expect.stringContaining('V_BASE_URL'),
      }),
    )
    for (const bad of [
      'not a url',
      'ftp://x.example.com',
      'https://user:pw@x.example.com',
      'https://x.example.com/?a=1',
    ]) {
      expect(() => urlSetting(bad, 'baseUrl', 'V')).toThrowError(
        expect.objectContaining({ code: 'CONFIGURATION_INVALID' }),
      )
    }
  })
})
