import { generateKeyPairSync } from 'node:crypto'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CLEARID_SCOPES, type Emulator, EmulatorError, startEmulator } from '../src/index.ts'
import { basic, decodeJwtParts, postForm, signAssertion } from './helpers.ts'

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
let emulator: Emulator
let tokenUrl: string

beforeAll(async () => {
  // Time moves only through emulator.clock.advance, so a loaded machine cannot shift a second.
  const frozen = Date.now()
  emulator = await startEmulator({ now: () => frozen })
  tokenUrl = `${emulator.urls.clearid.stsUrl}/connect/token`
})
afterAll(() => emulator.stop())
afterEach(() => {
  emulator.faults.clear()
  emulator.clearid.setTokenLifetime(3600)
})

function secretGrant(overrides: Record<string, string> = {}) {
  return postForm(tokenUrl, {
    grant_type: 'client_credentials',
    client_id: emulator.demo.clearid.clientId,
    client_secret: emulator.demo.clearid.clientSecret,
    ...overrides,
  })
}

async function assertionFor(overrides: Partial<Parameters<typeof signAssertion>[1]> = {}) {
  return signAssertion(emulator.demo.clearid.privateKeyPem, {
    alg: 'RS512',
    issuer: emulator.demo.clearid.clientId,
    audience: 'iams-sts',
    nowMs: emulator.clock.now(),
    kid: emulator.demo.clearid.clientId,
    ...overrides,
  })
}

function assertionGrant(assertion: string, clientId = emulator.demo.clearid.clientId) {
  return postForm(tokenUrl, { grant_type: JWT_BEARER, client_id: clientId, assertion })
}

async function expectTokenError(response: Response, error: string): Promise<string> {
  expect(response.status).toBe(400)
  const body = (await response.json()) as { error: string; error_description: string }
  expect(body.error).toBe(error)
  return body.error_description
}

function identitiesUrl(accountId = emulator.demo.clearid.accountId): string {
  return `${emulator.urls.clearid.apiUrl}/api/v2/accounts/${accountId}/identities`
}

async function accessToken(): Promise<string> {
  const body = (await (await secretGrant()).json()) as { access_token: string }
  return body.access_token
}

describe('ClearID token endpoint', () => {
  it('issues an RS512 at+jwt access token with the documented claims for the client-secret grant', async () => {
    const response = await secretGrant()
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const body = (await response.json()) as Record<string, unknown>
    expect(body).toMatchObject({
      expires_in: 3600,
      token_type: 'Bearer',
      scope: 'iams-all-permissions-delegated iams-api iams-roles openid',
    })
    const { header, payload } = decodeJwtParts(body.access_token as string)
    expect(header).toMatchObject({ alg: 'RS512', typ: 'at+jwt' })
    const now = Math.floor(emulator.clock.now() / 1000)
    expect(payload).toMatchObject({
      iss: emulator.urls.clearid.stsUrl,
      client_id: emulator.demo.clearid.clientId,
      sub: emulator.demo.clearid.clientId,
      account_id: emulator.demo.clearid.accountId,
      scope: CLEARID_SCOPES,
      amr: ['pwd'],
    })
    expect(Math.abs((payload.iat as number) - now)).toBeLessThanOrEqual(1)
    expect(payload.nbf).toBe(payload.iat)
    expect((payload.exp as number) - (payload.iat as number)).toBe(3600)
    // The signature verifies against the STS's published keys.
    const jwks = createRemoteJWKSet(
      new URL(`${emulator.urls.clearid.stsUrl}/.well-known/openid-configuration/jwks`),
    )
    const verified = await jwtVerify(body.access_token as string, jwks, {
      issuer: emulator.urls.clearid.stsUrl,
      currentDate: new Date(emulator.clock.now()),
    })
    expect(verified.protectedHeader.alg).toBe('RS512')
  })

  it('accepts the client secret in a form-encoded Basic header too', async () => {
    const response = await postForm(
      tokenUrl,
      { grant_type: 'client_credentials' },
      { authorization: basic(emulator.demo.clearid.clientId, emulator.demo.clearid.clientSecret) },
    )
    expect(response.status).toBe(200)
  })

  it('answers IdentityServer-style 400 errors', async () => {
    expect(
      await expectTokenError(await secretGrant({ client_secret: 'wrong' }), 'invalid_client'),
    ).toMatch(/secret/)
    await expectTokenError(await secretGrant({ client_id: 'unknown:client' }), 'invalid_client')
    await expectTokenError(
      await postForm(tokenUrl, { grant_type: 'client_credentials' }),
      'invalid_client',
    )
    await expectTokenError(
      await postForm(tokenUrl, {
        client_id: emulator.demo.clearid.clientId,
        client_secret: emulator.demo.clearid.clientSecret,
      }),
      'unsupported_grant_type',
    )
    await expectTokenError(await secretGrant({ grant_type: 'password' }), 'unsupported_grant_type')
    await expectTokenError(await secretGrant({ scope: 'iams-api admin' }), 'invalid_scope')
    const json = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    })
    await expectTokenError(json, 'invalid_request')
    expect((await fetch(tokenUrl)).status).toBe(405)
  })

  it('narrows the scope when asked for a subset', async () => {
    const body = (await (await secretGrant({ scope: 'iams-api' })).json()) as Record<
      string,
      unknown
    >
    expect(body.scope).toBe('iams-api')
    expect(decodeJwtParts(body.access_token as string).payload.scope).toEqual(['iams-api'])
  })

  it('honours the configured token lifetime', async () => {
    emulator.clearid.setTokenLifetime(60)
    const body = (await (await secretGrant()).json()) as Record<string, unknown>
    expect(body.expires_in).toBe(60)
    const { payload } = decodeJwtParts(body.access_token as string)
    expect((payload.exp as number) - (payload.iat as number)).toBe(60)
    expect(() => emulator.clearid.setTokenLifetime(3601)).toThrow(EmulatorError)
    expect(() => emulator.clearid.setTokenLifetime(0)).toThrow(/1 to 3600/)
  })
})

describe('ClearID JWT-bearer assertion grant', () => {
  it('issues a token for an RS512 assertion signed with the key file', async () => {
    const response = await assertionGrant(await assertionFor())
    expect(response.status).toBe(200)
    const body = (await response.json()) as Record<string, unknown>
    expect(decodeJwtParts(body.access_token as string).payload.amr).toEqual(['swk'])
  })

  it('refuses a replayed jti', async () => {
    const before = emulator.counters().clearid.assertionReplays
    const assertion = await assertionFor()
    expect((await assertionGrant(assertion)).status).toBe(200)
    expect(await expectTokenError(await assertionGrant(assertion), 'invalid_grant')).toMatch(/jti/)
    expect(emulator.counters().clearid.assertionReplays).toBe(before + 1)
  })

  it('refuses bad audience, issuer, subject, algorithm, timing and signature', async () => {
    const now = emulator.clock.now()
    await expectTokenError(
      await assertionGrant(await assertionFor({ audience: tokenUrl })),
      'invalid_grant',
    )
    await expectTokenError(
      await assertionGrant(await assertionFor({ issuer: 'someone-else' })),
      'invalid_grant',
    )
    await expectTokenError(
      await assertionGrant(await assertionFor({ subject: 'someone-else' })),
      'invalid_grant',
    )
    expect(
      await expectTokenError(
        await assertionGrant(await assertionFor({ alg: 'RS256' })),
        'invalid_grant',
      ),
    ).toMatch(/RS512/)
    expect(
      await expectTokenError(
        await assertionGrant(await assertionFor({ nowMs: now - 10 * 60_000 })),
        'invalid_grant',
      ),
    ).toMatch(/expired/)
    expect(
      await expectTokenError(
        await assertionGrant(await assertionFor({ lifetime: 24 * 3600 })),
        'invalid_grant',
      ),
    ).toMatch(/future/)
    await expectTokenError(await assertionGrant(await assertionFor({ jti: null })), 'invalid_grant')
    expect(
      await expectTokenError(
        await assertionGrant(await assertionFor({ nowMs: now + 5 * 60_000, lifetime: 60 })),
        'invalid_grant',
      ),
    ).toMatch(/nbf|future/)
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    await expectTokenError(
      await assertionGrant(
        await signAssertion(stranger, {
          alg: 'RS512',
          issuer: emulator.demo.clearid.clientId,
          audience: 'iams-sts',
          nowMs: now,
        }),
      ),
      'invalid_grant',
    )
    await expectTokenError(await assertionGrant('not-a-jwt'), 'invalid_grant')
    await expectTokenError(
      await postForm(tokenUrl, {
        grant_type: JWT_BEARER,
        client_id: emulator.demo.clearid.clientId,
      }),
      'invalid_request',
    )
  })

  it('regenerating a key file invalidates the old key at once', async () => {
    const first = emulator.clearid.createKeyFile({ name: 'rotation' })
    const sign = (pem: string) =>
      signAssertion(pem, {
        alg: 'RS512',
        issuer: first.clientId,
        audience: 'iams-sts',
        nowMs: emulator.clock.now(),
      })
    expect((await assertionGrant(await sign(first.privateKeyPem), first.clientId)).status).toBe(200)
    const second = emulator.clearid.createKeyFile({ clientId: first.clientId })
    expect(second.clientId).toBe(first.clientId)
    await expectTokenError(
      await assertionGrant(await sign(first.privateKeyPem), first.clientId),
      'invalid_grant',
    )
    expect((await assertionGrant(await sign(second.privateKeyPem), first.clientId)).status).toBe(
      200,
    )
  })

  it('writes a key file with ids, STS URL and the private key as a JWK', async () => {
    const result = emulator.clearid.createKeyFile({ accountId: 'acc-1', name: 'reporting' })
    expect(result.clientId).toMatch(/^[0-9a-f-]{36}:acc-1$/)
    expect(result.fileName).toBe('key-acc-1-reporting.json')
    expect(result.keyFile).toMatchObject({
      type: 'clearid-api-integration',
      name: 'reporting',
      systemId: 'acc-1',
      clientId: result.clientId,
      accountId: 'acc-1',
      stsUrl: emulator.urls.clearid.stsUrl,
      apiUrl: emulator.urls.clearid.apiUrl,
    })
    expect(Object.keys(result.keyFile.privateKey).sort()).toEqual(
      ['alg', 'd', 'dp', 'dq', 'e', 'kid', 'kty', 'n', 'p', 'q', 'qi'].sort(),
    )
    expect(result.keyFile.privateKey).toMatchObject({
      kty: 'RSA',
      kid: result.clientId,
      alg: 'RS512',
    })
    expect(result.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/)
  })

  it('registers public keys given as JWK or PEM (private halves are reduced to public)', async () => {
    const { privateJwk, privateKeyPem } = emulator.demo.clearid
    for (const publicKey of [privateJwk, privateKeyPem]) {
      const client = emulator.clearid.registerClient({ publicKey })
      const signed = await assertionFor({ issuer: client.clientId })
      expect((await assertionGrant(signed, client.clientId)).status).toBe(200)
    }
    expect(() => emulator.clearid.registerClient({ publicKey: 'not a key' })).toThrow(EmulatorError)
  })

  it('needs a registered key for assertions and a secret for the secret grant', async () => {
    const keyOnly = emulator.clearid.createKeyFile()
    await expectTokenError(
      await postForm(tokenUrl, {
        grant_type: 'client_credentials',
        client_id: keyOnly.clientId,
        client_secret: 'anything',
      }),
      'invalid_client',
    )
    const secretOnly = emulator.clearid.registerClient({ clientSecret: 'only-a-secret' })
    await expectTokenError(
      await assertionGrant(
        await assertionFor({ issuer: secretOnly.clientId }),
        secretOnly.clientId,
      ),
      'invalid_client',
    )
  })
})

describe('ClearID identity service', () => {
  it('answers a valid token', async () => {
    const response = await fetch(identitiesUrl(), {
      headers: { authorization: `Bearer ${await accessToken()}` },
    })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { items: unknown[]; totalCount: number }
    expect(body.items.length).toBe(body.totalCount)
  })

  it('answers 401 with a Bearer challenge when the token is missing, invalid, expired or revoked', async () => {
    emulator.resetCounters()
    const missing = await fetch(identitiesUrl())
    expect(missing.status).toBe(401)
    expect(missing.headers.get('www-authenticate')).toBe('Bearer')

    const garbage = await fetch(identitiesUrl(), {
      headers: { authorization: 'Bearer abc.def.ghi' },
    })
    expect(garbage.status).toBe(401)
    expect(garbage.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/)

    emulator.clearid.setTokenLifetime(60)
    const shortLived = await accessToken()
    emulator.clock.advance(61_000)
    const expired = await fetch(identitiesUrl(), {
      headers: { authorization: `Bearer ${shortLived}` },
    })
    expect(expired.status).toBe(401)
    expect(expired.headers.get('www-authenticate')).toMatch(/error="invalid_token".*expired/)

    const live = await accessToken()
    emulator.revokeTokens('clearid')
    const revoked = await fetch(identitiesUrl(), { headers: { authorization: `Bearer ${live}` } })
    expect(revoked.status).toBe(401)
    expect(revoked.headers.get('www-authenticate')).toMatch(/revoked/)

    const another = await accessToken()
    emulator.expireTokens('clearid')
    const forcedExpired = await fetch(identitiesUrl(), {
      headers: { authorization: `Bearer ${another}` },
    })
    expect(forcedExpired.status).toBe(401)
    expect(forcedExpired.headers.get('www-authenticate')).toMatch(/expired/)

    const counters = emulator.counters().clearid
    expect(counters.apiRejectedByReason).toEqual({
      missing: 1,
      invalid: 1,
      expired: 2,
      revoked: 1,
      forbidden: 0,
    })
    expect(counters.apiRejected).toBe(5)
    expect(counters.byGrant.client_credentials).toBe(3)
    expect(counters.tokensIssued).toBe(3)
  })

  it('refuses a token of another account with 401, counted as forbidden', async () => {
    const before = emulator.counters().clearid.apiRejectedByReason.forbidden
    const response = await fetch(identitiesUrl('00000000-0000-4000-8000-000000000000'), {
      headers: { authorization: `Bearer ${await accessToken()}` },
    })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toMatch(/error="invalid_token".*account/)
    expect(emulator.counters().clearid.apiRejectedByReason.forbidden).toBe(before + 1)
  })

  it('refuses a token signed by another STS', async () => {
    const other = await startEmulator()
    try {
      const foreign = (await (
        await postForm(`${other.urls.clearid.stsUrl}/connect/token`, {
          grant_type: 'client_credentials',
          client_id: other.demo.clearid.clientId,
          client_secret: other.demo.clearid.clientSecret,
        })
      ).json()) as { access_token: string }
      const response = await fetch(identitiesUrl(), {
        headers: { authorization: `Bearer ${foreign.access_token}` },
      })
      expect(response.status).toBe(401)
    } finally {
      await other.stop()
    }
  })
})
