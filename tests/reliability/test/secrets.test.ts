import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { createAkamaiIdentity, createAkamaiWebhooks } from '@tokenkeeper/akamai-identity'
import { apiaxRules, createApiax } from '@tokenkeeper/apiax'
import {
  createAccessToken,
  createTokenClient,
  loadSecret,
  readOAuthError,
  Secret,
  type TokenClient,
  type TokenClientOptions,
  type TokenSource,
  tokenEndpointError,
} from '@tokenkeeper/auth-core'
import { createClearCfc } from '@tokenkeeper/clear-cfc'
import { createClearId, listIdentities, loadClearIdKeyFile } from '@tokenkeeper/clearid'
import { runCli } from '@tokenkeeper/cli'
import { type Emulator, startEmulator } from '@tokenkeeper/emulator'
import { createRedisTokenStore } from '@tokenkeeper/store-redis'
import { AkamaiIdentityCloudApi, ApiaxApi, ClearCfcApi, ClearIdApi } from 'n8n-nodes-tokenkeeper'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { atMost, plain, record } from './support/figures.ts'
import { EchoServer, Sweep, type TokenMode } from './support/sweep.ts'

// Recognisable secrets, with the characters form and Basic encoding must escape.
const SECRETS = {
  core: 'SWEEP-core-client-secret+8d7c/6b=',
  clearid: 'SWEEP-clearid-secret+Zm9v/YmFy=',
  clear: 'SWEEP-clear-secret+c2VjcmV0/Cg==',
  clearPortalToken: 'SWEEP-clear-portal-token-3c9d1f',
  akamai: 'SWEEP:akamai+secret/aGVsbG8=',
  apiaxPassword: 'SWEEP-apiax-pa55:word+1',
  apiaxApiKey: 'SWEEP-apiax-api-key-7e4b2a',
  redisPassword: 'SWEEP-redis-password-1a2b3c',
  encryptionKey: 'SWEEP-encryption-key-too-short',
  wrong: 'SWEEP-wrong-secret+0f9e/8d=',
  inUrl: 'SWEEP-secret-in-a-url-4c5d6e',
  garbageKey: 'SWEEP-garbage-private-key-material',
} as const
const CLEARID_CLIENT = '5b6c7d8e-0000-4000-8000-000000000001:sweep-account'
const AKAMAI = { customerId: 'sweep-customer', clientId: 'sweep-config-client' }
const APIAX_USER = 'sweep-user@emulator.test'
const TOKEN_MODES: readonly TokenMode[] = [
  'oauth-echo',
  'grant-echo',
  'clear-echo',
  'html-echo',
  'missing-echo',
  'rate-echo',
  'plain-echo',
  'huge-echo',
]
const OWNERS = [
  '@tokenkeeper/auth-core',
  '@tokenkeeper/clearid',
  '@tokenkeeper/clear-cfc',
  '@tokenkeeper/akamai-identity',
  '@tokenkeeper/apiax',
  '@tokenkeeper/store-redis',
  '@tokenkeeper/emulator',
  '@tokenkeeper/cli',
  'n8n-nodes-tokenkeeper',
] as const

/** Options of n8n's `this.helpers.httpRequest` that the credentials use. */
interface N8nRequestOptions {
  url: string
  method?: string
  headers?: Record<string, string>
  body?: unknown
  abortSignal?: AbortSignal
}

/**
 * A stand-in for n8n's request helper over real loopback HTTP (full response, no status errors,
 * no redirects). Like n8n's own (axios), its errors carry the whole request, secrets included:
 * the credentials must not pass them on.
 */
async function n8nHttpRequest(options: N8nRequestOptions): Promise<unknown> {
  try {
    const response = await fetch(options.url, {
      method: options.method ?? 'GET',
      headers: options.headers ?? {},
      ...(typeof options.body === 'string' ? { body: options.body } : {}),
      redirect: 'manual',
      ...(options.abortSignal ? { signal: options.abortSignal } : {}),
    })
    return {
      statusCode: response.status,
      headers: Object.fromEntries(response.headers.entries()),
      body: await response.text(),
    }
  } catch (cause) {
    // axios's message names the problem; the request (and the secret) is on `config`.
    const reason = (cause as { cause?: { code?: string } }).cause?.code ?? 'network error'
    throw Object.assign(new Error(`connect ${reason}`), { code: reason, config: options })
  }
}

/** An n8n credential type of the package: `preAuthentication` is what n8n calls. */
interface N8nCredential {
  preAuthentication(this: unknown, credentials: Record<string, unknown>): Promise<unknown>
}

/** Calls a credential's preAuthentication as n8n does, with the stand-in request helper. */
function preAuthenticate(credential: N8nCredential, fields: Record<string, unknown>) {
  return credential.preAuthentication.call({ helpers: { httpRequest: n8nHttpRequest } }, fields)
}

/** A buffer for the CLI's standard output or error. */
function output() {
  let text = ''
  return {
    stream: { write: (chunk: string | Uint8Array) => (text += String(chunk)), isTTY: false },
    get text() {
      return text
    },
  }
}

/**
 * Runs the `tokenkeeper` command in this process. Its standard error is searched; its standard
 * output is not (printing the token, or the API's answer, is what `token` and `request` are for).
 */
async function cli(label: string, args: string[], env: Record<string, string> = {}) {
  const stdout = output()
  const stderr = output()
  const code = await runCli(args, {
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: { TOKENKEEPER_CACHE_FILE: join(temporary, 'default.cache'), ...env },
    cwd: temporary,
    stdin: (async function* () {})(),
  })
  sweep.paths.set(sweep.owner, (sweep.paths.get(sweep.owner) ?? 0) + 1)
  sweep.capture(`tokenkeeper ${label}: standard error`, stderr.text)
  return { code, stdout: stdout.text, stderr: stderr.text }
}

// A source written like the README's: the secret in the form body and in the URL.
const readmeSource = (url: string): TokenSource => ({
  vendor: 'sweep',
  cacheKey: () => `sweep:${url.length}`,
  async requestToken({ transport, signal, now }) {
    const response = await transport({
      url,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_secret: SECRETS.core }).toString(),
      signal,
    })
    if (response.status !== 200) {
      const oauth = readOAuthError(response)
      // As the core README shows it: the secrets the request carried are redacted if echoed.
      throw tokenEndpointError(response, {
        vendor: 'sweep',
        now: now(),
        ...(oauth.error ? { oauthError: oauth.error } : {}),
        ...(oauth.errorDescription ? { description: oauth.errorDescription } : {}),
        secrets: [SECRETS.core, SECRETS.inUrl],
      })
    }
    throw new Error('unexpected success')
  },
  authHeaders: (value) => ({ authorization: `Bearer ${value.value}` }),
})

const query = `?client_secret=${encodeURIComponent(SECRETS.inUrl)}`

/** Echo modes whose body quotes the echoed (form-encoded) request in an OAuth error field. */
const FORM_ECHOES = new Set<TokenMode>(['oauth-echo', 'grant-echo', 'rate-echo'])

/** A ClearID client whose STS is the hostile server. */
const clearIdAgainstEcho = () =>
  createClearId({
    clientId: CLEARID_CLIENT,
    clientSecret: SECRETS.clearid,
    stsUrl: echo.origin,
    env: {},
    ...options(),
  })

/** Apiax settings whose Keycloak and rule engine are the hostile server. */
const apiaxAgainstEcho = {
  username: APIAX_USER,
  password: SECRETS.apiaxPassword,
  apiKey: SECRETS.apiaxApiKey,
  get tokenUrl() {
    return `${echo.origin}/auth/realms/apiax/protocol/openid-connect/token`
  },
  get apiUrl() {
    return echo.origin
  },
  env: {},
}

/** The sweep receiving texts now: the main one, or a known defect's own. */
let sweep = new Sweep()
const main = sweep
const echo = new EchoServer()
const temporary = mkdtempSync(join(tmpdir(), 'tokenkeeper-sweep-'))
let emulator: Emulator
const transports: { close(): Promise<void> }[] = []
const clients: TokenClient[] = []

/** Client options for the sweep: the capturing logger and transport. */
function options(): TokenClientOptions {
  const wrapped = sweep.transport()
  transports.push(wrapped)
  return { logger: sweep.logger, transport: wrapped.transport, backoff: { initial: 1, max: 1 } }
}

function keep<T extends TokenClient>(client: T): T {
  clients.push(client)
  return client
}

const rsa = () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = privateKey.export({ format: 'jwk' }) as { d: string }
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  // The key's secret parts: the private exponent, and a stretch of the PEM body.
  sweep.secret(jwk.d, pem.split('\n')[5] ?? '')
  return { pem, jwk }
}

beforeAll(async () => {
  main.activate()
  main.secret(...Object.values(SECRETS))
  await echo.start()
  emulator = await startEmulator({
    log: (line) => Sweep.active?.capture('emulator log line', line, '@tokenkeeper/emulator'),
  })
  emulator.clearid.registerClient({ clientId: CLEARID_CLIENT, clientSecret: SECRETS.clearid })
  emulator.clear.registerSecret({ secret: SECRETS.clear })
  emulator.akamai.registerClient({
    ...AKAMAI,
    clientSecret: SECRETS.akamai,
    scopes: ['*:webhooks/**'],
  })
  emulator.apiax.registerUser({ username: APIAX_USER, password: SECRETS.apiaxPassword })
  emulator.apiax.registerApiKey(SECRETS.apiaxApiKey)
  // The emulator's demo secrets are secrets too while it serves them.
  const demo = emulator.demo
  main.secret(
    demo.clearid.clientSecret,
    demo.clear.clientSecret,
    demo.akamai.clientSecret,
    demo.apiax.password,
    demo.apiax.apiKey,
    String(demo.clearid.privateJwk.d),
  )
})

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => {})))
  await Promise.all(transports.map((transport) => transport.close()))
  await emulator?.stop()
  await echo.stop()
  rmSync(temporary, { recursive: true, force: true })
})

/** Points every token request at the hostile server in each of its modes; each must fail. */
async function echoModes(create: (mode: TokenMode) => TokenClient, modes = TOKEN_MODES) {
  for (const mode of modes) {
    echo.tokenMode = mode
    const client = keep(create(mode))
    await sweep.fails(`token endpoint ${mode}`, () => client.getToken())
    sweep.capture(`client after ${mode}`, client)
  }
  echo.tokenMode = 'issue'
}

const leakFile = basename(new URL(import.meta.url).pathname)

/** Lines naming each leak, for a failure message. */
function describeLeaks(found: Sweep): string[] {
  return found.leaks().map((leak) => `${leak.owner} · ${leak.source}: …${leak.excerpt}…`)
}

/**
 * Runs one scenario with a sweep of its own (so a leak there does not hide the main sweep's
 * result), records its row and asserts that nothing leaked. With `knownDefect`, the row is
 * marked as an open defect (its test is `it.fails`).
 */
async function focusedSweep(
  id: string,
  owner: string,
  title: string,
  knownDefect: string | undefined,
  scenario: () => Promise<void>,
): Promise<void> {
  sweep = new Sweep().activate()
  sweep.owner = owner
  sweep.secret(...Object.values(SECRETS))
  try {
    await scenario()
  } finally {
    echo.tokenMode = 'issue'
    sweep.secret(...echo.issued)
  }
  const found = sweep
  sweep = main.activate()
  const leaks = describeLeaks(found)
  if (process.env.SWEEP_SUMMARY)
    console.log(`KNOWN ${id}\n${leaks.map((line) => line.slice(0, 300)).join('\n')}`)
  record({
    id: `secrets/focused/${id}`,
    section: 'secrets',
    title,
    ...(knownDefect ? { knownDefect } : {}),
    figures: {
      paths: plain(found.paths.get(owner) ?? 0),
      texts: plain(found.texts.length),
      leaks: atMost(new Set(found.leaks().map((leak) => `${leak.source}|${leak.secret}`)).size, 0),
    },
    file: leakFile,
  })
  expect(leaks).toEqual([])
}

describe('secrets sweep', () => {
  it('auth-core: printing, settings, transport errors, custom sources and transports', async () => {
    sweep.owner = '@tokenkeeper/auth-core'
    await sweep.runs('Secret printed', () => new Secret(SECRETS.core))
    const token = createAccessToken({
      value: `${SECRETS.core}-token`,
      expiresAt: null,
      issuedAt: 0,
    })
    sweep.secret(token.value)
    await sweep.runs('AccessToken printed', () => ({ token, text: String(token) }))
    await sweep.fails('loadSecret missing', () =>
      loadSecret({
        value: undefined,
        setting: 'clientSecret',
        env: 'SWEEP_MISSING',
        vendor: 'sweep',
        environment: { OTHER: SECRETS.core },
      }),
    )

    for (const [label, url] of [
      ['connection refused', `http://127.0.0.1:1/token${query}`],
      [
        'credentials in the URL',
        `http://user:${encodeURIComponent(SECRETS.inUrl)}@127.0.0.1:1/token`,
      ],
      ['plain HTTP to a remote host', `http://tokens.example.com/${SECRETS.inUrl}/token${query}`],
    ] as const) {
      const client = keep(createTokenClient(readmeSource(url), { logger: sweep.logger }))
      await sweep.fails(label, () => client.getToken())
    }
    // The echoes that quote the request in an OAuth field have their own test below.
    await echoModes(
      (mode) =>
        createTokenClient(readmeSource(`${echo.origin}/token/${mode}${query}`), {
          logger: sweep.logger,
        }),
      TOKEN_MODES.filter((mode) => !FORM_ECHOES.has(mode)),
    )

    // fetch() refusals name the origin, never the URL's credentials or query.
    const fetcher = keep(
      createTokenClient(
        {
          vendor: 'sweep',
          cacheKey: () => 'sweep-fetch',
          requestToken: async () => ({ value: `${SECRETS.core}-fetch-token`, expiresIn: 60 }),
          authHeaders: (value) => ({ authorization: `Bearer ${value.value}` }),
          origins: () => ['https://api.example.com'],
        },
        { logger: sweep.logger },
      ),
    )
    sweep.secret(`${SECRETS.core}-fetch-token`)
    await sweep.fails('fetch over plain HTTP', () =>
      fetcher.fetch(`http://user:${SECRETS.inUrl}@api.example.com/x?key=${SECRETS.inUrl}`),
    )
    await sweep.fails('fetch outside the origins', () =>
      fetcher.fetch(`https://other.example.com/x?key=${SECRETS.inUrl}`),
    )
    await sweep.runs('client printed', () => fetcher)
  })

  it('clearid: wrong secret, hostile STS, bad settings, hostile Identity API, key rotation', async () => {
    sweep.owner = '@tokenkeeper/clearid'
    const stsUrl = emulator.urls.clearid.stsUrl
    const wrong = keep(
      createClearId({
        clientId: CLEARID_CLIENT,
        clientSecret: SECRETS.wrong,
        stsUrl,
        env: {},
        ...options(),
      }),
    )
    await sweep.fails('wrong client secret', () => wrong.getToken())
    // Echoes of the form-encoded secret in error_description are a known defect below.
    await echoModes(
      () => clearIdAgainstEcho(),
      TOKEN_MODES.filter((mode) => !FORM_ECHOES.has(mode)),
    )
    const key = rsa()
    await echoModes(
      () =>
        createClearId({
          clientId: CLEARID_CLIENT,
          privateKey: key.pem,
          stsUrl: echo.origin,
          env: {},
          ...options(),
        }),
      ['oauth-echo', 'grant-echo', 'html-echo'],
    )
    await sweep.fails('stsUrl with credentials', () =>
      createClearId({
        clientId: CLEARID_CLIENT,
        clientSecret: SECRETS.clearid,
        stsUrl: `https://user:${SECRETS.inUrl}@sts.example.com`,
      }),
    )
    await sweep.fails('stsUrl with a query', () =>
      createClearId({
        clientId: CLEARID_CLIENT,
        clientSecret: SECRETS.clearid,
        stsUrl: `https://sts.example.com/?secret=${SECRETS.inUrl}`,
      }),
    )
    await sweep.fails('privateKey that is not a key', () =>
      createClearId({
        clientId: CLEARID_CLIENT,
        privateKey: `-----BEGIN PRIVATE KEY-----\n${SECRETS.garbageKey}\n-----END PRIVATE KEY-----`,
      }),
    )
    const noCredential = keep(
      createClearId({
        keyFile: { unrelated: SECRETS.clearid, other: { nested: SECRETS.clearid } },
        env: {},
      }),
    )
    await sweep.fails('key file without a credential', () => noCredential.getToken())
    const fromEnv = keep(createClearId({ env: { CLEARID_CLIENT_SECRET: SECRETS.clearid } }))
    await sweep.fails('secret in the environment, no client id', () => fromEnv.getToken())

    // The emulator: a key file grant, a revoked token recovered, a regenerated key refused.
    const created = await emulator.clearid.createKeyFile({ name: 'sweep' })
    sweep.secret(String(created.privateJwk.d), created.privateKeyPem.split('\n')[5] ?? '')
    const keyed = keep(
      createClearId({
        ...loadClearIdKeyFile(writeTemporary(created.keyFile)),
        env: {},
        ...options(),
      }),
    )
    await sweep.runs('key file grant', () => keyed.getToken())
    emulator.revokeTokens('clearid')
    await sweep.runs('revoked token recovered', () =>
      listIdentities(keyed, { stsUrl, clientId: created.clientId }),
    )
    await emulator.clearid.createKeyFile({ clientId: created.clientId, name: 'sweep' })
    const stale = keep(
      createClearId({
        clientId: created.clientId,
        privateKey: created.privateKeyPem,
        stsUrl,
        env: {},
        ...options(),
      }),
    )
    await sweep.fails('regenerated key', () => stale.getToken())
  })

  it('clear-cfc: wrong secret, hostile endpoint, portal token, quota, bad settings', async () => {
    sweep.owner = '@tokenkeeper/clear-cfc'
    const baseUrl = emulator.urls.clear.baseUrl
    const wrong = keep(
      createClearCfc({ clientSecret: SECRETS.wrong, baseUrl, env: {}, ...options() }),
    )
    await sweep.fails('wrong client secret', () => wrong.getToken())
    // A 2xx answer with errors[] echoing the secret is a known defect below.
    await echoModes(
      () =>
        createClearCfc({
          clientSecret: SECRETS.clear,
          baseUrl: echo.origin,
          env: {},
          ...options(),
        }),
      TOKEN_MODES.filter((mode) => mode !== 'missing-echo'),
    )
    const portal = keep(
      createClearCfc({ accessToken: SECRETS.clearPortalToken, baseUrl, env: {}, ...options() }),
    )
    await sweep.fails('portal token rejected', () =>
      portal.request('/integration/v1/generatePreSign/sales?fileName=a.csv'),
    )
    emulator.clear.registerSecret({ secret: SECRETS.clear, quota: 0 })
    const quota = keep(
      createClearCfc({ clientSecret: SECRETS.clear, baseUrl, env: {}, ...options() }),
    )
    await sweep.fails('daily quota used up', () => quota.getToken())
    emulator.clear.registerSecret({ secret: SECRETS.clear, quota: 288 })
    await sweep.fails('baseUrl with credentials', () =>
      createClearCfc({
        clientSecret: SECRETS.clear,
        baseUrl: `https://u:${SECRETS.inUrl}@api.clear.in`,
      }),
    )
    await sweep.fails('the secret as a static header', () =>
      createClearCfc({
        clientSecret: SECRETS.clear,
        environment: 'india-sandbox',
        headers: { 'x-clear-client-secret': SECRETS.clear },
      }),
    )
    await sweep.fails('both a secret and a portal token', () =>
      createClearCfc({
        clientSecret: SECRETS.clear,
        accessToken: SECRETS.clearPortalToken,
        environment: 'india-sandbox',
      }),
    )
    echo.tokenMode = 'issue'
    const hostile = keep(
      createClearCfc({ clientSecret: SECRETS.clear, baseUrl: echo.origin, env: {}, ...options() }),
    )
    echo.apiMode = { status: 401 }
    await sweep.runs('business API 401 echoing the token', async () => {
      const response = await hostile.request('/integration/v1/generatePreSign/sales?fileName=a.csv')
      await response.arrayBuffer()
      return { status: response.status }
    })
  })

  it('akamai-identity: wrong secret, hostile endpoint, bad URLs, hostile Webhooks API', async () => {
    sweep.owner = '@tokenkeeper/akamai-identity'
    const baseUrl = emulator.urls.akamai.baseUrl
    const wrong = keep(
      createAkamaiIdentity({
        ...AKAMAI,
        clientSecret: SECRETS.wrong,
        baseUrl,
        env: {},
        ...options(),
      }),
    )
    await sweep.fails('wrong client secret', () => wrong.getToken())
    await echoModes(() =>
      createAkamaiIdentity({
        ...AKAMAI,
        clientSecret: SECRETS.akamai,
        baseUrl: echo.origin,
        env: {},
        ...options(),
      }),
    )
    await sweep.fails('oidcUrl with credentials', () =>
      createAkamaiIdentity({
        oidcUrl: `https://u:${SECRETS.inUrl}@v1.api.us.janrain.com/${AKAMAI.customerId}/login`,
        clientId: AKAMAI.clientId,
        clientSecret: SECRETS.akamai,
      }),
    )
    await sweep.fails('baseUrl with a query', () =>
      createAkamaiIdentity({
        baseUrl: `https://v1.api.us.janrain.com/?secret=${SECRETS.inUrl}`,
        ...AKAMAI,
        clientSecret: SECRETS.akamai,
      }),
    )
    // The Webhooks API quoting the token in its error is a known defect below.
  })

  it('apiax: wrong password, hostile Keycloak, refresh echoes, bad key, hostile rule engine', async () => {
    sweep.owner = '@tokenkeeper/apiax'
    const { tokenUrl } = emulator.urls.apiax
    const wrong = keep(
      createApiax({
        username: APIAX_USER,
        password: SECRETS.wrong,
        tokenUrl,
        env: {},
        ...options(),
      }),
    )
    await sweep.fails('wrong password', () => wrong.getToken())
    await sweep.fails('wrong password, asked again', () => wrong.getToken())
    const hostileSettings = apiaxAgainstEcho
    // Echoes of the form-encoded password are a known defect below.
    await echoModes(
      () => createApiax({ ...apiaxAgainstEcho, ...options() }),
      TOKEN_MODES.filter((mode) => !FORM_ECHOES.has(mode)),
    )
    // A session, then refreshes answered with echoes of the refresh token.
    for (const mode of ['oauth-echo', 'html-echo'] as const) {
      echo.tokenMode = 'issue'
      const client = keep(createApiax({ ...hostileSettings, ...options() }))
      await client.getToken()
      echo.tokenMode = mode
      await sweep.fails(`refresh answered ${mode}`, () => client.getToken({ forceRefresh: true }))
    }
    const key = rsa()
    await echoModes(
      () =>
        createApiax({
          ...hostileSettings,
          clientAssertion: { privateKey: key.pem, clientId: 'sweep-2fa' },
          ...options(),
        }),
      ['html-echo'],
    )
    await sweep.fails('clientAssertion key that is not a key', () =>
      createApiax({
        ...hostileSettings,
        clientAssertion: {
          privateKey: `-----BEGIN PRIVATE KEY-----\n${SECRETS.garbageKey}\n-----END PRIVATE KEY-----`,
        },
      }),
    )
    await sweep.fails('tokenUrl with credentials', () =>
      createApiax({
        ...hostileSettings,
        tokenUrl: `https://u:${SECRETS.inUrl}@auth.apiax.io/token`,
      }),
    )
    // The rule engine's errors quoted with the token and API key are a known defect below.
  })

  it('store-redis: unreachable Redis with a password, bad keys, bad URLs', async () => {
    sweep.owner = '@tokenkeeper/store-redis'
    const url = `redis://:${SECRETS.redisPassword}@127.0.0.1:1/0`
    const store = createRedisTokenStore({ url, connectTimeout: 200, commandTimeout: 200, env: {} })
    const client = keep(
      createTokenClient(
        {
          vendor: 'sweep',
          cacheKey: () => 'sweep-redis',
          requestToken: async () => ({ value: `${SECRETS.redisPassword}-token`, expiresIn: 60 }),
          authHeaders: (value) => ({ authorization: `Bearer ${value.value}` }),
        },
        { store, logger: sweep.logger },
      ),
    )
    await sweep.fails('Redis unreachable', () => client.getToken())
    await sweep.fails('store read while unreachable', () => store.get('sweep-redis'))
    await client.close()
    await store.close?.()
    await sweep.fails('encryption key of the wrong size', () =>
      createRedisTokenStore({ url, encryptionKey: SECRETS.encryptionKey, env: {} }),
    )
    await sweep.fails('url that does not parse', () =>
      createRedisTokenStore({ url: `redis://:${SECRETS.redisPassword}@[bad`, env: {} }),
    )
    await sweep.fails('url of another scheme', () =>
      createRedisTokenStore({ url: `https://:${SECRETS.redisPassword}@127.0.0.1:1`, env: {} }),
    )
  })

  it('cli: refused credentials, bad settings, hostile endpoints, the encrypted cache', async () => {
    sweep.owner = '@tokenkeeper/cli'
    const { clear, akamai, clearid, apiax } = emulator.urls
    const failed: string[] = []
    const expectCode = async (label: string, args: string[], code: number, env = {}) => {
      const result = await cli(label, args, env)
      if (result.code !== code) failed.push(`${label}: exit ${result.code}, expected ${code}`)
      return result
    }
    await expectCode(
      'clear, wrong secret',
      [
        'token',
        'clear',
        '--client-secret',
        SECRETS.wrong,
        '--base-url',
        clear.baseUrl,
        '--no-cache',
      ],
      1,
    )
    await expectCode(
      'clearid, wrong secret',
      [
        'token',
        'clearid',
        '--client-id',
        CLEARID_CLIENT,
        '--client-secret',
        SECRETS.wrong,
        '--sts-url',
        clearid.stsUrl,
      ],
      1,
    )
    await expectCode(
      'akamai, wrong secret',
      [
        'token',
        'akamai',
        '--base-url',
        akamai.baseUrl,
        '--customer-id',
        AKAMAI.customerId,
        '--client-id',
        AKAMAI.clientId,
        '--client-secret',
        SECRETS.wrong,
        '--no-cache',
      ],
      1,
    )
    await expectCode(
      'apiax, wrong password',
      [
        'token',
        'apiax',
        '--username',
        APIAX_USER,
        '--password',
        SECRETS.wrong,
        '--token-url',
        apiax.tokenUrl,
        '--no-cache',
      ],
      1,
    )
    await expectCode(
      'clear, credentials in the base URL',
      [
        'token',
        'clear',
        '--client-secret',
        SECRETS.clear,
        '--base-url',
        `https://u:${SECRETS.inUrl}@api.clear.in`,
        '--no-cache',
      ],
      2,
    )
    await expectCode('clear, secret only in the environment', ['token', 'clear', '--no-cache'], 2, {
      CLEAR_CLIENT_SECRET: SECRETS.clear,
    })
    const garbageKey = join(temporary, 'garbage-key.pem')
    writeFileSync(
      garbageKey,
      `-----BEGIN PRIVATE KEY-----\n${SECRETS.garbageKey}\n-----END PRIVATE KEY-----\n`,
    )
    await expectCode(
      'clearid, a private key file that is not a key',
      ['token', 'clearid', '--client-id', CLEARID_CLIENT, '--private-key-file', garbageKey],
      2,
    )
    const config = join(temporary, 'config.json')
    writeFileSync(
      config,
      JSON.stringify({
        clear: {
          clientSecret: SECRETS.clear,
          clientSecrte: SECRETS.clear,
          environment: 'india-sandbox',
        },
      }),
    )
    await expectCode(
      'config file with a misspelt name',
      ['token', 'clear', '--config', config, '--no-cache'],
      2,
    )
    for (const mode of ['html-echo', 'plain-echo', 'clear-echo'] as const) {
      echo.tokenMode = mode
      await expectCode(
        `clear, token endpoint ${mode}`,
        [
          'token',
          'clear',
          '--client-secret',
          SECRETS.clear,
          '--base-url',
          echo.origin,
          '--no-cache',
        ],
        1,
      )
    }
    echo.tokenMode = 'issue'
    echo.apiMode = { status: 401 }
    await expectCode(
      'clear, request to an API that answers 401 echoing the token',
      [
        'request',
        'clear',
        '/integration/v1/generatePreSign/sales?fileName=a.csv',
        '--client-secret',
        SECRETS.clear,
        '--base-url',
        echo.origin,
        '--no-cache',
      ],
      3,
    )
    // The cache: the token and the secret never appear in the file in plain text.
    const cacheFile = join(temporary, 'tokens.cache')
    const issued = await expectCode(
      'clear, a token through the cache',
      [
        'token',
        'clear',
        '--client-secret',
        SECRETS.clear,
        '--base-url',
        clear.baseUrl,
        `--cache=${cacheFile}`,
      ],
      0,
    )
    sweep.secret(issued.stdout.trim())
    sweep.capture('token cache file', readFileSync(cacheFile).toString('latin1'))
    await expectCode(
      'clear, the cache read back',
      [
        'token',
        'clear',
        '--client-secret',
        SECRETS.clear,
        '--base-url',
        clear.baseUrl,
        `--cache=${cacheFile}`,
      ],
      0,
    )
    expect(failed).toEqual([])
  })

  it('n8n-nodes-tokenkeeper: refused credentials, hostile endpoints, request-helper errors', async () => {
    sweep.owner = 'n8n-nodes-tokenkeeper'
    const { clear, akamai, clearid, apiax } = emulator.urls
    const credentials = {
      clearid: (stsUrl: string, secret: string) => ({
        environment: 'custom',
        stsUrl,
        apiUrl: stsUrl,
        clientId: CLEARID_CLIENT,
        authentication: 'clientSecret',
        clientSecret: secret,
      }),
      clear: (baseUrl: string, secret: string) => ({
        environment: 'custom',
        baseUrl,
        authentication: 'clientSecret',
        clientSecret: secret,
        tokenHeader: 'x-cleartax-auth-token',
        headers: '{}',
      }),
      akamai: (baseUrl: string, secret: string) => ({
        region: 'custom',
        baseUrl,
        customerId: AKAMAI.customerId,
        clientId: AKAMAI.clientId,
        clientSecret: secret,
        scope: '*:webhooks/**',
      }),
      apiax: (origin: string, password: string) => ({
        environment: 'custom',
        tokenUrl: `${origin}/auth/realms/apiax/protocol/openid-connect/token`,
        apiUrl: origin,
        username: APIAX_USER,
        password,
        apiKey: SECRETS.apiaxApiKey,
        useClientAssertion: false,
      }),
    }
    const types = {
      clearid: new ClearIdApi() as unknown as N8nCredential,
      clear: new ClearCfcApi() as unknown as N8nCredential,
      akamai: new AkamaiIdentityCloudApi() as unknown as N8nCredential,
      apiax: new ApiaxApi() as unknown as N8nCredential,
    }
    await sweep.fails('ClearID, wrong secret', () =>
      preAuthenticate(types.clearid, credentials.clearid(clearid.stsUrl, SECRETS.wrong)),
    )
    await sweep.fails('Clear, wrong secret', () =>
      preAuthenticate(types.clear, credentials.clear(clear.baseUrl, SECRETS.wrong)),
    )
    await sweep.fails('Akamai, wrong secret', () =>
      preAuthenticate(types.akamai, credentials.akamai(akamai.baseUrl, SECRETS.wrong)),
    )
    await sweep.fails('Apiax, wrong password', () =>
      preAuthenticate(
        types.apiax,
        credentials.apiax(new URL(apiax.tokenUrl).origin, SECRETS.wrong),
      ),
    )
    // The request helper's own error (connection refused) carries the whole request.
    await sweep.fails('Clear, request helper error', () =>
      preAuthenticate(types.clear, credentials.clear('http://127.0.0.1:1', SECRETS.clear)),
    )
    await sweep.fails('Apiax, request helper error', () =>
      preAuthenticate(types.apiax, credentials.apiax('http://127.0.0.1:1', SECRETS.apiaxPassword)),
    )
    for (const mode of ['html-echo', 'plain-echo', 'huge-echo'] as const) {
      echo.tokenMode = mode
      await sweep.fails(`ClearID, STS ${mode}`, () =>
        preAuthenticate(types.clearid, credentials.clearid(echo.origin, SECRETS.clearid)),
      )
      await sweep.fails(`Clear, token endpoint ${mode}`, () =>
        preAuthenticate(types.clear, credentials.clear(echo.origin, SECRETS.clear)),
      )
      await sweep.fails(`Akamai, token endpoint ${mode}`, () =>
        preAuthenticate(types.akamai, credentials.akamai(echo.origin, SECRETS.akamai)),
      )
      await sweep.fails(`Apiax, Keycloak ${mode}`, () =>
        preAuthenticate(types.apiax, credentials.apiax(echo.origin, SECRETS.apiaxPassword)),
      )
    }
    echo.tokenMode = 'issue'
    await sweep.fails('ClearID, a private key that is not a key', () =>
      preAuthenticate(types.clearid, {
        ...credentials.clearid(clearid.stsUrl, ''),
        authentication: 'privateKey',
        privateKey: `-----BEGIN PRIVATE KEY-----\n${SECRETS.garbageKey}\n-----END PRIVATE KEY-----`,
      }),
    )
  })

  it('emulator: registration errors and admin API answers', async () => {
    sweep.owner = '@tokenkeeper/emulator'
    await sweep.fails('Clear secret with a bad quota', () =>
      emulator.clear.registerSecret({ secret: SECRETS.clear, quota: -1 }),
    )
    await sweep.fails('Akamai client without scopes', () =>
      emulator.akamai.registerClient({ ...AKAMAI, clientSecret: SECRETS.akamai, scopes: [] }),
    )
    await sweep.fails('Apiax user without a name', () =>
      emulator.apiax.registerUser({ username: '', password: SECRETS.apiaxPassword }),
    )
    const admin = async (path: string, body: unknown) => {
      const response = await fetch(`${emulator.urls.admin}/_emulator${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      return { status: response.status, body: await response.text() }
    }
    await sweep.runs('admin API: bad Clear secret', () =>
      admin('/clear/secrets', { secret: SECRETS.clear, quota: 'many' }),
    )
    await sweep.runs('admin API: bad Akamai client', () =>
      admin('/akamai/clients', { ...AKAMAI, clientSecret: SECRETS.akamai, scopes: 'all' }),
    )
    await sweep.runs('admin API: bad Apiax user', () =>
      admin('/apiax/users', { username: 7, password: SECRETS.apiaxPassword }),
    )
  })

  it('finds no secret or token in any text', async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => {})))
    main.secret(...echo.issued)
    const leaks = main.leaks()
    for (const owner of OWNERS) {
      const found = leaks.filter((leak) => leak.owner === owner)
      record({
        id: `secrets/${owner.replace('@tokenkeeper/', '')}`,
        section: 'secrets',
        title: owner,
        figures: {
          paths: plain(main.paths.get(owner) ?? 0),
          texts: plain(main.texts.filter((text) => text.owner === owner).length),
          leaks: atMost(new Set(found.map((leak) => `${leak.source}|${leak.secret}`)).size, 0),
        },
        file: leakFile,
      })
    }
    expect(describeLeaks(main)).toEqual([])
  })
})

// Each leak the sweep found, as a focused test: `it.fails` while a leak is open, `it` once fixed.
describe('secrets sweep: leaks found', () => {
  // Fixed in edbc680: the ConfigurationError's cause was Node's TypeError, whose `input` is the
  // whole URL.
  it('auth-core: assertSecureUrl keeps no trace of the URL it could not parse', async () => {
    await focusedSweep(
      'core-url-cause',
      '@tokenkeeper/auth-core',
      '@tokenkeeper/auth-core: a token URL that does not parse',
      undefined,
      async () => {
        const client = keep(
          createTokenClient(readmeSource(`::${SECRETS.inUrl}`), { logger: sweep.logger }),
        )
        await sweep.fails('not a URL', () => client.getToken())
      },
    )
  })

  // Fixed in edbc680 and 9d6d723: tokenEndpointError takes the secrets to redact, and the
  // README's example passes them.
  it('auth-core: tokenEndpointError redacts an echoed secret (README pattern)', async () => {
    await focusedSweep(
      'core-oauth-error-echo',
      '@tokenkeeper/auth-core',
      '@tokenkeeper/auth-core: a source written as in the README, the endpoint echoing the request in `error` and `error_description`',
      undefined,
      async () => {
        await echoModes(
          (mode) =>
            createTokenClient(readmeSource(`${echo.origin}/token/${mode}${query}`), {
              logger: sweep.logger,
            }),
          [...FORM_ECHOES],
        )
      },
    )
  })

  // Fixed in edbc680: toTokenKeeperError kept the raw error as cause.
  it('auth-core: an unknown error from a custom transport does not keep the request', async () => {
    await focusedSweep(
      'core-transport-cause',
      '@tokenkeeper/auth-core',
      "@tokenkeeper/auth-core: a custom transport (like n8n's request helper) whose error carries the request",
      undefined,
      async () => {
        const leakyTransport = async (request: { body?: string }) => {
          throw Object.assign(new Error(`request failed: ${request.body}`), { request })
        }
        const custom = keep(
          createTokenClient(readmeSource(`${echo.origin}/token`), {
            logger: sweep.logger,
            transport: leakyTransport as never,
          }),
        )
        await sweep.fails('custom transport error carrying the request', () => custom.getToken())
      },
    )
  })

  // Fixed in 50e1ddd: STS errors redact the secret and assertion in every spelling (core redactSecrets).
  it('clearid: the STS echoing the form-encoded secret in error_description', async () => {
    await focusedSweep(
      'clearid-form-echo',
      '@tokenkeeper/clearid',
      '@tokenkeeper/clearid: the STS echoing the request in error_description',
      undefined,
      async () => {
        await echoModes(() => clearIdAgainstEcho(), [...FORM_ECHOES])
      },
    )
  })

  // Fixed in 50e1ddd: ClearIdApiError redacts the token that was sent.
  it('clearid: the Identity API echoing the token in its error body', async () => {
    await focusedSweep(
      'clearid-api-echo',
      '@tokenkeeper/clearid',
      '@tokenkeeper/clearid: `listIdentities` against an API that echoes the request',
      undefined,
      async () => {
        echo.tokenMode = 'issue'
        const hostile = keep(clearIdAgainstEcho())
        for (const status of [401, 403, 404, 500]) {
          echo.apiMode = { status }
          await sweep.fails(`Identity API ${status} echoing the token`, () =>
            listIdentities(hostile, { stsUrl: echo.origin, clientId: CLEARID_CLIENT }),
          )
        }
      },
    )
  })

  // Fixed in 3c66e60: parseClearTokenResponse is given the secret to redact.
  it('clear-cfc: a 2xx answer whose errors[] echo the secret', async () => {
    await focusedSweep(
      'clear-cfc-errors-echo',
      '@tokenkeeper/clear-cfc',
      '@tokenkeeper/clear-cfc: 200 with errors[] echoing the request',
      undefined,
      async () => {
        await echoModes(
          () =>
            createClearCfc({
              clientSecret: SECRETS.clear,
              baseUrl: echo.origin,
              env: {},
              ...options(),
            }),
          ['missing-echo'],
        )
      },
    )
  })

  // Fixed in 4b40f08: AkamaiIdentityApiError redacts the token that was sent.
  it('akamai-identity: the Webhooks API echoing the token in its error body', async () => {
    await focusedSweep(
      'akamai-identity-api-echo',
      '@tokenkeeper/akamai-identity',
      '@tokenkeeper/akamai-identity: Webhooks helper against an API that echoes the request',
      undefined,
      async () => {
        echo.tokenMode = 'issue'
        const settings = { ...AKAMAI, clientSecret: SECRETS.akamai, baseUrl: echo.origin, env: {} }
        const hostile = keep(createAkamaiIdentity({ ...settings, ...options() }))
        const webhooks = createAkamaiWebhooks(hostile, settings)
        for (const status of [400, 403, 404, 500]) {
          echo.apiMode = { status }
          await sweep.fails(`Webhooks API ${status} echoing the token`, () => webhooks.list())
        }
      },
    )
  })

  // Fixed in 6a2c73f: Keycloak errors redact password, refresh token and assertion in every spelling.
  it('apiax: Keycloak echoing the form-encoded password', async () => {
    await focusedSweep(
      'apiax-form-echo',
      '@tokenkeeper/apiax',
      '@tokenkeeper/apiax: Keycloak echoing the request in error / error_description',
      undefined,
      async () => {
        await echoModes(() => createApiax({ ...apiaxAgainstEcho, ...options() }), [...FORM_ECHOES])
        echo.tokenMode = 'issue'
        const client = keep(createApiax({ ...apiaxAgainstEcho, ...options() }))
        await client.getToken()
        echo.tokenMode = 'grant-echo'
        await sweep.fails('refresh refused, then the login echoed', () =>
          client.getToken({ forceRefresh: true }),
        )
      },
    )
  })

  // Fixed in c68a0d0: the CLI's redactor uses core redactSecrets (every spelling).
  it('cli: an endpoint echoing the form-encoded password reaches standard error', async () => {
    await focusedSweep(
      'cli-form-echo',
      '@tokenkeeper/cli',
      '@tokenkeeper/cli: `tokenkeeper token apiax` against a Keycloak that echoes the request',
      undefined,
      async () => {
        echo.tokenMode = 'oauth-echo'
        await cli('apiax, Keycloak echoing the request', [
          'token',
          'apiax',
          '--username',
          APIAX_USER,
          '--password',
          SECRETS.apiaxPassword,
          '--token-url',
          `${echo.origin}/auth/realms/apiax/protocol/openid-connect/token`,
          '--no-cache',
        ])
      },
    )
  })

  // Fixed in 6a2c73f: ApiaxApiError redacts token and API key from its message and details.
  it('apiax: the rule engine echoing the token and API key in its error body', async () => {
    await focusedSweep(
      'apiax-api-echo',
      '@tokenkeeper/apiax',
      '@tokenkeeper/apiax: `apiaxRules` against a rule engine that echoes the request',
      undefined,
      async () => {
        echo.tokenMode = 'issue'
        const rules = apiaxRules(keep(createApiax({ ...apiaxAgainstEcho, ...options() })))
        for (const status of [400, 401, 403, 500]) {
          echo.apiMode = { status }
          await sweep.fails(`rule engine ${status} echoing the token and API key`, () =>
            rules.evaluate({ products: [{ productId: 'P-1' }] } as never),
          )
        }
      },
    )
  })
})

/** Writes a key file where `loadClearIdKeyFile` can read it (a temporary file). */
function writeTemporary(content: unknown): string {
  const path = join(temporary, 'key.json')
  writeFileSync(path, JSON.stringify(content))
  return path
}
