import { ConfigurationError, Secret } from '@tokenkeeper/auth-core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CLIENT_ID, CLIENT_SECRET, CUSTOMER_ID } from './__fixtures__/harness.ts'
import {
  AKAMAI_IDENTITY_ENVIRONMENT,
  type AkamaiIdentityTokenSourceSettings,
  akamaiIdentityBaseUrl,
  createSettingsResolver,
  parseAkamaiIdentityOidcUrl,
} from './akamai-identity-settings.ts'
import { akamaiIdentityTokenSource } from './akamai-identity-token-source.ts'

const credentials = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }

beforeEach(() => {
  // Blank counts as unset: a developer's own AKAMAI_IDENTITY_* variables cannot leak in.
  for (const name of Object.values(AKAMAI_IDENTITY_ENVIRONMENT)) vi.stubEnv(name, '')
})

afterEach(() => {
  vi.unstubAllEnvs()
})

function resolve(settings: AkamaiIdentityTokenSourceSettings) {
  return createSettingsResolver(settings).resolve()
}

/** Runs `fn` and returns the ConfigurationError it throws. */
function configurationError(fn: () => unknown): ConfigurationError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError)
    return error as ConfigurationError
  }
  throw new Error('expected a ConfigurationError')
}

describe('regions', () => {
  it.each([
    ['us', 'https://v1.api.us.janrain.com'],
    ['eu', 'https://v1.api.eu.janrain.com'],
    ['jp', 'https://v1.api.jp.janrain.com'],
    ['ca', 'https://v1.api.ca.janrain.com'],
    ['au', 'https://v1.api.au.janrain.com'],
    [' EU ', 'https://v1.api.eu.janrain.com'],
  ])('region %j resolves to %s', (region, baseUrl) => {
    const resolved = resolve({ region, customerId: CUSTOMER_ID, ...credentials })
    expect(resolved.baseUrl).toBe(baseUrl)
    expect(resolved.tokenUrl).toBe(`${baseUrl}/${CUSTOMER_ID}/login/token`)
    expect(resolved.origin).toBe(baseUrl)
    expect(akamaiIdentityBaseUrl(region)).toBe(baseUrl)
  })

  it.each([
    'us.evil.example',
    'evil.example/x',
    'https://v1.api.us.janrain.com',
    '-us',
    'us-',
    'u s',
    'ü',
    'us:443',
    'us@evil',
  ])('rejects region %j when the source is created', (region) => {
    const error = configurationError(() =>
      akamaiIdentityTokenSource({ region, customerId: CUSTOMER_ID, ...credentials }),
    )
    expect(error.setting).toBe('region')
    expect(error.code).toBe('CONFIGURATION_INVALID')
    expect(error.message).toMatch(/^akamai-identity: region must be a region name/)
  })

  it('points a region given as a URL to baseUrl', () => {
    const error = configurationError(() =>
      akamaiIdentityTokenSource({ region: 'https://v1.api.eu.janrain.com' }),
    )
    expect(error.message).toContain('pass a URL as baseUrl')
  })

  it('rejects a region that is not a string', () => {
    const error = configurationError(() =>
      akamaiIdentityTokenSource({ region: 42 as unknown as string }),
    )
    expect(error.message).toBe('akamai-identity: region must be a string')
  })
})

describe('baseUrl', () => {
  it('drops trailing slashes and keeps a path prefix', () => {
    expect(
      resolve({ baseUrl: 'https://v1.api.eu.janrain.com/', customerId: 'c1', ...credentials }),
    ).toMatchObject({
      baseUrl: 'https://v1.api.eu.janrain.com',
      tokenUrl: 'https://v1.api.eu.janrain.com/c1/login/token',
      customerUrl: 'https://v1.api.eu.janrain.com/c1',
    })
    expect(
      resolve({ baseUrl: 'http://127.0.0.1:4010/akamai//', customerId: 'c1', ...credentials }),
    ).toMatchObject({
      baseUrl: 'http://127.0.0.1:4010/akamai',
      tokenUrl: 'http://127.0.0.1:4010/akamai/c1/login/token',
      origin: 'http://127.0.0.1:4010',
    })
  })

  it('refuses plain http to a host that is not loopback', () => {
    const error = configurationError(() =>
      akamaiIdentityTokenSource({ baseUrl: 'http://v1.api.us.janrain.com' }),
    )
    expect(error.code).toBe('INSECURE_TRANSPORT')
    expect(error.setting).toBe('baseUrl')
  })

  it.each([
    ['not a url', 'is not an absolute URL'],
    ['ftp://v1.api.us.janrain.com', 'must be an https:// URL'],
    ['https://v1.api.us.janrain.com/?x=1', 'must not contain a query or fragment'],
    ['https://user:pw@v1.api.us.janrain.com', 'must not contain credentials'],
    [`https://v1.api.us.janrain.com/${CUSTOMER_ID}/login`, 'pass it as oidcUrl'],
  ])('rejects baseUrl %j', (baseUrl, message) => {
    const error = configurationError(() => akamaiIdentityTokenSource({ baseUrl }))
    expect(error.setting).toBe('baseUrl')
    expect(error.message).toContain(message)
  })
})

describe('oidcUrl', () => {
  it.each([
    `https://v1.api.us.janrain.com/${CUSTOMER_ID}/login`,
    `https://v1.api.us.janrain.com/${CUSTOMER_ID}/login/`,
    `https://V1.API.US.JANRAIN.COM/${CUSTOMER_ID}/Login`,
    `https://v1.api.us.janrain.com/${CUSTOMER_ID}/login/.well-known/openid-configuration`,
    `https://v1.api.us.janrain.com/${CUSTOMER_ID}/login/token`,
  ])('gives base URL and customer id: %s', (oidcUrl) => {
    expect(parseAkamaiIdentityOidcUrl(oidcUrl)).toEqual({
      baseUrl: 'https://v1.api.us.janrain.com',
      customerId: CUSTOMER_ID,
    })
    expect(resolve({ oidcUrl, ...credentials })).toMatchObject({
      baseUrl: 'https://v1.api.us.janrain.com',
      customerId: CUSTOMER_ID,
      tokenUrl: `https://v1.api.us.janrain.com/${CUSTOMER_ID}/login/token`,
    })
  })

  it('keeps a path prefix (an emulator behind a path)', () => {
    expect(parseAkamaiIdentityOidcUrl('http://localhost:4010/akamai/cust-1/login')).toEqual({
      baseUrl: 'http://localhost:4010/akamai',
      customerId: 'cust-1',
    })
  })

  it.each([
    ['https://v1.api.us.janrain.com/login', 'must look like'],
    [`https://v1.api.us.janrain.com/${CUSTOMER_ID}`, 'must look like'],
    [`https://v1.api.us.janrain.com/${CUSTOMER_ID}/logout`, 'must look like'],
    ['https://v1.api.us.janrain.com/a%20b/login', 'must be the customer_id'],
    [`https://v1.api.us.janrain.com/${CUSTOMER_ID}/login?x=1`, 'query or fragment'],
    [`http://v1.api.us.janrain.com/${CUSTOMER_ID}/login`, 'must use https://'],
  ])('rejects oidcUrl %j', (oidcUrl, message) => {
    const error = configurationError(() => akamaiIdentityTokenSource({ oidcUrl }))
    expect(error.setting).toMatch(/oidcUrl|customerId/)
    expect(error.message).toContain(message)
  })

  it('accepts a customerId and region that agree with it', () => {
    const resolved = resolve({
      oidcUrl: `https://v1.api.eu.janrain.com/${CUSTOMER_ID}/login`,
      customerId: CUSTOMER_ID,
      region: 'eu',
      baseUrl: 'https://v1.api.eu.janrain.com/',
      ...credentials,
    })
    expect(resolved.tokenUrl).toBe(`https://v1.api.eu.janrain.com/${CUSTOMER_ID}/login/token`)
  })

  it('refuses an explicit customerId that differs from the one in oidcUrl', () => {
    const error = configurationError(() =>
      akamaiIdentityTokenSource({
        oidcUrl: `https://v1.api.eu.janrain.com/${CUSTOMER_ID}/login`,
        customerId: 'another-customer',
      }),
    )
    expect(error.setting).toBe('customerId')
    expect(error.message).toBe(
      `akamai-identity: oidcUrl and customerId give different customer ids (${CUSTOMER_ID} and another-customer); pass only one, or make them agree`,
    )
  })

  it('refuses an explicit region or baseUrl that points elsewhere than oidcUrl', () => {
    const oidcUrl = `https://v1.api.eu.janrain.com/${CUSTOMER_ID}/login`
    expect(
      configurationError(() => akamaiIdentityTokenSource({ oidcUrl, region: 'us' })).message,
    ).toContain('oidcUrl and region give different API hosts')
    expect(
      configurationError(() =>
        akamaiIdentityTokenSource({ oidcUrl, baseUrl: 'https://v1.api.jp.janrain.com' }),
      ).message,
    ).toContain('oidcUrl and baseUrl give different API hosts')
    expect(
      configurationError(() =>
        akamaiIdentityTokenSource({ region: 'us', baseUrl: 'https://v1.api.jp.janrain.com' }),
      ).setting,
    ).toBe('baseUrl')
  })
})

describe('customerId', () => {
  it.each(['a/b', 'a b', 'a?b', 'a#b', '../x', 'a%2Fb', 'ü'])('rejects %j', (customerId) => {
    const error = configurationError(() => akamaiIdentityTokenSource({ customerId }))
    expect(error.setting).toBe('customerId')
  })
})

describe('scope', () => {
  const base = { region: 'us', customerId: CUSTOMER_ID, ...credentials }

  it('defaults to *:webhooks/**', () => {
    expect(resolve(base).scope).toBe('*:webhooks/**')
  })

  it('accepts a list or space-separated scopes and normalises the spacing', () => {
    expect(resolve({ ...base, scope: ['*:config/**', '*:webhooks/**'] }).scope).toBe(
      '*:config/** *:webhooks/**',
    )
    expect(resolve({ ...base, scope: '  *:config/**   *:webhooks/** ' }).scope).toBe(
      '*:config/** *:webhooks/**',
    )
  })

  it.each([
    [['a', 'b"c'], 'not a valid scope'],
    ['a\\b', 'not a valid scope'],
    ['é', 'not a valid scope'],
    [[], 'scope is empty'],
    ['   ', 'scope is empty'],
    [[1], 'must be a string or a list of strings'],
  ])('rejects %j', (scope, message) => {
    const error = configurationError(() =>
      akamaiIdentityTokenSource({ ...base, scope: scope as string }),
    )
    expect(error.setting).toBe('scope')
    expect(error.message).toContain(message)
  })
})

describe('environment variables', () => {
  const env = AKAMAI_IDENTITY_ENVIRONMENT

  it('fills every setting from AKAMAI_IDENTITY_*', () => {
    vi.stubEnv(env.region, 'eu')
    vi.stubEnv(env.customerId, CUSTOMER_ID)
    vi.stubEnv(env.clientId, CLIENT_ID)
    vi.stubEnv(env.clientSecret, CLIENT_SECRET)
    vi.stubEnv(env.scope, '*:config/**')
    const resolved = resolve({})
    expect(resolved).toMatchObject({
      baseUrl: 'https://v1.api.eu.janrain.com',
      customerId: CUSTOMER_ID,
      clientId: CLIENT_ID,
      scope: '*:config/**',
    })
    expect(resolved.clientSecret).toBeInstanceOf(Secret)
    expect(resolved.clientSecret.reveal()).toBe(CLIENT_SECRET)
  })

  it('reads AKAMAI_IDENTITY_BASE_URL and AKAMAI_IDENTITY_OIDC_URL', () => {
    vi.stubEnv(env.clientId, CLIENT_ID)
    vi.stubEnv(env.clientSecret, CLIENT_SECRET)
    vi.stubEnv(env.baseUrl, 'http://127.0.0.1:4010')
    vi.stubEnv(env.customerId, 'c1')
    expect(resolve({}).tokenUrl).toBe('http://127.0.0.1:4010/c1/login/token')

    vi.stubEnv(env.baseUrl, '')
    vi.stubEnv(env.customerId, '')
    vi.stubEnv(env.oidcUrl, `https://v1.api.jp.janrain.com/${CUSTOMER_ID}/login`)
    expect(resolve({}).tokenUrl).toBe(`https://v1.api.jp.janrain.com/${CUSTOMER_ID}/login/token`)
  })

  it('reads the environment on first use, not when the source is created, and memoises it', () => {
    const resolver = createSettingsResolver({})
    vi.stubEnv(env.oidcUrl, `https://v1.api.us.janrain.com/${CUSTOMER_ID}/login`)
    vi.stubEnv(env.clientId, CLIENT_ID)
    vi.stubEnv(env.clientSecret, CLIENT_SECRET)
    expect(resolver.resolve().customerId).toBe(CUSTOMER_ID)
    vi.stubEnv(env.oidcUrl, 'https://v1.api.eu.janrain.com/other/login')
    expect(resolver.resolve().customerId).toBe(CUSTOMER_ID)
  })

  it('prefers values passed in code; a location in code replaces all location variables', () => {
    vi.stubEnv(env.region, 'eu')
    vi.stubEnv(env.oidcUrl, 'https://v1.api.eu.janrain.com/env-customer/login')
    vi.stubEnv(env.customerId, 'env-customer')
    vi.stubEnv(env.clientId, 'env-client')
    vi.stubEnv(env.clientSecret, 'env-secret')
    vi.stubEnv(env.scope, '*:config/**')
    const resolved = resolve({
      baseUrl: 'http://127.0.0.1:4010',
      customerId: 'code-customer',
      clientId: 'code-client',
      clientSecret: new Secret('code-secret'),
      scope: '*:**',
    })
    expect(resolved).toMatchObject({
      baseUrl: 'http://127.0.0.1:4010',
      customerId: 'code-customer',
      clientId: 'code-client',
      scope: '*:**',
    })
    expect(resolved.clientSecret.reveal()).toBe('code-secret')
  })

  it('reads an injected environment instead of process.env', () => {
    vi.stubEnv(env.region, 'eu')
    const resolved = resolve({
      env: {
        [env.oidcUrl]: `https://v1.api.jp.janrain.com/${CUSTOMER_ID}/login`,
        [env.clientId]: 'injected-client',
        [env.clientSecret]: 'injected-secret',
        [env.scope]: '*:config/**',
      },
    })
    expect(resolved).toMatchObject({
      baseUrl: 'https://v1.api.jp.janrain.com',
      clientId: 'injected-client',
      scope: '*:config/**',
    })
    expect(resolved.clientSecret.reveal()).toBe('injected-secret')
  })

  it('env: {} turns the fallbacks off (user-supplied settings never get the server secret)', () => {
    vi.stubEnv(env.clientSecret, CLIENT_SECRET)
    vi.stubEnv(env.customerId, CUSTOMER_ID)
    const resolver = createSettingsResolver({
      baseUrl: 'https://attacker.example',
      customerId: 'c',
      clientId: 'someone',
      clientSecret: '',
      env: {},
    })
    const error = configurationError(() => resolver.resolve())
    expect(error.setting).toBe('clientSecret')
    expect(
      configurationError(() =>
        createSettingsResolver({ region: 'us', ...credentials, env: {} }).resolve(),
      ).setting,
    ).toBe('customerId')
  })

  it('rejects an environment that is not an object', () => {
    expect(
      configurationError(() =>
        akamaiIdentityTokenSource({
          env: 'process.env' as unknown as Record<string, string>,
        }),
      ).setting,
    ).toBe('env')
  })

  it('takes the customer id from the environment when only the location is in code', () => {
    vi.stubEnv(env.customerId, 'env-customer')
    expect(resolve({ region: 'us', ...credentials }).customerId).toBe('env-customer')
  })

  it('reports conflicting variables on first use, naming them', () => {
    vi.stubEnv(env.oidcUrl, `https://v1.api.eu.janrain.com/${CUSTOMER_ID}/login`)
    vi.stubEnv(env.region, 'us')
    const resolver = createSettingsResolver(credentials)
    const error = configurationError(() => resolver.resolve())
    expect(error.message).toContain(
      'AKAMAI_IDENTITY_OIDC_URL and AKAMAI_IDENTITY_REGION give different API hosts',
    )
  })

  it('validates variables with the variable name in the message', () => {
    vi.stubEnv(env.region, 'us.evil.example')
    const error = configurationError(() => createSettingsResolver(credentials).location())
    expect(error.message).toMatch(/^akamai-identity: AKAMAI_IDENTITY_REGION must be a region name/)
    vi.stubEnv(env.region, 'us')
    vi.stubEnv(env.customerId, CUSTOMER_ID)
    vi.stubEnv(env.scope, 'a"b')
    expect(
      configurationError(() => createSettingsResolver(credentials).resolve()).message,
    ).toContain('AKAMAI_IDENTITY_SCOPE contains')
  })

  it.each([
    [{ customerId: CUSTOMER_ID, ...credentials }, 'region', 'AKAMAI_IDENTITY_REGION'],
    [{ region: 'us', ...credentials }, 'customerId', 'AKAMAI_IDENTITY_CUSTOMER_ID'],
    [{ region: 'us', customerId: 'c', clientSecret: 's' }, 'clientId', 'AKAMAI_IDENTITY_CLIENT_ID'],
    [
      { region: 'us', customerId: 'c', clientId: 'i' },
      'clientSecret',
      'AKAMAI_IDENTITY_CLIENT_SECRET',
    ],
  ] as const)(
    'a missing setting names the option and the variable (%#)',
    (settings, setting, variable) => {
      const resolver = createSettingsResolver(settings)
      const error = configurationError(() => resolver.resolve())
      expect(error.setting).toBe(setting)
      expect(error.message).toContain(setting)
      expect(error.message).toContain(variable)
    },
  )
})

describe('cache key', () => {
  const base = { region: 'us', customerId: CUSTOMER_ID, ...credentials }
  const keyOf = (settings: AkamaiIdentityTokenSourceSettings) =>
    akamaiIdentityTokenSource(settings).cacheKey()

  it('names vendor, host, customer, client and scope, and not the secret', () => {
    const key = keyOf(base)
    expect(key).toBe(
      `akamai-identity|https://v1.api.us.janrain.com|${CUSTOMER_ID}|${CLIENT_ID}|*:webhooks/**`,
    )
    expect(key).not.toContain(CLIENT_SECRET)
    expect(keyOf({ ...base, clientSecret: 'another-secret' })).toBe(key)
  })

  it('differs for every part of the identity', () => {
    const keys = new Set([
      keyOf(base),
      keyOf({ ...base, scope: '*:config/**' }),
      keyOf({ ...base, clientId: 'other-client' }),
      keyOf({ ...base, customerId: 'other-customer' }),
      keyOf({ ...base, region: 'eu' }),
      keyOf({ ...base, clientId: `${CLIENT_ID}|*:config/**` }),
    ])
    expect(keys.size).toBe(6)
  })
})
