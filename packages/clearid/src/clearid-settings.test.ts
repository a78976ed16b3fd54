import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigurationError, ManualClock, Secret } from '@tokenkeeper/auth-core'
import { createMockAgent } from '@tokenkeeper/auth-core/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createClearId } from './clearid-provider.ts'
import { resolveClearIdLocation, resolveClearIdSettings } from './clearid-settings.ts'
import { clearIdTokenSource } from './clearid-token-source.ts'
import {
  ACCOUNT_ID,
  CLIENT_ID,
  CLIENT_SECRET,
  DEMO_STS,
  isolateEnvironment,
  mockSts,
  testKeys,
  tokens,
} from './test-helpers.ts'

isolateEnvironment()

let directory: string
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'clearid-settings-'))
})
afterEach(() => {
  rmSync(directory, { recursive: true, force: true })
})

function writeKeyFile(content: unknown, name = 'key-1234-test.json'): string {
  const path = join(directory, name)
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

function configurationError(action: () => unknown): ConfigurationError {
  try {
    action()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError)
    return error as ConfigurationError
  }
  throw new Error('expected a ConfigurationError')
}

describe('environment variables', () => {
  it('are read at the first token request, not at import or factory time', async () => {
    const mock = createMockAgent()
    const clock = new ManualClock()
    const sts = mockSts(
      mock,
      tokens(() => clock.now()),
      { origin: DEMO_STS },
    )
    const client = createClearId({ dispatcher: mock, clock }) // nothing configured yet: no error
    process.env.CLEARID_CLIENT_ID = CLIENT_ID
    process.env.CLEARID_CLIENT_SECRET = CLIENT_SECRET
    process.env.CLEARID_ENVIRONMENT = 'DEMO'
    await client.getToken()
    expect(sts.requests[0]?.form.get('client_id')).toBe(CLIENT_ID)
    expect(sts.requests[0]?.form.get('client_secret')).toBe(CLIENT_SECRET)
    await client.close()
    await mock.close()
  })

  it('a missing client id fails the first getToken() naming the option and the variable', async () => {
    const client = createClearId({ clientSecret: CLIENT_SECRET })
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error).toMatchObject({
      code: 'CONFIGURATION_INVALID',
      setting: 'clientId',
      retryable: false,
    })
    expect((error as Error).message).toBe(
      'clearid: clientId is missing; pass { clientId } or a keyFile that holds it, or set CLEARID_CLIENT_ID',
    )
    await client.close()
  })

  it('a missing credential names every way to give one', () => {
    const error = configurationError(() => clearIdTokenSource({ clientId: CLIENT_ID }).cacheKey())
    expect(error.message).toBe(
      'clearid: no credential; pass { clientSecret } or { privateKey } (or a keyFile that holds one), or set CLEARID_CLIENT_SECRET, CLEARID_PRIVATE_KEY or CLEARID_KEY_FILE',
    )
  })

  it('reads every CLEARID_* variable', () => {
    process.env.CLEARID_CLIENT_ID = CLIENT_ID
    process.env.CLEARID_PRIVATE_KEY = testKeys().pkcs8.replace(/\n/g, '\\n')
    process.env.CLEARID_STS_URL = 'https://sts.eu.clearid.io/'
    process.env.CLEARID_API_URL = 'https://api-proxy.example.com'
    process.env.CLEARID_ACCOUNT_ID = 'other-account'
    const settings = resolveClearIdSettings({})
    expect(settings.clientId).toBe(CLIENT_ID)
    expect(settings.credential.grant).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer')
    expect(settings.location).toMatchObject({
      environment: 'eu',
      stsUrl: 'https://sts.eu.clearid.io',
      tokenUrl: 'https://sts.eu.clearid.io/connect/token',
      apiUrl: 'https://api-proxy.example.com',
      origins: ['https://api-proxy.example.com'],
    })
    expect(settings.accountId).toBe('other-account')
  })

  it('env replaces process.env as the source of fallbacks; {} turns them off', () => {
    process.env.CLEARID_CLIENT_ID = 'from-process:env'
    process.env.CLEARID_CLIENT_SECRET = CLIENT_SECRET
    const settings = resolveClearIdSettings({
      env: {
        CLEARID_CLIENT_ID: CLIENT_ID,
        CLEARID_CLIENT_SECRET: 'other',
        CLEARID_ENVIRONMENT: 'eu',
      },
    })
    expect(settings.clientId).toBe(CLIENT_ID)
    expect(settings.location.environment).toBe('eu')
    const error = configurationError(() => resolveClearIdSettings({ env: {} }))
    expect(error.setting).toBe('clientId')
    expect(configurationError(() => createClearId({ env: 'CLEARID' as never })).message).toBe(
      'clearid: env must be an object of environment variables',
    )
  })

  it('a broken variable that is not used does not fail the configuration', () => {
    process.env.CLEARID_PRIVATE_KEY = 'not a key'
    const settings = resolveClearIdSettings({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET })
    expect(settings.credential.grant).toBe('client_credentials')
    expect(
      configurationError(() => resolveClearIdSettings({ clientId: CLIENT_ID })).message,
    ).toContain('clearid: CLEARID_PRIVATE_KEY is not a PEM private key')
  })

  it('reads the key file named by CLEARID_KEY_FILE', () => {
    process.env.CLEARID_KEY_FILE = writeKeyFile({
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
    })
    const settings = resolveClearIdSettings({})
    expect(settings.clientId).toBe(CLIENT_ID)
    expect(settings.credential.grant).toBe('client_credentials')
  })

  it('explains a bad variable value by naming the variable', () => {
    process.env.CLEARID_CLIENT_ID = CLIENT_ID
    process.env.CLEARID_CLIENT_SECRET = CLIENT_SECRET
    process.env.CLEARID_ENVIRONMENT = 'production-eu'
    expect(configurationError(() => resolveClearIdSettings({})).message).toBe(
      'clearid: CLEARID_ENVIRONMENT must be demo, global or eu, got "production-eu"',
    )
    process.env.CLEARID_ENVIRONMENT = ''
    process.env.CLEARID_STS_URL = 'http://sts.clearid.io'
    const insecure = configurationError(() => resolveClearIdSettings({}))
    expect(insecure.code).toBe('INSECURE_TRANSPORT')
    expect(insecure.message).toContain('CLEARID_STS_URL must use https://')
  })
})

describe('precedence: code, then key file, then variables', () => {
  it('a value passed in code wins over the key file and the variables', () => {
    process.env.CLEARID_CLIENT_ID = 'env-client:env-account'
    const keyFile = writeKeyFile({
      clientId: 'file-client:file-account',
      clientSecret: 'file-secret',
    })
    const settings = resolveClearIdSettings({ clientId: CLIENT_ID, keyFile })
    expect(settings.clientId).toBe(CLIENT_ID)
    expect(settings.accountId).toBe(ACCOUNT_ID)
  })

  it('the key file wins over the individual variables', () => {
    process.env.CLEARID_CLIENT_ID = 'env-client:env-account'
    process.env.CLEARID_CLIENT_SECRET = 'env-secret'
    const keyFile = writeKeyFile({ clientId: CLIENT_ID, privateKey: testKeys().pkcs1 })
    const settings = resolveClearIdSettings({ keyFile })
    expect(settings.clientId).toBe(CLIENT_ID)
    expect(settings.credential.grant).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer')
  })

  it('the credential comes from the first place that has one, so a secret in code is not overridden by a key in the file', () => {
    const keyFile = writeKeyFile({ clientId: CLIENT_ID, privateKey: testKeys().pkcs8 })
    const settings = resolveClearIdSettings({ keyFile, clientSecret: CLIENT_SECRET })
    expect(settings.credential).toMatchObject({ grant: 'client_credentials' })
  })

  it('the STS comes from the first place with environment or stsUrl', () => {
    process.env.CLEARID_STS_URL = 'https://sts.eu.clearid.io'
    const keyFile = writeKeyFile({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      stsUrl: DEMO_STS,
    })
    expect(resolveClearIdSettings({ keyFile }).location.environment).toBe('demo')
    expect(resolveClearIdSettings({ keyFile, environment: 'global' }).location.stsUrl).toBe(
      'https://sts.clearid.io',
    )
  })
})

describe('validation of values passed in code (at factory time)', () => {
  it.each([
    [{ environment: 'prod' }, 'clearid: environment must be demo, global or eu, got "prod"'],
    [
      { environment: 'https://sts.clearid.io' },
      'clearid: environment must be demo, global or eu; pass a URL as stsUrl (or apiUrl)',
    ],
    [{ stsUrl: 'sts.clearid.io' }, 'clearid: stsUrl is not an absolute URL'],
    [{ stsUrl: 'ftp://sts.clearid.io' }, 'clearid: stsUrl must be an https:// URL'],
    [
      { stsUrl: 'https://sts.clearid.io?x=1' },
      'clearid: stsUrl must not contain a query or fragment',
    ],
    [{ stsUrl: 'https://user:pw@sts.clearid.io' }, 'clearid: stsUrl must not contain credentials'],
    [
      { apiUrl: 'http://identityservice.clearid.io' },
      'clearid: apiUrl must use https:// (plain http:// is allowed only for loopback addresses)',
    ],
    [
      { environment: 'eu', stsUrl: DEMO_STS },
      'clearid: stsUrl is the demo STS but environment is eu; the STS and the APIs must be in the same environment',
    ],
    [{ clientId: 42 }, 'clearid: clientId must be a string'],
    [
      { clientId: 'abc\n:def' },
      "clearid: clientId must be the integration's client id (<guid>:<accountId>)",
    ],
    [{ clientSecret: 42 }, 'clearid: clientSecret must be a string'],
    [
      { accountId: 'a/b' },
      `clearid: accountId must be a ClearID account id (letters, digits, '-', '.', '_', '~'), got "a/b"`,
    ],
    [{ keyFile: 7 }, 'clearid: keyFile must be a file path or the parsed key file (an object)'],
  ])('%o', (settings, message) => {
    const error = configurationError(() =>
      createClearId({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...settings } as never),
    )
    expect(error.message).toBe(message)
  })

  const keys = testKeys()
  it.each([
    [42, 'must be a PEM string, a JWK (object or JSON text) or a Secret holding one'],
    [
      'not a key',
      'is not a PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----) or a JWK',
    ],
    ['{"kty":', 'looks like JSON but is not valid JSON (expected a JWK)'],
    [
      keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      'is a PEM block but not a private key',
    ],
    [
      keys.privateKey
        .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' })
        .toString(),
      'is an encrypted PEM key; decrypt it first',
    ],
    [
      '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----',
      'is a PEM private key that cannot be read',
    ],
    [{ ...keys.jwk, d: undefined }, 'is a public JWK (it has no "d" member)'],
    [{ kty: 'oct', k: 'AAAA' }, 'is a JWK with kty "oct"; ClearID needs an RSA key'],
    [
      generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
      'is a ec key; ClearID assertions are signed with RS512',
    ],
    [
      generateKeyPairSync('rsa', { modulusLength: 1024 })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
      'is a 1024-bit RSA key; RS512 needs at least 2048 bits',
    ],
  ])('privateKey %#', (privateKey, problem) => {
    const error = configurationError(() =>
      createClearId({ clientId: CLIENT_ID, privateKey: privateKey as string }),
    )
    expect(error.message).toContain(`clearid: privateKey ${problem}`)
    expect(error.setting).toBe('privateKey')
    // The key itself is never quoted.
    expect(error.message).not.toContain('MII')
  })

  it('accepts bare base64 DER (PKCS#8 or PKCS#1) without the PEM armour', () => {
    for (const type of ['pkcs8', 'pkcs1'] as const) {
      const der = keys.privateKey.export({ type, format: 'der' }).toString('base64')
      const settings = resolveClearIdSettings({ clientId: CLIENT_ID, privateKey: new Secret(der) })
      expect(settings.credential.grant).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer')
    }
  })
})

describe('account id and location', () => {
  it('derives the account id from the client id', () => {
    expect(
      resolveClearIdSettings({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }).accountId,
    ).toBe(ACCOUNT_ID)
    expect(
      resolveClearIdSettings({ clientId: 'no-colon', clientSecret: CLIENT_SECRET }).accountId,
    ).toBeUndefined()
    expect(
      resolveClearIdSettings({
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        accountId: 'given',
      }).accountId,
    ).toBe('given')
  })

  it('resolves the location without any credential', () => {
    expect(resolveClearIdLocation({ environment: 'eu' })).toMatchObject({
      environment: 'eu',
      stsUrl: 'https://sts.eu.clearid.io',
      apiUrl: 'https://identityservice.eu.clearid.io',
      accountId: undefined,
    })
    expect(resolveClearIdLocation({ clientId: CLIENT_ID }).apiUrl).toBe(
      'https://identityservice.clearid.io',
    )
  })

  it('reads the settings once, even if the variables change later', () => {
    process.env.CLEARID_CLIENT_ID = CLIENT_ID
    process.env.CLEARID_CLIENT_SECRET = CLIENT_SECRET
    const source = clearIdTokenSource()
    const key = source.cacheKey()
    process.env.CLEARID_CLIENT_ID = 'changed:later'
    expect(source.cacheKey()).toBe(key)
  })
})
