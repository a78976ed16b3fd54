import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import {
  AKAMAI_IDENTITY_ENVIRONMENT,
  akamaiIdentityBaseUrl,
  createAkamaiIdentity,
  parseAkamaiIdentityOidcUrl,
} from '@tokenkeeper/akamai-identity'
import {
  APIAX_ENVIRONMENT,
  apiaxTokenError,
  createApiax,
  isLoginRefused,
  isRefreshTokenRejected,
} from '@tokenkeeper/apiax'
import {
  type AccessToken,
  assertSecureUrl,
  computeExpiry,
  createTokenClient,
  type IssuedToken,
  loadSecret,
  loadSetting,
  ManualClock,
  optionalSecret,
  optionalSetting,
  parseAbsoluteTime,
  parseJsonObject,
  parseOAuthTokenResponse,
  parseRetryAfter,
  readOAuthError,
  type TokenClient,
  TokenKeeperError,
  type TokenSource,
  type TransportResponse,
  tokenEndpointError,
  urlSetting,
} from '@tokenkeeper/auth-core'
import {
  CLEAR_ENVIRONMENT_VARIABLES,
  clearTokenEndpointError,
  createClearCfc,
  nextQuotaReset,
  normaliseValidTill,
  parseClearTokenResponse,
  readClearError,
} from '@tokenkeeper/clear-cfc'
import {
  CLEARID_ENVIRONMENT_VARIABLES,
  createClearId,
  parseClearIdKeyFile,
  resolveClearIdLocation,
} from '@tokenkeeper/clearid'
import { createRedisTokenStore } from '@tokenkeeper/store-redis'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import {
  body,
  environment,
  epochMs,
  goodTokenBody,
  headers,
  httpDate,
  isoLike,
  jwtLike,
  number,
  response,
  settings,
  successResponse,
  text,
  tokenBody,
  value,
} from './support/arbitraries.ts'
import { checkProperty, type PropertyOptions } from './support/properties.ts'

const file = import.meta.url
const START = Date.parse('2026-01-01T00:00:00Z')

/** Runs a property as a test: records the row, then fails with the shrunk counterexample. */
async function holds<T>(options: Omit<PropertyOptions<T>, 'file'>): Promise<void> {
  const { counterexample } = await checkProperty({ ...options, file })
  expect(counterexample).toBeUndefined()
}

const isValidTime = (time: unknown) =>
  typeof time === 'number' && Number.isFinite(time) && !Number.isNaN(new Date(time).getTime())

/** What every token a client hands out must satisfy, whatever the vendor answered. */
function checkToken(token: unknown, now: number): string | undefined {
  const candidate = token as AccessToken
  if (typeof candidate?.value !== 'string' || !/^[\x21-\x7e]+$/.test(candidate.value)) {
    return 'token value is not a header-safe string'
  }
  if (
    candidate.expiresAt !== null &&
    !(isValidTime(candidate.expiresAt) && candidate.expiresAt > now)
  ) {
    return `token expiresAt ${String(candidate.expiresAt)} is not a future time`
  }
  if (!isValidTime(candidate.issuedAt)) return 'token issuedAt is not a time'
  try {
    inspect(candidate)
    JSON.stringify(candidate)
  } catch (error) {
    return `printing the token throws ${(error as Error).name}`
  }
  return undefined
}

// Files the key-file setting may point at; generated paths stay inside this directory.
const directory = mkdtempSync(join(tmpdir(), 'tokenkeeper-fuzz-'))
afterAll(() => rmSync(directory, { recursive: true, force: true }))
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 })
const pem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
const jwk = keys.privateKey.export({ format: 'jwk' }) as Record<string, unknown>
writeFileSync(
  join(directory, 'key.json'),
  JSON.stringify({ clientId: '7f3e2d1c-0b9a-4c8d-8e7f-6a5b4c3d2e1f:acct', privateKey: jwk }),
)
writeFileSync(join(directory, 'garbage.json'), '{"clientId": 12, "privateKey": "-----BEGIN')
writeFileSync(join(directory, 'empty.json'), '')
mkdirSync(join(directory, 'folder'))
const keyFilePath = fc
  .oneof(
    fc.constantFrom('key.json', 'garbage.json', 'empty.json', 'folder', 'missing.json'),
    text.map((name) => name.replace(/\.\./g, '__')),
  )
  .map((name) => join(directory, name))
const privateKey = fc.oneof(
  value,
  fc.constantFrom(pem, pem.replace(/\n/g, '\\n'), pem.slice(0, 200), JSON.stringify(jwk)),
  fc.constant(jwk),
  fc.constant({ ...jwk, d: undefined }),
)

/** A client's token request: one generated answer, for every request. */
function answering(answer: TransportResponse) {
  return { transport: async () => answer }
}

/**
 * Creates a client from generated settings, asks for a token once, makes an interceptor (which
 * resolves the allowed origins), and closes it.
 */
async function tokenFrom(create: () => TokenClient): Promise<AccessToken> {
  const client = create()
  try {
    const token = await client.getToken()
    try {
      client.interceptor()
    } catch (error) {
      if (!TokenKeeperError.is(error)) throw error
    }
    return token
  } finally {
    await client.close()
  }
}

/** Generated settings: entirely random, or working settings with one field replaced. */
function vendorSettings(
  names: readonly string[],
  good: Record<string, unknown>,
  overrides: Record<string, fc.Arbitrary<unknown>>,
  environmentNames: readonly string[],
  environmentKey: string,
): fc.Arbitrary<Record<string, unknown>> {
  const replaced = fc
    .tuple(fc.constantFrom(...names), fc.oneof(value, ...Object.values(overrides)))
    .map(([name, replacement]) => ({ ...good, [name]: replacement }))
  return fc
    .tuple(
      fc.oneof(settings(names, overrides), replaced, fc.constant(good)),
      environment(environmentNames),
      // Client options stay plausible here: the core's own property covers any option value.
      fc.record(
        {
          clockTolerance: fc.integer({ min: 0, max: 600 }),
          refreshWindow: fc.integer({ min: 0, max: 3_600 }),
          defaultLifetime: fc.integer({ min: 1, max: 86_400 }),
          negativeCacheTtl: fc.integer({ min: 0, max: 600 }),
          origins: fc.array(fc.oneof(text, fc.webUrl()), { maxLength: 2 }),
        },
        { requiredKeys: [] },
      ),
    )
    .map(([base, env, options]) => ({ ...options, ...base, [environmentKey]: env }))
}

describe('bad input, generated: auth-core parsers', () => {
  it('parseOAuthTokenResponse: a parsed answer or a typed error', async () => {
    await holds({
      id: 'core/parseOAuthTokenResponse',
      title: '`parseOAuthTokenResponse` (core)',
      exercises:
        'any status, headers and body: token-shaped JSON with any field values, cut JSON, text, HTML',
      arbitrary: response,
      run: (input) => parseOAuthTokenResponse(input, 'fuzz'),
      check: (result) => {
        const parsed = result as ReturnType<typeof parseOAuthTokenResponse>
        if (typeof parsed.accessToken !== 'string' || parsed.accessToken.trim() === '')
          return 'accepted an empty access token'
        if (parsed.expiresIn !== undefined && !Number.isFinite(parsed.expiresIn))
          return `accepted expires_in ${parsed.expiresIn}`
        return undefined
      },
      numRuns: 1_000,
    })
  })

  it('parseJsonObject: an object or a typed error', async () => {
    await holds({
      id: 'core/parseJsonObject',
      title: '`parseJsonObject` (core)',
      exercises: 'any body and content type',
      arbitrary: response,
      run: (input) => parseJsonObject(input, 'fuzz'),
      check: (result) =>
        typeof result === 'object' && result !== null && !Array.isArray(result)
          ? undefined
          : 'accepted a non-object',
    })
  })

  it('computeExpiry: a future time, never, or a typed error', async () => {
    const issued: fc.Arbitrary<IssuedToken> = fc.record(
      {
        value: fc.oneof(text, jwtLike),
        expiresIn: number,
        expiresAt: fc.oneof(number, text, isoLike),
        neverExpires: fc.boolean(),
        jwt: fc.boolean(),
      },
      { requiredKeys: ['value'] },
    ) as fc.Arbitrary<IssuedToken>
    const exchange = fc
      .tuple(epochMs, fc.nat({ max: 60_000 }), fc.option(httpDate, { nil: undefined }))
      .map(([sentAt, latency, date]) => ({
        sentAt,
        receivedAt: sentAt + latency,
        ...(date === undefined ? {} : { date }),
      }))
    await holds({
      id: 'core/computeExpiry',
      title: '`computeExpiry` (core)',
      exercises:
        'any expires_in, absolute expiry (number, ISO text), JWT exp, Date header, default lifetime',
      // The default lifetime is the caller's option, not vendor input: plausible values only
      // (createTokenClient validates it), and none shorter than the exchange (its own test
      // below).
      arbitrary: fc
        .tuple(issued, exchange, fc.integer({ min: 1, max: 400 * 86_400 }))
        .filter(([, timing, lifetime]) => timing.sentAt + lifetime * 1000 > timing.receivedAt),
      run: ([token, timing, defaultLifetime]) =>
        computeExpiry(token, timing, { vendor: 'fuzz', defaultLifetime }),
      check: (result, [, timing]) =>
        result === null || (isValidTime(result) && (result as number) > timing.receivedAt)
          ? undefined
          : `returned ${String(result)}`,
      numRuns: 1_000,
    })
  })

  // Found by this suite and fixed in edbc680: the default lifetime was not checked against the
  // receipt time, so a slow exchange gave an expiry already past.
  it('computeExpiry: the default lifetime never gives a past expiry', async () => {
    await holds({
      id: 'core/computeExpiry-default',
      title: '`computeExpiry` without a stated expiry (core)',
      exercises: 'a token without expiry, an exchange longer than the default lifetime',
      arbitrary: fc
        .tuple(
          fc.oneof(text, jwtLike),
          epochMs,
          fc.integer({ min: 1, max: 600 }),
          fc.nat({ max: 60_000 }),
        )
        .map(([token, sentAt, lifetime, extra]) => ({
          token,
          sentAt,
          lifetime,
          receivedAt: sentAt + lifetime * 1000 + extra,
        })),
      run: ({ token, sentAt, lifetime, receivedAt }) =>
        computeExpiry(
          { value: token },
          { sentAt, receivedAt },
          { vendor: 'fuzz', defaultLifetime: lifetime },
        ),
      check: (result, { receivedAt }) =>
        result === null || (result as number) > receivedAt
          ? undefined
          : `returned ${String(result)}`,
      numRuns: 100,
    })
  })

  it('parseAbsoluteTime: a time or a typed error', async () => {
    await holds({
      id: 'core/parseAbsoluteTime',
      title: '`parseAbsoluteTime` (core)',
      exercises: 'any number or text: epoch seconds or ms, ISO 8601 with and without offset',
      arbitrary: fc.oneof(number, text, isoLike),
      run: (input) => parseAbsoluteTime(input as number | string, 'fuzz'),
      // Times past Date's range come back as numbers; computeExpiry refuses them as implausible.
      check: (result) =>
        typeof result === 'number' && Number.isFinite(result)
          ? undefined
          : `returned ${String(result)}`,
      numRuns: 1_000,
    })
  })

  // Found by this suite and fixed in edbc680 (capped at 7 days): a Retry-After of many digits
  // gave Infinity, and tokenEndpointError a RangeError for the 429.
  it('parseRetryAfter: nothing or a representable time', async () => {
    await holds({
      id: 'core/parseRetryAfter',
      title: '`parseRetryAfter` (core)',
      exercises: 'any Retry-After text: delay-seconds of any length, HTTP dates of any year',
      arbitrary: fc.tuple(
        fc.oneof(
          text,
          fc.nat().map(String),
          httpDate,
          fc.constantFrom('9'.repeat(400), '99999999999999'),
        ),
        epochMs,
      ),
      run: ([retryAfter, now]) => parseRetryAfter({ 'retry-after': retryAfter }, now),
      check: (result, [, now]) =>
        result === undefined || (isValidTime(result) && (result as number) >= now)
          ? undefined
          : `returned ${String(result)}`,
      numRuns: 1_000,
    })
  })

  it('readOAuthError: OAuth fields or nothing, never an exception', async () => {
    await holds({
      id: 'core/readOAuthError',
      title: '`readOAuthError` (core)',
      exercises: 'any error answer',
      arbitrary: response,
      run: (input) => readOAuthError(input),
      check: (result) => {
        const fields = result as ReturnType<typeof readOAuthError>
        for (const field of [fields.error, fields.errorDescription]) {
          if (field !== undefined && (typeof field !== 'string' || field.length > 201))
            return 'returned an unbounded field'
        }
        return undefined
      },
    })
  })

  it('tokenEndpointError: always a TokenEndpointError', async () => {
    await holds({
      id: 'core/tokenEndpointError',
      title: '`tokenEndpointError` (core)',
      exercises: 'any error answer, including 429 with any Retry-After',
      arbitrary: fc.tuple(response, epochMs, fc.boolean()),
      run: ([input, now, rateLimited]) =>
        tokenEndpointError(rateLimited ? { ...input, status: 429 } : input, {
          vendor: 'fuzz',
          now,
        }),
      check: (result) =>
        (result as { code?: string }).code?.startsWith('TOKEN_ENDPOINT_')
          ? undefined
          : 'not a TokenEndpointError',
      numRuns: 1_000,
    })
  })
})

describe('bad input, generated: auth-core settings', () => {
  it('loadSetting, optionalSetting, loadSecret, optionalSecret: a value or a ConfigurationError', async () => {
    await holds({
      id: 'core/settings',
      title: '`loadSetting`, `optionalSetting`, `loadSecret`, `optionalSecret` (core)',
      exercises: 'any value in code, any environment variable value',
      arbitrary: fc.tuple(value, environment(['FUZZ_SETTING']), fc.nat({ max: 3 })),
      run: ([setting, env, which]) => {
        const lookup = {
          value: setting as string,
          setting: 'fuzzSetting',
          env: 'FUZZ_SETTING',
          vendor: 'fuzz',
          environment: env,
        }
        return [loadSetting, optionalSetting, loadSecret, optionalSecret][which]!(lookup)
      },
    })
  })

  it('urlSetting and assertSecureUrl: a URL or a ConfigurationError', async () => {
    await holds({
      id: 'core/urls',
      title: '`urlSetting`, `assertSecureUrl` (core)',
      exercises: 'any value as a URL setting',
      arbitrary: fc.tuple(
        fc.oneof(
          value,
          fc.webUrl(),
          fc.webUrl().map((url) => url.replace('https', 'http')),
        ),
        fc.boolean(),
      ),
      run: ([url, secure]) =>
        secure ? assertSecureUrl(url as string) : urlSetting(url as string, 'url', 'fuzz'),
    })
  })

  // Found by this suite and fixed in edbc680 (options validated): `defaultLifetime: NaN` gave
  // tokens that never expired, a huge one a RangeError from inspect(token), `origins: 0` a
  // TypeError from interceptor().
  it('createTokenClient: any options give a token or a typed error', async () => {
    const source = (expiresIn: number | undefined): TokenSource => ({
      vendor: 'fuzz',
      cacheKey: () => 'fuzz',
      requestToken: async () => ({
        value: 'fuzz-token',
        ...(expiresIn === undefined ? {} : { expiresIn }),
      }),
      authHeaders: (token) => ({ authorization: `Bearer ${token.value}` }),
      origins: () => ['https://api.example.com'],
    })
    await holds({
      id: 'core/createTokenClient',
      title: '`createTokenClient` options (core)',
      exercises:
        'any value for every numeric option, backoff, lease, origins, timeout, maxResponseBytes; tokens with and without a stated lifetime',
      arbitrary: fc.tuple(
        fc.option(fc.constant(60), { nil: undefined }),
        // Each option either plausible or anything, so valid combinations are reached too.
        settings(
          [
            'clockTolerance',
            'refreshWindow',
            'defaultLifetime',
            'maxLifetime',
            'timeout',
            'maxResponseBytes',
            'negativeCacheTtl',
            'backoff',
            'lease',
            'origins',
          ],
          {
            clockTolerance: fc.oneof(fc.integer({ min: 0, max: 600 }), value),
            refreshWindow: fc.oneof(fc.integer({ min: 0, max: 3_600 }), value),
            defaultLifetime: fc.oneof(fc.integer({ min: 1, max: 86_400 }), value),
            maxLifetime: fc.oneof(fc.integer({ min: 60, max: 400 * 86_400 }), value),
            timeout: fc.oneof(fc.integer({ min: 1, max: 60_000 }), value),
            maxResponseBytes: fc.oneof(fc.integer({ min: 1, max: 1 << 20 }), value),
            negativeCacheTtl: fc.oneof(fc.integer({ min: 0, max: 600 }), value),
            backoff: fc.oneof(
              fc.record(
                {
                  initial: fc.integer({ min: 1, max: 10_000 }),
                  max: fc.integer({ min: 1, max: 60_000 }),
                },
                { requiredKeys: [] },
              ),
              value,
            ),
            lease: fc.oneof(
              fc.record(
                {
                  ttl: fc.integer({ min: 1, max: 60_000 }),
                  waitTimeout: fc.integer({ min: 0, max: 60_000 }),
                },
                { requiredKeys: [] },
              ),
              value,
            ),
            origins: fc.oneof(fc.array(fc.oneof(fc.webUrl(), text), { maxLength: 2 }), value),
          },
        ),
      ),
      run: ([expiresIn, options]) =>
        tokenFrom(() =>
          createTokenClient(source(expiresIn), { ...options, clock: new ManualClock(START) }),
        ),
      check: (token) => checkToken(token, START),
    })
  })
})

describe('bad input, generated: vendor parsers', () => {
  it('Clear: parseClearTokenResponse', async () => {
    await holds({
      id: 'clear-cfc/parseClearTokenResponse',
      title: '`parseClearTokenResponse` (clear-cfc)',
      exercises: 'any 2xx answer: access_token / access-token, valid_till of any type and date',
      arbitrary: fc.tuple(successResponse, fc.option(epochMs, { nil: undefined })),
      run: ([input, now]) => parseClearTokenResponse(input, now === undefined ? {} : { now }),
      numRuns: 1_000,
    })
  })

  it('Clear: normaliseValidTill', async () => {
    await holds({
      id: 'clear-cfc/normaliseValidTill',
      title: '`normaliseValidTill` (clear-cfc)',
      exercises: 'any text as valid_till',
      arbitrary: fc.oneof(text, isoLike),
      run: (input) => normaliseValidTill(input),
      check: (result) =>
        result === undefined || (typeof result === 'string' && !Number.isNaN(Date.parse(result)))
          ? undefined
          : `returned ${String(result)}`,
      numRuns: 1_000,
    })
  })

  it('Clear: readClearError, clearTokenEndpointError, nextQuotaReset', async () => {
    await holds({
      id: 'clear-cfc/errors',
      title: '`readClearError`, `clearTokenEndpointError`, `nextQuotaReset` (clear-cfc)',
      exercises: 'any error answer (errors[] of any shape), any Date header',
      // Retry-After values are capped by the core (parseRetryAfter above); the filter keeps the
      // nextQuotaReset known defect (below) out of this property.
      arbitrary: fc
        .tuple(response, epochMs, fc.nat({ max: 10_000 }), fc.boolean())
        .filter(([answer, sentAt, latency]) => {
          const retryAt = parseRetryAfter(answer.headers, sentAt)
          const reset = nextQuotaReset({
            sentAt,
            receivedAt: sentAt + latency,
            ...(answer.headers.date === undefined ? {} : { date: answer.headers.date }),
          })
          // Both known defects have their own tests (parseRetryAfter above, nextQuotaReset below).
          return (retryAt === undefined || isValidTime(retryAt)) && isValidTime(reset)
        }),
      run: ([answer, sentAt, latency, rateLimited]) => {
        const input = rateLimited ? { ...answer, status: 429 } : answer
        readClearError(input, ['fuzz-secret'])
        nextQuotaReset({
          sentAt,
          receivedAt: sentAt + latency,
          ...(input.headers.date === undefined ? {} : { date: input.headers.date }),
        })
        return clearTokenEndpointError(input, {
          sentAt,
          receivedAt: sentAt + latency,
          baseUrl: 'https://api-sandbox.clear.in',
          secrets: ['fuzz-secret'],
        })
      },
      check: (result) => {
        const error = result as { code?: string; retryAt?: number }
        if (!error.code?.startsWith('TOKEN_ENDPOINT_')) return 'not a TokenEndpointError'
        if (error.retryAt !== undefined && !isValidTime(error.retryAt))
          return `retryAt ${error.retryAt} is not a time`
        return undefined
      },
    })
  })

  // Fixed in 3c66e60: a Date header whose next midnight Date cannot represent is ignored.
  it('Clear: nextQuotaReset gives a time for any Date header', async () => {
    await holds({
      id: 'clear-cfc/nextQuotaReset',
      title: '`nextQuotaReset` (clear-cfc)',
      exercises: 'any Date header, including the first and last days Date can represent',
      arbitrary: fc.tuple(httpDate, epochMs, fc.nat({ max: 10_000 })),
      run: ([date, sentAt, latency]) =>
        nextQuotaReset({ sentAt, receivedAt: sentAt + latency, date }),
      check: (result) => (isValidTime(result) ? undefined : `returned ${String(result)}`),
      numRuns: 500,
    })
  })

  it('Apiax: apiaxTokenError, isLoginRefused, isRefreshTokenRejected', async () => {
    await holds({
      id: 'apiax/errors',
      title: '`apiaxTokenError`, `isLoginRefused`, `isRefreshTokenRejected` (apiax)',
      exercises: 'any Keycloak error answer, both grants',
      arbitrary: fc.tuple(
        response,
        epochMs,
        fc.constantFrom('password', 'refresh_token'),
        fc.boolean(),
      ),
      run: ([input, now, grant, assertion]) => {
        isLoginRefused(input)
        isRefreshTokenRejected(input)
        return apiaxTokenError(input, {
          grant: grant as 'password',
          now,
          clientId: 'integration-api',
          assertion,
          secrets: ['fuzz-password'],
        })
      },
      check: (result) =>
        (result as { code?: string }).code?.startsWith('TOKEN_ENDPOINT_')
          ? undefined
          : 'not a TokenEndpointError',
    })
  })

  it('Akamai: parseAkamaiIdentityOidcUrl, akamaiIdentityBaseUrl', async () => {
    await holds({
      id: 'akamai-identity/urls',
      title: '`parseAkamaiIdentityOidcUrl`, `akamaiIdentityBaseUrl` (akamai-identity)',
      exercises: 'any oidc_url or region',
      arbitrary: fc.tuple(
        // The helpers take strings (their signature); untyped values go through the factory.
        fc.oneof(
          text,
          fc.webUrl(),
          text.map((customer) => `https://v1.api.us.janrain.com/${customer}/login`),
        ),
        fc.boolean(),
      ),
      run: ([input, asRegion]) =>
        asRegion ? akamaiIdentityBaseUrl(input) : parseAkamaiIdentityOidcUrl(input),
    })
  })

  it('ClearID: parseClearIdKeyFile', async () => {
    await holds({
      id: 'clearid/parseClearIdKeyFile',
      title: '`parseClearIdKeyFile` (clearid)',
      exercises: 'any JSON text or object as the portal key file, with any field values and keys',
      arbitrary: fc.oneof(
        text,
        fc.json({ maxDepth: 2 }),
        settings(
          [
            'clientId',
            'client_id',
            'secret',
            'privateKey',
            'key',
            'jwk',
            'stsUrl',
            'accountId',
            'kty',
            'kid',
          ],
          {
            privateKey,
          },
        ),
        settings(['credentials'], {
          credentials: settings(['clientId', 'privateKey'], { privateKey }),
        }),
      ),
      run: (input) => parseClearIdKeyFile(input as string),
    })
  })

  it('ClearID: resolveClearIdLocation', async () => {
    await holds({
      id: 'clearid/resolveClearIdLocation',
      title: '`resolveClearIdLocation` (clearid)',
      exercises: 'any environment, stsUrl, apiUrl, key file and CLEARID_* variables',
      arbitrary: fc
        .tuple(
          fc.oneof(
            settings(['environment', 'stsUrl', 'apiUrl', 'keyFile', 'accountId', 'clientId'], {
              keyFile: keyFilePath,
              environment: fc.oneof(fc.constantFrom('demo', 'global', 'eu', 'DEMO'), text),
              stsUrl: fc.oneof(fc.webUrl(), text),
              apiUrl: fc.oneof(fc.webUrl(), text),
            }),
            // Mostly sensible locations, with one field of any value.
            fc
              .tuple(
                fc.constantFrom<Record<string, unknown>>(
                  { environment: 'demo' },
                  { stsUrl: 'https://sts.eu.clearid.io' },
                  { stsUrl: 'http://127.0.0.1:1', apiUrl: 'http://127.0.0.1:2' },
                ),
                fc.constantFrom('environment', 'stsUrl', 'apiUrl', 'accountId', 'clientId'),
                fc.option(fc.oneof(value, fc.webUrl()), { nil: undefined }),
              )
              .map(([base, name, replacement]) =>
                replacement === undefined ? base : { ...base, [name]: replacement },
              ),
          ),
          environment(Object.values(CLEARID_ENVIRONMENT_VARIABLES)),
        )
        .map(([fields, env]) => ({
          ...fields,
          env: {
            ...env,
            ...(env.CLEARID_KEY_FILE ? { CLEARID_KEY_FILE: join(directory, 'key.json') } : {}),
          },
        })),
      run: (input) => resolveClearIdLocation(input as never),
    })
  })
})

describe('bad input, generated: settings through the factories, then any answer', () => {
  it('createClearId', async () => {
    const names = [
      'clientId',
      'clientSecret',
      'privateKey',
      'keyFile',
      'environment',
      'stsUrl',
      'apiUrl',
      'accountId',
    ]
    await holds({
      id: 'clearid/createClearId',
      title: '`createClearId` then `getToken()` (clearid)',
      exercises: 'any settings and CLEARID_* variables, then any token endpoint answer',
      arbitrary: fc.tuple(
        vendorSettings(
          names,
          {
            clientId: '7f3e2d1c-0b9a-4c8d-8e7f-6a5b4c3d2e1f:acct',
            clientSecret: 'fuzz-secret',
            environment: 'demo',
          },
          {
            privateKey,
            keyFile: keyFilePath,
            environment: fc.constantFrom('demo', 'global', 'eu'),
          },
          Object.values(CLEARID_ENVIRONMENT_VARIABLES).filter(
            (name) => name !== 'CLEARID_KEY_FILE',
          ),
          'env',
        ),
        fc.oneof(response, successResponse),
      ),
      run: ([fields, answer]) =>
        tokenFrom(() =>
          createClearId({
            ...(fields as object),
            clock: new ManualClock(START),
            ...answering(answer),
          }),
        ),
      check: (token) => checkToken(token, START),
      numRuns: 400,
    })
  })

  it('createClearCfc', async () => {
    const names = [
      'clientSecret',
      'accessToken',
      'environment',
      'baseUrl',
      'tokenHeader',
      'headers',
    ]
    await holds({
      id: 'clear-cfc/createClearCfc',
      title: '`createClearCfc` then `getToken()` (clear-cfc)',
      exercises:
        'any settings (static headers of any names and values) and CLEAR_* variables, then any answer',
      arbitrary: fc.tuple(
        vendorSettings(
          names,
          { clientSecret: 'fuzz-secret', environment: 'india-sandbox' },
          {
            headers: fc.dictionary(text, value, { maxKeys: 3 }),
            environment: fc.constantFrom(
              'india-sandbox',
              'india-production',
              'eu',
              'malaysia-sandbox',
            ),
          },
          Object.values(CLEAR_ENVIRONMENT_VARIABLES),
          'env',
        ),
        fc.oneof(response, successResponse),
      ),
      run: ([fields, answer]) =>
        tokenFrom(() =>
          createClearCfc({
            ...(fields as object),
            clock: new ManualClock(START),
            ...answering(answer),
          }),
        ),
      check: (token) => checkToken(token, START),
      numRuns: 400,
    })
  })

  it('createAkamaiIdentity', async () => {
    const names = [
      'customerId',
      'clientId',
      'clientSecret',
      'scope',
      'region',
      'baseUrl',
      'oidcUrl',
    ]
    await holds({
      id: 'akamai-identity/createAkamaiIdentity',
      title: '`createAkamaiIdentity` then `getToken()` (akamai-identity)',
      exercises: 'any settings and AKAMAI_IDENTITY_* variables, then any answer',
      arbitrary: fc.tuple(
        vendorSettings(
          names,
          {
            oidcUrl: 'https://v1.api.us.janrain.com/a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d/login',
            clientId: 'fuzz-client',
            clientSecret: 'fuzz-secret',
          },
          {
            scope: fc.oneof(fc.array(text, { maxLength: 3 }), text),
            region: fc.constantFrom('us', 'eu', 'jp', 'ca'),
          },
          Object.values(AKAMAI_IDENTITY_ENVIRONMENT),
          'env',
        ),
        fc.oneof(response, successResponse),
      ),
      run: ([fields, answer]) =>
        tokenFrom(() =>
          createAkamaiIdentity({
            ...(fields as object),
            clock: new ManualClock(START),
            ...answering(answer),
          }),
        ),
      check: (token) => checkToken(token, START),
      numRuns: 400,
    })
  })

  it('createApiax', async () => {
    const names = [
      'username',
      'password',
      'apiKey',
      'clientId',
      'tokenUrl',
      'apiUrl',
      'clientAssertion',
      'refreshTokenMaxAge',
    ]
    await holds({
      id: 'apiax/createApiax',
      title: '`createApiax` then `getToken()` (apiax)',
      exercises:
        'any settings (client assertion keys of any shape) and APIAX_* variables, then any answer',
      arbitrary: fc.tuple(
        vendorSettings(
          names,
          { username: 'fuzz-user', password: 'fuzz-password', apiKey: 'fuzz-api-key' },
          {
            clientAssertion: fc.oneof(
              value,
              settings(['privateKey', 'clientId', 'keyId'], { privateKey }),
            ),
          },
          Object.values(APIAX_ENVIRONMENT),
          'env',
        ),
        fc.oneof(response, successResponse),
      ),
      run: ([fields, answer]) =>
        tokenFrom(() =>
          createApiax({
            ...(fields as object),
            clock: new ManualClock(START),
            ...answering(answer),
          }),
        ),
      check: (token) => checkToken(token, START),
      numRuns: 400,
    })
  })

  // Fixed in 4cb9540: a decryptionKeys that is not a list is a ConfigurationError.
  it('createRedisTokenStore: decryptionKeys of any shape', async () => {
    await holds({
      id: 'store-redis/decryptionKeys',
      title: '`createRedisTokenStore` decryptionKeys (store-redis)',
      exercises: 'an encryption key, then decryptionKeys of any value',
      arbitrary: value,
      run: async (decryptionKeys) => {
        const store = createRedisTokenStore({
          url: 'redis://127.0.0.1:1',
          encryptionKey: Buffer.alloc(32, 7).toString('base64'),
          decryptionKeys: decryptionKeys as never,
          env: {},
        })
        await store.close?.()
        return store
      },
      numRuns: 100,
    })
  })

  it('createRedisTokenStore', async () => {
    await holds({
      id: 'store-redis/createRedisTokenStore',
      title: '`createRedisTokenStore` options (store-redis)',
      exercises:
        'any url (loopback only), key prefix, encryption keys, durations, fallback; never connects',
      arbitrary: fc.tuple(
        settings(
          [
            'url',
            'keyPrefix',
            'encryptionKey',
            'decryptionKeys',
            'memoryTtl',
            'maxLocalEntries',
            'connectTimeout',
            'commandTimeout',
            'leasePollInterval',
            'fallback',
          ],
          {
            url: fc.oneof(
              fc.constantFrom(
                'redis://127.0.0.1:1',
                'rediss://localhost:1/0',
                'redis://:fuzz@127.0.0.1:1',
              ),
              text.map((tail) => `redis://127.0.0.1:1/${tail}`),
              text,
            ),
            encryptionKey: fc.oneof(
              value,
              fc.constantFrom(Buffer.alloc(32).toString('base64'), 'a'.repeat(64)),
            ),
            fallback: fc.oneof(fc.constantFrom('error', 'memory'), value),
            // A decryptionKeys that is not a list is the known defect below.
            decryptionKeys: fc.array(
              fc.oneof(value, fc.constant(Buffer.alloc(32, 7).toString('base64'))),
              { maxLength: 2 },
            ),
            keyPrefix: fc.oneof(fc.string({ maxLength: 20 }), value),
            memoryTtl: fc.oneof(fc.integer({ min: 0, max: 60_000 }), value),
            maxLocalEntries: fc.oneof(fc.integer({ min: 1, max: 10_000 }), value),
            connectTimeout: fc.oneof(fc.integer({ min: 1, max: 60_000 }), value),
            commandTimeout: fc.oneof(fc.integer({ min: 1, max: 60_000 }), value),
            leasePollInterval: fc.oneof(fc.integer({ min: 1, max: 10_000 }), value),
          },
        ),
        environment(['TOKENKEEPER_REDIS_URL', 'TOKENKEEPER_REDIS_ENCRYPTION_KEY']).map((env) => ({
          ...env,
          // Only loopback addresses: a generated host must never be looked up.
          ...(env.TOKENKEEPER_REDIS_URL ? { TOKENKEEPER_REDIS_URL: 'redis://127.0.0.1:1' } : {}),
        })),
        fc.boolean(),
      ),
      run: async ([options, env, sensible]) => {
        const base = sensible ? { url: 'redis://127.0.0.1:1' } : {}
        const store = createRedisTokenStore({ ...base, ...(options as object), env })
        await store.close?.()
        return store
      },
    })
  })
})

// Keep the imports honest: these arbitraries are used above through `response`.
void [body, goodTokenBody, headers, tokenBody]
