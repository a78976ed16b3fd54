import { inspect } from 'node:util'
import { ManualClock, Secret } from '@tokenkeeper/auth-core'
import {
  captureTokenEvents,
  createMockAgent,
  type MockAnswer,
} from '@tokenkeeper/auth-core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { listIdentities } from './clearid-api.ts'
import { parseClearIdKeyFile } from './clearid-key-file.ts'
import { createClearId } from './clearid-provider.ts'
import { resolveClearIdSettings } from './clearid-settings.ts'
import { clearIdTokenSource } from './clearid-token-source.ts'
import {
  accessToken,
  CLIENT_ID,
  CLIENT_SECRET,
  IDENTITY_API,
  isolateEnvironment,
  mockSts,
  START,
  testKeys,
  tokens,
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

/** Every spelling in which an echoing server can repeat a value it received. */
function spellings(value: string): string[] {
  return [
    ...new Set([
      value,
      encodeURIComponent(value),
      new URLSearchParams({ v: value }).toString().slice(2),
      JSON.stringify(value).slice(1, -1),
    ]),
  ]
}

describe('servers that echo the request', () => {
  // The STS answers with the form body it received (the secret or assertion form-encoded), in
  // `error` and `error_description`, and once with the secret placed across the 200-character
  // cut of the description.
  it.each([
    ['client secret', { clientSecret: CLIENT_SECRET }],
    ['private key', { privateKey: keys.pkcs8 }],
  ])(
    'the STS echoing the %s in every spelling: nothing of it printed',
    async (_name, credential) => {
      const mock = createMockAgent()
      agents.push(mock)
      const echoes: Array<(body: string, sent: string) => MockAnswer> = [
        (body) => ({ status: 400, body: { error: 'invalid_client', error_description: body } }),
        (body) => ({ status: 401, body: { error: body, error_description: body } }),
        (_body, sent) => ({
          status: 400,
          body: {
            error: 'invalid_client',
            error_description: `${'.'.repeat(190)} ${encodeURIComponent(sent)} ${sent}`,
          },
        }),
        (body) => ({
          status: 429,
          body: { error: 'slow_down', error_description: body },
          headers: { 'retry-after': '1' },
        }),
      ]
      const sts = mockSts(mock, (index, request) => {
        const sent = request.form.get('client_secret') ?? request.form.get('assertion') ?? ''
        return (echoes[index] ?? echoes[0]!)(request.body, sent)
      })
      const lines: string[] = []
      const capture = captureTokenEvents()
      const clock = new ManualClock()
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
      const messages: string[] = []
      for (let attempt = 0; attempt < echoes.length; attempt++) {
        const error = await client.getToken().catch((caught: unknown) => caught)
        expect(error).toBeInstanceOf(Error)
        messages.push((error as Error).message)
        outputs.push(everyRendering(error))
        await clock.advance(2_000)
      }
      capture.stop()
      outputs.push(lines.join('\n'), everyRendering(capture.events))
      await client.close()

      expect(sts.requests).toHaveLength(echoes.length)
      expect(lines.length).toBeGreaterThan(0)
      expect(capture.events.length).toBeGreaterThan(0)
      // The quoted description is still there, with the secret replaced.
      expect(messages[0]).toContain('[redacted]')
      expect(messages[0]).toContain('grant_type=')
      const sent = sts.requests.flatMap((request) => [
        request.form.get('client_secret') ?? '',
        request.form.get('assertion') ?? '',
      ])
      const all = outputs.join('\n')
      for (const secret of [CLIENT_SECRET, ...sent].filter((value) => value.length > 0)) {
        for (const spelling of spellings(secret)) expect(all).not.toContain(spelling)
      }
      // Nor a piece of one cut off by the shortened description.
      expect(all).not.toContain('SECRET-sentinel')
    },
  )

  it('the Identity API echoing the token: redacted from the message, traceId and output', async () => {
    const mock = createMockAgent()
    agents.push(mock)
    const clock = new ManualClock()
    const sts = mockSts(
      mock,
      tokens(() => clock.now()),
    )
    const sentTokens: string[] = []
    mock
      .get(IDENTITY_API)
      .intercept({ path: '/api/v2/accounts/acme-account/identities', method: 'GET' })
      .reply((request) => {
        const authorization = (request.headers as Record<string, string>).authorization ?? ''
        sentTokens.push(authorization.replace(/^Bearer /, ''))
        const echo = `GET ${request.path} authorization=${authorization} ${encodeURIComponent(authorization)}`
        const status = [401, 401, 403, 404, 500][sentTokens.length - 1] ?? 500
        return {
          statusCode: status,
          data: JSON.stringify({ title: echo, detail: echo, traceId: echo, message: echo }),
          responseOptions: { headers: { 'content-type': 'application/problem+json' } },
        }
      })
      .persist()
    const lines: string[] = []
    const capture = captureTokenEvents()
    const client = createClearId({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      dispatcher: mock,
      clock,
      logger: recordingLogger(lines),
    })
    const outputs: string[] = []
    const errors: unknown[] = []
    // 401 (renewed and retried, 401 again), then 403, 404 and 500.
    for (let call = 0; call < 4; call++) {
      const error = await listIdentities(client, { clientId: CLIENT_ID }).catch(
        (caught: unknown) => caught,
      )
      errors.push(error)
      outputs.push(everyRendering(error))
    }
    capture.stop()
    outputs.push(lines.join('\n'), everyRendering(capture.events))
    await client.close()

    expect(errors.map((error) => (error as { status?: number }).status)).toEqual([
      401, 403, 404, 500,
    ])
    expect(errors[1]).toMatchObject({ name: 'ClearIdApiError', traceId: expect.any(String) })
    const message = (errors[1] as Error).message
    expect(message).toContain('authorization=Bearer [redacted]')
    expect(message).toContain('[traceId GET /api/v2/accounts/acme-account/identities')
    expect(sts.requests).toHaveLength(2)
    expect(new Set(sentTokens).size).toBe(2)
    const all = outputs.join('\n')
    for (const token of sentTokens) {
      for (const spelling of spellings(token)) expect(all).not.toContain(spelling)
    }
  })

  it('a client without getAuthHeaders: the echoing answer is not quoted at all', async () => {
    const token = 'TOKEN-sentinel-opaque-4711'
    const echo = `authorization=Bearer ${token}`
    const client = {
      fetch: async () =>
        new Response(JSON.stringify({ title: echo, traceId: echo }), {
          status: 403,
          headers: { 'content-type': 'application/problem+json' },
        }),
    }
    const error = await listIdentities(client, { clientId: CLIENT_ID }).catch(
      (caught: unknown) => caught,
    )
    expect(error).toMatchObject({ name: 'ClearIdApiError', status: 403 })
    expect((error as { traceId?: string }).traceId).toBeUndefined()
    expect(everyRendering(error)).not.toContain(token)
    expect((error as Error).message).toContain('answered HTTP 403; the API integration lacks')
  })
})
