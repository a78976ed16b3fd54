import { ConfigurationError, ManualClock, Secret, type TokenClient } from '@tokenkeeper/auth-core'
import { createMockAgent } from '@tokenkeeper/auth-core/testing'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  CLIENT_SECRET,
  numberedTokens,
  PORTAL_TOKEN,
  SANDBOX,
  tokenEndpoint,
} from '../test/helpers.ts'
import { type ClearCfcSettings, createClearCfc } from './clear-cfc-provider.ts'
import { resolveSettings } from './clear-cfc-settings.ts'
import { clearCfcTokenSource } from './clear-cfc-token-source.ts'

const clients: TokenClient[] = []
function track<T extends TokenClient>(client: T): T {
  clients.push(client)
  return client
}

const VARIABLES = [
  'CLEAR_CLIENT_SECRET',
  'CLEAR_ACCESS_TOKEN',
  'CLEAR_ENVIRONMENT',
  'CLEAR_BASE_URL',
  'CLEAR_TOKEN_HEADER',
]
beforeEach(() => {
  // Start every test from a clean environment, whatever the machine has set.
  for (const name of VARIABLES) vi.stubEnv(name, undefined)
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()))
  vi.unstubAllEnvs()
})

function configurationError(run: () => unknown): ConfigurationError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError)
    expect((error as Error).message).not.toContain(CLIENT_SECRET)
    expect((error as Error).message).not.toContain(PORTAL_TOKEN)
    return error as ConfigurationError
  }
  throw new Error('expected a ConfigurationError')
}

describe('settings passed in code are checked at once, without any request', () => {
  it.each<[string, ClearCfcSettings, string, RegExp]>([
    [
      'an unknown environment',
      { environment: 'india' as never },
      'environment',
      /one of india-sandbox, india-production, eu, malaysia-sandbox/,
    ],
    ['a relative baseUrl', { baseUrl: 'api.clear.in' }, 'baseUrl', /not an absolute URL/],
    ['an ftp baseUrl', { baseUrl: 'ftp://api.clear.in' }, 'baseUrl', /https:\/\//],
    [
      'credentials in baseUrl',
      { baseUrl: 'https://user:pw@api.clear.in' },
      'baseUrl',
      /credentials/,
    ],
    ['a query in baseUrl', { baseUrl: 'https://api.clear.in/?x=1' }, 'baseUrl', /query/],
    [
      'environment and baseUrl',
      { environment: 'eu', baseUrl: 'https://api.clear.in' },
      'baseUrl',
      /either environment or baseUrl/,
    ],
    [
      'clientSecret and accessToken',
      { clientSecret: CLIENT_SECRET, accessToken: PORTAL_TOKEN },
      'accessToken',
      /either clientSecret .* or accessToken/,
    ],
    ['a numeric clientSecret', { clientSecret: 42 as never }, 'clientSecret', /string or a Secret/],
    ['a tokenHeader with a space', { tokenHeader: 'x token' }, 'tokenHeader', /header name/],
    [
      'the secret header as tokenHeader',
      { tokenHeader: 'X-Clear-Client-Secret' },
      'tokenHeader',
      /carries the client secret/,
    ],
    ['headers that are not an object', { headers: 'x-a: b' as never }, 'headers', /object/],
    [
      'a header value with a line break',
      { headers: { gstin: 'a\r\nx-evil: 1' } },
      'headers',
      /without line breaks/,
    ],
    ['a header name with a colon', { headers: { 'x:y': 'v' } }, 'headers', /not a header name/],
    [
      'the token header in headers',
      { headers: { 'X-Cleartax-Auth-Token': 'x' } },
      'headers',
      /must not set x-cleartax-auth-token/,
    ],
    [
      'the secret header in headers',
      { headers: { 'x-clear-client-secret': 'x' } },
      'headers',
      /never sends x-clear-client-secret/,
    ],
    ['a header given twice', { headers: { gstin: 'a', GSTIN: 'b' } }, 'headers', /given twice/],
  ])('%s', (_label, settings, setting, message) => {
    const error = configurationError(() => createClearCfc(settings))
    expect(error.setting).toBe(setting)
    expect(error.message).toMatch(message)
    expect(error.message).toMatch(/^clear-cfc: /)
  })

  it('creating a client reads no variable and sends nothing', async () => {
    const agent = createMockAgent() // no interceptors: a request would fail
    const clock = new ManualClock()
    const client = track(createClearCfc({ dispatcher: agent, clock }))
    await clock.advance(24 * 3_600_000)
    expect(clock.pendingTimers).toBe(0)
    // Only the first token request finds out that nothing is configured.
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'CONFIGURATION_INVALID', setting: 'clientSecret' })
  })
})

describe('missing settings surface from the first getToken()', () => {
  it('names clientSecret and CLEAR_CLIENT_SECRET (and the portal-token alternative)', async () => {
    const client = track(
      createClearCfc({ environment: 'india-sandbox', dispatcher: createMockAgent() }),
    )
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error).toMatchObject({ setting: 'clientSecret' })
    expect((error as Error).message).toContain('pass { clientSecret } or set CLEAR_CLIENT_SECRET')
    expect((error as Error).message).toContain('CLEAR_ACCESS_TOKEN')
  })

  it('names environment, baseUrl and both variables when no environment is known', async () => {
    const client = track(
      createClearCfc({ clientSecret: CLIENT_SECRET, dispatcher: createMockAgent() }),
    )
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'CONFIGURATION_INVALID', setting: 'environment' })
    for (const word of ['environment', 'baseUrl', 'CLEAR_ENVIRONMENT', 'CLEAR_BASE_URL']) {
      expect((error as Error).message).toContain(word)
    }
  })

  it('fetch() and request() report the same error as a rejection', async () => {
    const client = track(createClearCfc({ dispatcher: createMockAgent() }))
    await expect(client.fetch('https://api.clear.in/x')).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
    })
    await expect(client.request('/x')).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' })
  })
})

describe('environment variables', () => {
  it('CLEAR_CLIENT_SECRET and CLEAR_ENVIRONMENT, read on first use (after the client was made)', async () => {
    const agent = createMockAgent()
    const endpoint = tokenEndpoint(
      agent,
      numberedTokens(() => null),
      'https://api.clear.in',
    )
    const client = track(createClearCfc({ dispatcher: agent }))
    vi.stubEnv('CLEAR_CLIENT_SECRET', CLIENT_SECRET)
    vi.stubEnv('CLEAR_ENVIRONMENT', ' India-Production ')
    expect((await client.getToken()).value).toBe('clear-token-1')
    expect(endpoint.requests[0]?.headers['x-clear-client-secret']).toBe(CLIENT_SECRET)
  })

  it('CLEAR_BASE_URL and CLEAR_TOKEN_HEADER', async () => {
    const agent = createMockAgent()
    tokenEndpoint(
      agent,
      numberedTokens(() => null),
      'https://api-sandbox.my.cleartax.com',
    )
    vi.stubEnv('CLEAR_CLIENT_SECRET', CLIENT_SECRET)
    vi.stubEnv('CLEAR_BASE_URL', 'https://api-sandbox.my.cleartax.com/')
    vi.stubEnv('CLEAR_TOKEN_HEADER', 'X-Clear-Auth-Token')
    const client = track(createClearCfc({ dispatcher: agent }))
    expect(await client.getAuthHeaders()).toEqual({ 'x-clear-auth-token': 'clear-token-1' })
  })

  it('values passed in code win over the variables', async () => {
    vi.stubEnv('CLEAR_CLIENT_SECRET', 'from-environment')
    vi.stubEnv('CLEAR_ACCESS_TOKEN', 'portal-from-environment')
    vi.stubEnv('CLEAR_ENVIRONMENT', 'eu')
    vi.stubEnv('CLEAR_BASE_URL', 'https://ignored.example.com')
    vi.stubEnv('CLEAR_TOKEN_HEADER', 'x-ignored')
    const resolved = resolveSettings({
      clientSecret: CLIENT_SECRET,
      environment: 'india-sandbox',
      tokenHeader: 'x-cleartax-auth-token',
    })
    expect(resolved.baseUrl).toBe(SANDBOX)
    expect(resolved.tokenHeader).toBe('x-cleartax-auth-token')
    expect(resolved.credential.kind).toBe('clientSecret')
    expect(resolved.credential.kind === 'clientSecret' && resolved.credential.secret.reveal()).toBe(
      CLIENT_SECRET,
    )
  })

  it('an unknown CLEAR_ENVIRONMENT names the variable', async () => {
    vi.stubEnv('CLEAR_CLIENT_SECRET', CLIENT_SECRET)
    vi.stubEnv('CLEAR_ENVIRONMENT', 'prod')
    const error = configurationError(() => resolveSettings({}))
    expect(error.message).toContain('CLEAR_ENVIRONMENT must be one of')
  })

  it('both CLEAR_CLIENT_SECRET and CLEAR_ACCESS_TOKEN, or both CLEAR_BASE_URL and CLEAR_ENVIRONMENT, are ambiguous', () => {
    vi.stubEnv('CLEAR_CLIENT_SECRET', CLIENT_SECRET)
    vi.stubEnv('CLEAR_ACCESS_TOKEN', PORTAL_TOKEN)
    expect(configurationError(() => resolveSettings({ environment: 'eu' })).message).toMatch(
      /both CLEAR_CLIENT_SECRET and CLEAR_ACCESS_TOKEN are set/,
    )
    vi.stubEnv('CLEAR_ACCESS_TOKEN', undefined)
    vi.stubEnv('CLEAR_BASE_URL', SANDBOX)
    vi.stubEnv('CLEAR_ENVIRONMENT', 'eu')
    expect(configurationError(() => resolveSettings({})).message).toMatch(
      /both CLEAR_BASE_URL and CLEAR_ENVIRONMENT are set/,
    )
  })

  it('empty variables count as unset', () => {
    vi.stubEnv('CLEAR_CLIENT_SECRET', '  ')
    vi.stubEnv('CLEAR_ENVIRONMENT', 'eu')
    expect(configurationError(() => resolveSettings({})).setting).toBe('clientSecret')
  })

  it('a variable set after a failed first attempt is picked up', async () => {
    const agent = createMockAgent()
    tokenEndpoint(
      agent,
      numberedTokens(() => null),
    )
    const source = clearCfcTokenSource({ environment: 'india-sandbox' })
    expect(() => source.cacheKey()).toThrow(ConfigurationError)
    vi.stubEnv('CLEAR_CLIENT_SECRET', CLIENT_SECRET)
    expect(source.cacheKey()).toMatch(/^clear-cfc:/)
  })
})

describe('secret values', () => {
  it('accept a Secret and trim a pasted newline', async () => {
    const agent = createMockAgent()
    const endpoint = tokenEndpoint(
      agent,
      numberedTokens(() => null),
    )
    const client = track(
      createClearCfc({
        clientSecret: new Secret(`${CLIENT_SECRET}\n`),
        environment: 'india-sandbox',
        dispatcher: agent,
      }),
    )
    await client.getToken()
    expect(endpoint.requests[0]?.headers['x-clear-client-secret']).toBe(CLIENT_SECRET)
  })

  it('refuse a secret that cannot travel in a header, without quoting it', () => {
    const error = configurationError(() =>
      resolveSettings({ clientSecret: `${CLIENT_SECRET} extra`, environment: 'eu' }),
    )
    expect(error.setting).toBe('clientSecret')
    expect(error.message).toContain('copy it again from Clear')
    vi.stubEnv('CLEAR_ACCESS_TOKEN', `${PORTAL_TOKEN}\u00e9`)
    expect(configurationError(() => resolveSettings({ environment: 'eu' })).message).toMatch(
      /^clear-cfc: CLEAR_ACCESS_TOKEN contains/,
    )
  })
})

describe('cache key', () => {
  it('is stable for one secret and environment, and shows no secret', () => {
    const first = clearCfcTokenSource({ clientSecret: CLIENT_SECRET, environment: 'india-sandbox' })
    const second = clearCfcTokenSource({
      clientSecret: new Secret(CLIENT_SECRET),
      baseUrl: `${SANDBOX}/`,
    })
    expect(first.cacheKey()).toBe(second.cacheKey())
    expect(first.cacheKey()).toMatch(
      /^clear-cfc:https:\/\/api-sandbox\.clear\.in:secret:[0-9a-f]{16}$/,
    )
    expect(first.cacheKey()).not.toContain(CLIENT_SECRET)
  })

  it('differs between secrets, environments and modes', () => {
    const keys = new Set([
      clearCfcTokenSource({ clientSecret: CLIENT_SECRET, environment: 'india-sandbox' }).cacheKey(),
      clearCfcTokenSource({
        clientSecret: 'other-secret',
        environment: 'india-sandbox',
      }).cacheKey(),
      clearCfcTokenSource({
        clientSecret: CLIENT_SECRET,
        environment: 'india-production',
      }).cacheKey(),
      clearCfcTokenSource({ accessToken: CLIENT_SECRET, environment: 'india-sandbox' }).cacheKey(),
    ])
    expect(keys.size).toBe(4)
    for (const key of keys) expect(key).not.toContain(CLIENT_SECRET)
  })
})

describe('headers for business APIs', () => {
  it('the token in x-cleartax-auth-token plus the static headers, nothing else', async () => {
    const agent = createMockAgent()
    tokenEndpoint(
      agent,
      numberedTokens(() => null),
    )
    const client = track(
      createClearCfc({
        clientSecret: CLIENT_SECRET,
        environment: 'india-sandbox',
        headers: {
          'X-Workspace-Id': 'ws-1',
          'x-cleartax-product': 'GST',
          gstin: '29AAAAA0000A1Z5',
        },
        dispatcher: agent,
      }),
    )
    expect(await client.getAuthHeaders()).toEqual({
      'x-cleartax-auth-token': 'clear-token-1',
      'x-workspace-id': 'ws-1',
      'x-cleartax-product': 'GST',
      gstin: '29AAAAA0000A1Z5',
    })
  })

  it('a custom tokenHeader replaces the default', async () => {
    const agent = createMockAgent()
    tokenEndpoint(
      agent,
      numberedTokens(() => null),
      'https://api-sandbox.my.cleartax.com',
    )
    const client = track(
      createClearCfc({
        clientSecret: CLIENT_SECRET,
        environment: 'malaysia-sandbox',
        tokenHeader: 'x-clear-auth-token',
        headers: { 'x-clear-tin': 'C1234' },
        dispatcher: agent,
      }),
    )
    expect(await client.getAuthHeaders()).toEqual({
      'x-clear-auth-token': 'clear-token-1',
      'x-clear-tin': 'C1234',
    })
  })
})

describe('the env setting', () => {
  it('replaces process.env as the source of fallbacks; {} turns them off', async () => {
    vi.stubEnv('CLEAR_CLIENT_SECRET', CLIENT_SECRET)
    vi.stubEnv('CLEAR_ENVIRONMENT', 'india-sandbox')
    // A host that runs other people's settings: the server's own secret must not be used.
    const client = track(
      createClearCfc({
        baseUrl: 'https://attacker.example.com',
        env: {},
        dispatcher: createMockAgent(),
      }),
    )
    await expect(client.getToken()).rejects.toMatchObject({ setting: 'clientSecret' })
    const resolved = resolveSettings({
      env: { CLEAR_CLIENT_SECRET: 'from-map', CLEAR_BASE_URL: 'https://api.clear.in' },
    })
    expect(resolved.baseUrl).toBe('https://api.clear.in')
    expect(resolved.credential.kind === 'clientSecret' && resolved.credential.secret.reveal()).toBe(
      'from-map',
    )
  })

  it('must be an object', () => {
    expect(configurationError(() => createClearCfc({ env: 'x' as never })).setting).toBe('env')
  })
})
