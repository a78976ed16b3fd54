import { generateKeyPairSync } from 'node:crypto'
import { inspect } from 'node:util'
import { captureTokenEvents } from '@tokenkeeper/auth-core/testing'
import { expect, it } from 'vitest'
import {
  API_KEY,
  API_ORIGIN,
  PASSWORD,
  recordingLogger,
  settle,
  USERNAME,
} from '../test/mock-keycloak.ts'
import { fixture, isolate, setup, TOKEN_LIFETIME } from '../test/setup.ts'
import { apiaxRules, apiaxTokenSource, createApiax } from './index.ts'

isolate()

/** Everything a user, a log pipeline or a crash report could see of an error. */
function exposeError(error: unknown): string {
  const parts = [
    inspect(error, { depth: 10, showHidden: true }),
    JSON.stringify(error),
    String(error),
  ]
  let cause = (error as { cause?: unknown } | undefined)?.cause
  while (cause !== undefined) {
    parts.push(inspect(cause, { depth: 10 }), String(cause))
    cause = (cause as { cause?: unknown }).cause
  }
  return parts.join('\n')
}

it('never shows the password, API key, access or refresh tokens, or the private key', async () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const keyMaterial = pem.split('\n')[1] ?? 'unreachable'
  const capture = captureTokenEvents()
  const { lines, logger } = recordingLogger()
  const outputs: string[] = []
  try {
    const settings = {
      logger,
      clientAssertion: { privateKey: pem, clientId: 'acme-2fa' },
    }
    const { agent, keycloak, client, clock } = setup(settings)

    // Login, renewal in the background, expiry, rejection, a dead session, rule engine calls.
    const token = await client.getToken()
    outputs.push(inspect(token), String(token), JSON.stringify(token))
    await clock.advance(TOKEN_LIFETIME - 200_000, { settle })
    client.invalidate(await client.getToken())
    await client.getToken()
    keycloak.endSessions()
    clock.set(clock.now() + TOKEN_LIFETIME + 1)
    await client.getToken()
    agent
      .get(API_ORIGIN)
      .intercept({ path: '/api/v3/rules/eval', method: 'POST' })
      .reply(403, '{"message":"forbidden"}')
    outputs.push(
      exposeError(
        await apiaxRules(client)
          .evaluate({ products: [] })
          .catch((error) => error),
      ),
    )
    outputs.push(inspect(client, { depth: 10, showHidden: true }), JSON.stringify(client))

    // Failures: server errors, a malformed answer that holds token values, a wrong password.
    keycloak.next.refresh_token.push({ status: 503, body: 'unavailable' })
    client.invalidate(await client.getToken())
    outputs.push(exposeError(await client.getToken().catch((error) => error)))
    keycloak.next.refresh_token.push({
      status: 200,
      body: '{"access_token":"SECRET-access-99","refresh_token":"SECRET-refresh-99","expires_in":"x"}',
    })
    clock.set(clock.now() + 120_000)
    outputs.push(exposeError(await client.getToken().catch((error) => error)))
    keycloak.next.password.push({ status: 401, body: fixture('invalid-user-credentials') })
    clock.set(clock.now() + 120_000)
    outputs.push(exposeError(await client.getToken().catch((error) => error)))

    const wrong = setup({ password: 'SECRET-wrong-password', logger })
    outputs.push(exposeError(await wrong.client.getToken().catch((error) => error)))

    // The bare source and configuration errors.
    const source = apiaxTokenSource({
      username: USERNAME,
      password: PASSWORD,
      apiKey: API_KEY,
      ...settings,
    })
    source.cacheKey()
    outputs.push(inspect(source, { depth: 10, showHidden: true }), source.cacheKey())
    process.env.APIAX_PASSWORD = 'SECRET-from-env'
    process.env.APIAX_ASSERTION_PRIVATE_KEY = `${pem.slice(0, 200)}SECRET-broken`
    const broken = createApiax({ username: USERNAME })
    outputs.push(exposeError(await broken.getToken().catch((error) => error)))
    await broken.close()
    expect(keycloak.count('password')).toBeGreaterThan(0)
  } finally {
    capture.stop()
  }

  const everything = [
    ...outputs,
    ...lines,
    ...capture.events.map((entry) => JSON.stringify(entry)),
    ...capture.events.map((entry) => inspect(entry, { depth: 10 })),
  ].join('\n')
  expect(capture.events.length).toBeGreaterThan(10)
  expect(lines.length).toBeGreaterThan(0)
  // The sweep did see every failure path.
  for (const seen of [
    'HTTP 401',
    'HTTP 403',
    'HTTP 503',
    'expires_in',
    'APIAX_ASSERTION_PRIVATE_KEY',
    'AccessToken',
  ]) {
    expect(everything).toContain(seen)
  }
  for (const secret of ['SECRET', PASSWORD, API_KEY, keyMaterial, 'refresh-', 'access-']) {
    expect(everything, secret).not.toContain(secret)
  }
})
