// Shared by the tests only (excluded from the published files). The generic mocks come from
// `@tokenkeeper/auth-core/testing`; what is here is ClearID's own.
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { readFileSync } from 'node:fs'
import { TOKEN_CHANNELS, type TokenEvent } from '@tokenkeeper/auth-core'
import {
  type MockAnswer,
  type MockEndpoint,
  mockTokenEndpoint,
  type RecordedRequest,
} from '@tokenkeeper/auth-core/testing'
import type { MockAgent } from 'undici'
import { afterEach, beforeEach } from 'vitest'

/** A client id of the documented form `<guid>:<accountId>`. */
export const CLIENT_ID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301:acme-account'
export const ACCOUNT_ID = 'acme-account'
/** Recognisable, and full of characters that form encoding must escape. */
export const CLIENT_SECRET = 'SECRET-sentinel-123+/=='
export const STS = 'https://sts.clearid.io'
export const DEMO_STS = 'https://sts-demo.clearid.io'
export const EU_STS = 'https://sts.eu.clearid.io'
export const IDENTITY_API = 'https://identityservice.clearid.io'
/** Where ManualClock starts: 2026-01-01T00:00:00Z. */
export const START = Date.parse('2026-01-01T00:00:00Z')

export function fixture(name: string): string {
  return readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8')
}

/** An RSA key pair in every format a user may hold it in. */
export interface TestKeys {
  privateKey: KeyObject
  publicKey: KeyObject
  pkcs8: string
  pkcs1: string
  jwk: Record<string, unknown>
}

let cachedKeys: TestKeys | undefined

/** One 2048-bit key pair per test file (generation takes a moment). */
export function testKeys(): TestKeys {
  if (!cachedKeys) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    cachedKeys = {
      privateKey,
      publicKey,
      pkcs8: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      pkcs1: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      jwk: privateKey.export({ format: 'jwk' }) as Record<string, unknown>,
    }
  }
  return cachedKeys
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/**
 * An access token shaped like ClearID's (an RS512 `at+jwt`); the signature is a placeholder,
 * since clients never verify it.
 */
export function accessToken(claims: { iat: number; exp?: number; jti?: string }): string {
  return [
    base64url({ alg: 'RS512', kid: 'sts-signing-key', typ: 'at+jwt' }),
    base64url({
      nbf: claims.iat,
      iat: claims.iat,
      ...(claims.exp !== undefined ? { exp: claims.exp } : {}),
      iss: STS,
      client_id: CLIENT_ID,
      sub: CLIENT_ID,
      account_id: ACCOUNT_ID,
      jti: claims.jti ?? 'token-1',
      scope: ['iams-api'],
    }),
    Buffer.from('placeholder-signature').toString('base64url'),
  ].join('.')
}

/**
 * A mock STS at `origin` answering token requests at `path` from `answer(index, request)`;
 * records every request. Like ClearID's STS, its JSON says `charset=utf-8`.
 */
export function mockSts(
  agent: MockAgent,
  answer: (index: number, request: RecordedRequest) => MockAnswer,
  options: { origin?: string; path?: string } = {},
): MockEndpoint {
  return mockTokenEndpoint(
    agent,
    { url: `${options.origin ?? STS}${options.path ?? '/connect/token'}` },
    (index, request) => {
      const result = answer(index, request)
      if (result === 'reset') return result
      return {
        ...result,
        headers: { 'content-type': 'application/json; charset=utf-8', ...result.headers },
      }
    },
  )
}

/** `{ access_token: <JWT>, expires_in }` numbered by request, issued at the clock's time. */
export function tokens(now: () => number, expiresIn = 3600, jwtLifetime = expiresIn) {
  return (index: number): MockAnswer => {
    const iat = Math.floor(now() / 1000)
    return {
      body: {
        access_token: accessToken({ iat, exp: iat + jwtLifetime, jti: `token-${index + 1}` }),
        expires_in: expiresIn,
        token_type: 'Bearer',
        scope: 'iams-all-permissions-delegated iams-api iams-roles openid',
      },
    }
  }
}

/** The `jti` of an access token made by {@link accessToken}. */
export function jtiOf(token: string): string {
  const payload = token.split('.')[1] ?? ''
  return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { jti: string }).jti
}

/** Resolves with the next event published on one of the core's token channels. */
export function nextEvent(name: keyof typeof TOKEN_CHANNELS): Promise<TokenEvent> {
  return new Promise((resolve) => {
    const channel = TOKEN_CHANNELS[name]
    const handler = (message: unknown) => {
      unsubscribe(channel, handler)
      resolve(message as TokenEvent)
    }
    subscribe(channel, handler)
  })
}

/**
 * Runs every test of the file without any `CLEARID_*` variable from the machine, and restores
 * the environment afterwards (tests set variables through `process.env`).
 */
export function isolateEnvironment(): void {
  let saved: NodeJS.ProcessEnv
  beforeEach(() => {
    saved = { ...process.env }
    for (const name of Object.keys(process.env)) {
      if (name.startsWith('CLEARID_')) delete process.env[name]
    }
  })
  afterEach(() => {
    for (const name of Object.keys(process.env)) {
      if (!(name in saved)) delete process.env[name]
    }
    Object.assign(process.env, saved)
  })
}
