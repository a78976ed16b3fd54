import { inspect } from 'node:util'
import { ManualClock, Secret } from '@tokenkeeper/auth-core'
import {
  captureTokenEvents,
  createMockAgent,
  type MockAnswer,
} from '@tokenkeeper/auth-core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { parseClearIdKeyFile } from './clearid-key-file.ts'
import { createClearId } from './clearid-provider.ts'
import { resolveClearIdSettings } from './clearid-settings.ts'
import { clearIdTokenSource } from './clearid-token-source.ts'
import {
  accessToken,
  CLIENT_ID,
  CLIENT_SECRET,
  isolateEnvironment,
  mockSts,
  START,
  testKeys,
} from './test-helpers.ts'

isolateEnvironment()

const keys = testKeys()
/** Pieces of the private key that must never be printed, in every format. */
const KEY_MATERIAL = [
  keys.pkcs8.split('\n')[5] ?? '',
  keys.pkcs1.split('\n')[5] ?? '',
  String(keys.jwk.d).slice(0, 40),
  String(keys.jwk.p).slice(0, 40),
]

function everyRendering(value: unknown): string {
  return [
    String(value),
    (() => {
      try {
        return JSON.stringify(value)
      } catch {
        return ''
      }
    })(),
    inspect(value, { depth: 10, showHidden: true }),
    value instanceof Error ? `${value.stack}${inspect(value.cause, { depth: 10 })}` : '',
  ].join('\n')
}

function recordingLogger(lines: string[]) {
  const log = (message: string, fields?: unknown) =>
    lines.push(`${message} ${inspect(fields, { depth: 10 })}`)
  return { debug: log, info: log, warn: log, error: log }
}

const agents: Array<ReturnType<typeof createMockAgent>> = []
afterEach(async () => {
  for (const created of agents.splice(0)) await created.close()
})

describe('secrets never appear in output', () => {
  it.each([
    ['client secret', { clientSecret: CLIENT_SECRET }],
    ['private key (PEM)', { privateKey: keys.pkcs8 }],
    ['private key (JWK)', { privateKey: keys.jwk }],
  ])('with a %s: errors, logs, events and inspect output', async (_name, credential) => {
    const mock = createMockAgent()
    agents.push(mock)
    const clock = new ManualClock()
    const iat = Math.floor(START / 1000)
    const issuedToken = accessToken({ iat, exp: iat + 3600, jti: 'ACCESS-sentinel-1' })
    const answers: MockAnswer[] = [
      // Replaced below by an echo of whatever credential the request carried.
      { status: 400, body: { error: 'invalid_client' } },
      { status: 400, body: { error: 'invalid_grant' } },
      {
        status: 502,
        body: `<html>${CLIENT_SECRET}</html>`,
        headers: { 'content-type': 'text/html' },
      },
      { status: 200, body: `{"access_token": "${issuedToken}"` },
      { status: 429, body: { error: 'slow_down' }, headers: { 'retry-after': '1' } },
      { status: 200, body: { access_token: issuedToken, expires_in: 3600, token_type: 'Bearer' } },
    ]
    const sts = mockSts(mock, (index, request) => {
      if (index === 0) {
        const sent = request.form.get('client_secret') ?? request.form.get('assertion')
        return { status: 400, body: { error: 'invalid_client', error_description: `echo ${sent}` } }
      }
      return answers[index] ?? { status: 500, body: '' }
    })
    const lines: string[] = []
    const capture = captureTokenEvents()
    const client = createClearId({
      clientId: CLIENT_ID,
      ...credential,
      dispatcher: mock,
      clock,
      logger: recordingLogger(lines),
      negativeCacheTtl: 1,
      backoff: { initial: 1, max: 1 },
    })

    const outputs: string[] = []
    for (let attempt = 0; attempt < answers.length; attempt++) {
      try {
        const token = await client.getToken()
        outputs.push(
          everyRendering(token),
          everyRendering(await client.getAuthHeaders().then(() => token)),
        )
        break
      } catch (error) {
        outputs.push(everyRendering(error))
      }
      await clock.advance(2_000)
    }
    capture.stop()
    outputs.push(everyRendering(client), lines.join('\n'), everyRendering(capture.events))
    await client.close()

    const sent = sts.requests.flatMap((request) => [
      request.form.get('client_secret') ?? '',
      request.form.get('assertion') ?? '',
    ])
    const secrets = [
      CLIENT_SECRET,
      issuedToken,
      'ACCESS-sentinel',
      ...KEY_MATERIAL,
      ...sent,
    ].filter((secret) => secret.length > 0)
    expect(sts.requests.length).toBe(answers.length)
    expect(capture.events.length).toBeGreaterThan(0)
    expect(lines.length).toBeGreaterThan(0)
    const all = outputs.join('\n')
    for (const secret of secrets) expect(all).not.toContain(secret)
  })

  it('the source, resolved settings and a parsed key file print no secret', () => {
    const settings = {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      privateKey: new Secret(keys.pkcs1),
    }
    const rendered = [
      everyRendering(clearIdTokenSource(settings)),
      everyRendering(resolveClearIdSettings(settings)),
      everyRendering(
        resolveClearIdSettings({ clientId: CLIENT_ID, clientSecret: new Secret(CLIENT_SECRET) }),
      ),
      everyRendering(
        parseClearIdKeyFile({ clientId: CLIENT_ID, secret: CLIENT_SECRET, jwk: keys.jwk }),
      ),
    ].join('\n')
    for (const secret of [CLIENT_SECRET, ...KEY_MATERIAL]) expect(rendered).not.toContain(secret)
  })
})
