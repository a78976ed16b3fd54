import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { ConfigurationError, ManualClock, type Secret } from '@tokenkeeper/auth-core'
import { createMockAgent } from '@tokenkeeper/auth-core/testing'
import { jwtVerify } from 'jose'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadClearIdKeyFile, parseClearIdKeyFile } from './clearid-key-file.ts'
import { createClearId } from './clearid-provider.ts'
import { resolveClearIdSettings } from './clearid-settings.ts'
import {
  CLIENT_ID,
  CLIENT_SECRET,
  DEMO_STS,
  isolateEnvironment,
  mockSts,
  START,
  testKeys,
  tokens,
} from './test-helpers.ts'

isolateEnvironment()

const keys = testKeys()
let directory: string
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'clearid-key-file-'))
})
afterEach(() => {
  rmSync(directory, { recursive: true, force: true })
})

function write(content: unknown, name = 'key-1234-reporting.json'): string {
  const path = join(directory, name)
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2))
  return path
}

function reveal(secret: Secret | undefined): string | undefined {
  return secret?.reveal()
}

function failure(action: () => unknown): ConfigurationError {
  try {
    action()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError)
    return error as ConfigurationError
  }
  throw new Error('expected a ConfigurationError')
}

describe('key file variants', () => {
  it('snake_case fields with a PEM key and the STS address', () => {
    const file = loadClearIdKeyFile(
      write({
        client_id: CLIENT_ID,
        account_id: 'acme-account',
        sts_url: 'https://sts-demo.clearid.io/',
        private_key: keys.pkcs8,
      }),
    )
    expect(file).toMatchObject({
      clientId: CLIENT_ID,
      accountId: 'acme-account',
      stsUrl: 'https://sts-demo.clearid.io/',
    })
    expect(reveal(file.privateKey)).toBe(keys.pkcs8)
  })

  it('PascalCase fields with a nested JWK (the Genetec Clearance style)', () => {
    const file = parseClearIdKeyFile({
      ClientId: CLIENT_ID,
      ClientSecret: CLIENT_SECRET,
      AccountId: 'acme-account',
      Authority: DEMO_STS,
      PrivateKey: { ...keys.jwk, kid: CLIENT_ID, use: 'sig' },
    })
    expect(file.clientId).toBe(CLIENT_ID)
    expect(reveal(file.clientSecret)).toBe(CLIENT_SECRET)
    expect(file.stsUrl).toBe(DEMO_STS)
    expect(JSON.parse(reveal(file.privateKey) ?? '')).toMatchObject({
      kty: 'RSA',
      d: keys.jwk.d,
      kid: CLIENT_ID,
    })
  })

  it('the whole file a JWK whose kid is the client id', () => {
    const file = parseClearIdKeyFile(
      JSON.stringify({ ...keys.jwk, kid: CLIENT_ID, stsUrl: DEMO_STS }),
    )
    expect(file.clientId).toBe(CLIENT_ID)
    expect(file.stsUrl).toBe(DEMO_STS)
    const jwk = JSON.parse(reveal(file.privateKey) ?? '')
    expect(Object.keys(jwk).sort()).toEqual([
      'd',
      'dp',
      'dq',
      'e',
      'kid',
      'kty',
      'n',
      'p',
      'q',
      'qi',
    ])
  })

  it('fields nested one level deep, hyphenated names, a BOM and an environment', () => {
    const file = parseClearIdKeyFile(
      `\uFEFF${JSON.stringify({
        name: 'reporting',
        credentials: { 'client-id': CLIENT_ID, 'client-secret': CLIENT_SECRET },
        environment: 'Demo',
      })}`,
    )
    expect(file).toMatchObject({ clientId: CLIENT_ID, environment: 'demo' })
    expect(reveal(file.clientSecret)).toBe(CLIENT_SECRET)
  })

  it("the format of the emulator's key-file generator (type, name, systemId, ids, URLs, JWK)", () => {
    const path = write({
      type: 'clearid-api-integration',
      name: 'tokenkeeper',
      systemId: 'acme-account',
      clientId: CLIENT_ID,
      accountId: 'acme-account',
      stsUrl: 'http://127.0.0.1:4010',
      apiUrl: 'http://127.0.0.1:4010',
      privateKey: { ...keys.jwk, kid: CLIENT_ID, alg: 'RS512' },
    })
    const settings = resolveClearIdSettings({ keyFile: path })
    expect(settings).toMatchObject({ clientId: CLIENT_ID, accountId: 'acme-account' })
    expect(settings.credential.grant).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer')
    expect(settings.location).toMatchObject({
      environment: undefined,
      tokenUrl: 'http://127.0.0.1:4010/connect/token',
      apiUrl: 'http://127.0.0.1:4010',
      origins: ['http://127.0.0.1:4010'],
    })
  })

  it('the keyFile setting also takes the parsed content (e.g. the emulator demo credentials)', () => {
    const demo = {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      keyFile: { clientId: CLIENT_ID, stsUrl: 'http://127.0.0.1:4010', privateKey: keys.jwk },
    }
    expect(resolveClearIdSettings(demo).credential.grant).toBe('client_credentials')
    const { clientSecret: _secret, ...withoutSecret } = demo
    const settings = resolveClearIdSettings(withoutSecret)
    expect(settings.credential.grant).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer')
    expect(settings.location.tokenUrl).toBe('http://127.0.0.1:4010/connect/token')
  })

  it('a file that is only a PEM private key', () => {
    const file = loadClearIdKeyFile(write(keys.pkcs1, 'clearid.pem'))
    expect(reveal(file.privateKey)).toBe(keys.pkcs1.trim())
    expect(file.clientId).toBeUndefined()
  })

  it('a file with a secret only (the client id given in code)', () => {
    const path = write({ secret: CLIENT_SECRET })
    const settings = resolveClearIdSettings({ clientId: CLIENT_ID, keyFile: path })
    expect(settings.credential.grant).toBe('client_credentials')
  })

  it('top-level fields win over nested ones', () => {
    const file = parseClearIdKeyFile({ clientId: 'top:level', nested: { clientId: 'nested:one' } })
    expect(file.clientId).toBe('top:level')
  })

  it('prints without key material', () => {
    const file = parseClearIdKeyFile({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      privateKey: keys.pkcs8,
    })
    const printed = `${inspect(file, { depth: 5 })}${JSON.stringify(file)}`
    expect(printed).not.toContain(CLIENT_SECRET)
    expect(printed).not.toContain('PRIVATE KEY')
    expect(printed).toContain(CLIENT_ID)
  })

  it('spreads into createClearId and signs an assertion the public key verifies', async () => {
    const mock = createMockAgent()
    const clock = new ManualClock()
    const sts = mockSts(
      mock,
      tokens(() => clock.now()),
      { origin: DEMO_STS },
    )
    const path = write({ clientId: CLIENT_ID, stsUrl: DEMO_STS, privateKey: keys.jwk })
    const client = createClearId({ ...loadClearIdKeyFile(path), dispatcher: mock, clock })
    await client.getToken()
    const assertion = sts.requests[0]?.form.get('assertion') ?? ''
    const { payload } = await jwtVerify(assertion, keys.publicKey, { currentDate: new Date(START) })
    expect(payload.iss).toBe(CLIENT_ID)
    await client.close()
    mock.assertNoPendingInterceptors()
    await mock.close()
  })

  it('works as the keyFile setting, read at the first token request', async () => {
    const mock = createMockAgent()
    const clock = new ManualClock()
    const sts = mockSts(
      mock,
      tokens(() => clock.now()),
      { origin: DEMO_STS },
    )
    const path = join(directory, 'later.json')
    const client = createClearId({ keyFile: path, dispatcher: mock, clock })
    write({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, sts: DEMO_STS }, 'later.json')
    await client.getToken()
    expect(sts.requests[0]?.form.get('client_secret')).toBe(CLIENT_SECRET)
    await client.close()
    await mock.close()
  })
})

describe('key file errors name the file and the problem, never a value', () => {
  it('a missing file', () => {
    const path = join(directory, 'missing.json')
    const error = failure(() => loadClearIdKeyFile(path))
    expect(error.message).toBe(
      `clearid: keyFile ${JSON.stringify(path)} does not exist; point it at the JSON key file downloaded from the ClearID portal`,
    )
    expect(error.setting).toBe('keyFile')
  })

  it('a directory', () => {
    const path = join(directory, 'folder')
    mkdirSync(path)
    expect(failure(() => loadClearIdKeyFile(path)).message).toContain('is a directory, not a file')
  })

  it('a missing file named by CLEARID_KEY_FILE fails the first getToken()', async () => {
    process.env.CLEARID_KEY_FILE = join(directory, 'missing.json')
    const client = createClearId()
    const error = await client.getToken().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConfigurationError)
    expect((error as Error).message).toContain('CLEARID_KEY_FILE')
    await client.close()
  })

  it('not JSON', () => {
    const error = failure(() => loadClearIdKeyFile(write(`client_secret=${CLIENT_SECRET}`)))
    expect(error.message).toContain('is not valid JSON (nor a PEM private key)')
    expect(error.message).not.toContain(CLIENT_SECRET)
  })

  it('no usable field: lists the field names found, not their values', () => {
    const error = failure(() => parseClearIdKeyFile({ systemId: 'SYS-1', token: CLIENT_SECRET }))
    expect(error.message).toBe(
      'clearid: key file has no client id, client secret or private key field (fields found: systemId, token)',
    )
  })

  it('a private key in the file that is not a key names the file', () => {
    const path = write({ clientId: CLIENT_ID, privateKey: 'garbage' })
    const error = failure(() => resolveClearIdSettings({ keyFile: path }))
    expect(error.message).toContain(
      `the private key in keyFile ${JSON.stringify(path)} is not a PEM private key`,
    )
    expect(error.message).not.toContain('garbage')
  })

  it('a bad environment in the file', () => {
    expect(
      failure(() => parseClearIdKeyFile({ clientId: CLIENT_ID, environment: 'moon' })).message,
    ).toBe('clearid: the environment field of key file must be demo, global or eu, got "moon"')
  })
})
