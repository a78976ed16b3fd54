import { generateKeyPairSync } from 'node:crypto'
import { inspect } from 'node:util'
import { ManualClock, type TokenClient, TokenKeeperError } from '@tokenkeeper/auth-core'
import {
  captureTokenEvents,
  createMockAgent,
  headerRecord,
  type MockAnswer,
  mockTokenEndpoint,
  type RecordedRequest,
} from '@tokenkeeper/auth-core/testing'
import type { MockAgent } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { API_ORIGIN, recordingLogger, TOKEN_URL, USERNAME } from '../test/mock-keycloak.ts'
import { isolate } from '../test/setup.ts'
import { type ApiaxSettings, apiaxRules, createApiax } from './index.ts'

// Servers (or proxies in front of them) that echo the request they received: the password,
// refresh token or client assertion form-encoded in Keycloak's `error`/`error_description`, the
// token and API key in the rule engine's error body.

isolate()

/** A password full of characters that form encoding escapes. */
const PASSWORD = 'SECRET-pa55:word+1/='
const API_KEY = 'SECRET-api-key+7e4b/2a='

const resources: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const resource of resources.splice(0).reverse()) await resource.close()
})

function client(agent: MockAgent, logger: ApiaxSettings['logger'], settings: ApiaxSettings = {}) {
  const created = createApiax({
    username: USERNAME,
    password: PASSWORD,
    apiKey: API_KEY,
    dispatcher: agent,
    clock: new ManualClock(),
    random: () => 0,
    logger,
    ...settings,
  })
  resources.push(created)
  return created
}

function agent(): MockAgent {
  const created = createMockAgent()
  resources.push(created)
  return created
}

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

/** Everything a user, a log pipeline or a crash report could see of a value. */
function renderings(value: unknown): string {
  return [
    value instanceof Error ? `${value.message}\n${value.stack}` : '',
    inspect(value, { depth: 10, showHidden: true }),
    JSON.stringify(value) ?? '',
  ].join('\n')
}

/** Form fields that carry a secret. */
const SECRET_FIELDS = ['password', 'refresh_token', 'client_assertion']

function sentSecrets(requests: readonly RecordedRequest[]): string[] {
  return requests.flatMap((request) =>
    SECRET_FIELDS.map((name) => request.form.get(name) ?? '').filter(Boolean),
  )
}

const echoes: Record<string, (request: RecordedRequest) => MockAnswer> = {
  'invalid_client echoing the body': (request) => ({
    status: 400,
    body: { error: 'invalid_client', error_description: `received ${request.body}` },
  }),
  'invalid_grant echoing the body in both fields': (request) => ({
    status: 401,
    body: { error: request.body, error_description: request.body },
  }),
  'the password across the cut of the description': (request) => ({
    status: 400,
    body: {
      error: 'invalid_request',
      error_description: `${'.'.repeat(190)} ${request.form.get('password')}`,
    },
  }),
  'the assertion and password first': (request) => ({
    status: 400,
    body: {
      error: 'invalid_client',
      error_description: `${request.form.get('client_assertion')} ${request.form.get('password')}`,
    },
  }),
  '429 echoing the body': (request) => ({
    status: 429,
    body: { error: request.body, error_description: request.body },
    headers: { 'retry-after': '30' },
  }),
}

describe('Keycloak echoing the form-encoded request', () => {
  it.each([
    ['password grant', {}],
    [
      'password grant with a client assertion',
      {
        clientAssertion: {
          privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 })
            .privateKey.export({ type: 'pkcs8', format: 'pem' })
            .toString(),
          clientId: 'acme-2fa',
        },
      },
    ],
  ] as const)('%s: nothing of the secrets in errors, logs or events', async (_name, settings) => {
    const mock = agent()
    const answers = Object.values(echoes)
    const endpoint = mockTokenEndpoint(mock, { url: TOKEN_URL }, (index, request) =>
      (answers[index] ?? answers[0]!)(request),
    )
    const capture = captureTokenEvents()
    const { lines, logger } = recordingLogger()
    const outputs: string[] = []
    const messages: string[] = []
    try {
      for (let attempt = 0; attempt < answers.length; attempt++) {
        const error = await client(mock, logger, settings)
          .getToken()
          .catch((caught: unknown) => caught)
        expect(TokenKeeperError.is(error)).toBe(true)
        messages.push((error as Error).message)
        outputs.push(renderings(error))
      }
    } finally {
      capture.stop()
    }
    outputs.push(...lines, JSON.stringify(capture.events))
    expect(endpoint.count).toBe(answers.length)
    expect(lines.length).toBeGreaterThan(0)
    expect(capture.events.length).toBeGreaterThan(0)
    expect(messages[0]).toContain('password=[redacted]')
    const everything = outputs.join('\n')
    const secrets = [PASSWORD, ...sentSecrets(endpoint.requests)]
    expect(secrets.some((secret) => secret.startsWith('eyJ'))).toBe('clientAssertion' in settings)
    for (const secret of secrets) {
      for (const spelling of spellings(secret)) expect(everything).not.toContain(spelling)
      // Nor the start of one cut off by a shortened description (an assertion is long).
      expect(everything).not.toContain(secret.slice(0, 60))
    }
    expect(everything).not.toContain('SECRET-pa55')
  })

  it.each([
    // invalid_grant: the refresh token is refused, then the login is answered with the echo.
    ['a refused refresh, then the login', 401, 'invalid_grant'],
    // Any other refusal is an error of the refresh itself, echoing the refresh token.
    ['a refresh answered with an error', 400, 'invalid_request'],
  ] as const)('%s: nothing of the password or refresh token', async (_name, status, error) => {
    const mock = agent()
    const endpoint = mockTokenEndpoint(mock, { url: TOKEN_URL }, (index, request) =>
      index === 0
        ? {
            body: {
              access_token: 'SECRET-access-1',
              expires_in: 1800,
              refresh_token: 'SECRET-refresh+1/=',
              refresh_expires_in: 0,
              token_type: 'bearer',
            },
          }
        : { status, body: { error, error_description: `received ${request.body}` } },
    )
    const capture = captureTokenEvents()
    const { lines, logger } = recordingLogger()
    let failure: unknown
    try {
      const apiax = client(mock, logger)
      await apiax.getToken()
      failure = await apiax.getToken({ forceRefresh: true }).catch((caught: unknown) => caught)
    } finally {
      capture.stop()
    }
    expect(TokenKeeperError.is(failure)).toBe(true)
    const grants = endpoint.requests.map((request) => request.form.get('grant_type'))
    expect(grants).toEqual(
      status === 401 ? ['password', 'refresh_token', 'password'] : ['password', 'refresh_token'],
    )
    expect((failure as Error).message).toContain('[redacted]')
    const everything = [renderings(failure), ...lines, JSON.stringify(capture.events)].join('\n')
    for (const secret of [PASSWORD, 'SECRET-refresh+1/=', 'SECRET-access-1']) {
      for (const spelling of spellings(secret)) expect(everything).not.toContain(spelling)
    }
  })
})

describe('the rule engine echoing the token and API key', () => {
  function echoingRuleEngine(mock: MockAgent, statuses: number[]) {
    const sent: Array<{ token: string; apiKey: string }> = []
    mock
      .get(API_ORIGIN)
      .intercept({ path: '/api/v3/rules/eval', method: 'POST' })
      .reply((options) => {
        const headers = headerRecord(options.headers)
        const authorization = headers.authorization ?? ''
        sent.push({ token: authorization.replace(/^Bearer /, ''), apiKey: headers.apikey ?? '' })
        const echo = `authorization=${authorization}; apikey=${headers.apikey}; ${encodeURIComponent(authorization)} ${new URLSearchParams({ k: headers.apikey ?? '' })}`
        return {
          statusCode: statuses[sent.length - 1] ?? 500,
          data: JSON.stringify({
            message: echo,
            error: echo,
            title: echo,
            request: { headers: { authorization, apikey: headers.apikey }, [echo]: [echo] },
          }),
          responseOptions: { headers: { 'content-type': 'application/json' } },
        }
      })
      .persist()
    return sent
  }

  it('message and details have them redacted; inspect, JSON, logs and events show neither', async () => {
    const mock = agent()
    let issued = 0
    mockTokenEndpoint(mock, { url: TOKEN_URL }, () => ({
      body: {
        access_token: `SECRET-access-${++issued}`,
        expires_in: 1800,
        token_type: 'bearer',
      },
    }))
    // 400, 401 (renewed and retried, 401 again), 403 and 500.
    const sent = echoingRuleEngine(mock, [400, 401, 401, 403, 500])
    const capture = captureTokenEvents()
    const { lines, logger } = recordingLogger()
    const apiax: TokenClient = client(mock, logger)
    const errors: unknown[] = []
    try {
      for (let call = 0; call < 4; call++) {
        errors.push(
          await apiaxRules(apiax)
            .evaluate({ products: [] })
            .catch((caught: unknown) => caught),
        )
      }
    } finally {
      capture.stop()
    }
    expect(errors.map((error) => (error as { status?: number }).status)).toEqual([
      400, 401, 403, 500,
    ])
    expect(new Set(sent.map((entry) => entry.token))).toEqual(
      new Set(['SECRET-access-1', 'SECRET-access-2']),
    )
    expect(sent.every((entry) => entry.apiKey === API_KEY)).toBe(true)
    const first = errors[0] as { message: string; details?: Record<string, unknown> }
    expect(first.message).toContain('(authorization=Bearer [redacted]; apikey=[redacted];')
    expect(first.details).toMatchObject({
      message: expect.stringContaining('apikey=[redacted]'),
      request: { headers: { authorization: 'Bearer [redacted]', apikey: '[redacted]' } },
    })
    const everything = [...errors.map(renderings), ...lines, JSON.stringify(capture.events)].join(
      '\n',
    )
    for (const secret of [API_KEY, ...sent.map((entry) => entry.token)]) {
      for (const spelling of spellings(secret)) expect(everything).not.toContain(spelling)
    }
    expect(everything).not.toContain('SECRET-')
  })

  it('when the headers sent cannot be had, the answer is neither quoted nor kept', async () => {
    const mock = agent()
    mockTokenEndpoint(mock, { url: TOKEN_URL }, () => ({
      body: { access_token: 'SECRET-access-1', expires_in: 1800, token_type: 'bearer' },
    }))
    echoingRuleEngine(mock, [403])
    const apiax = client(mock, undefined)
    const broken: TokenClient = {
      ...apiax,
      fetch: apiax.fetch.bind(apiax),
      getAuthHeaders: async () => {
        throw new Error('closed')
      },
    }
    const error = await apiaxRules(broken, { apiUrl: API_ORIGIN })
      .evaluate({ products: [] })
      .catch((caught: unknown) => caught)
    expect(error).toMatchObject({ name: 'ApiaxApiError', status: 403 })
    expect((error as { details?: unknown }).details).toBeUndefined()
    expect(renderings(error)).not.toContain('SECRET-')
  })
})
