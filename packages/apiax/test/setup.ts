import { readFileSync } from 'node:fs'
import {
  ManualClock,
  type StoredToken,
  type TokenClient,
  type TokenRequestContext,
  type TransportRequest,
  type TransportResponse,
} from '@tokenkeeper/auth-core'
import { createMockAgent } from '@tokenkeeper/auth-core/testing'
import type { MockAgent } from 'undici'
import { afterEach, beforeEach } from 'vitest'
import { type ApiaxSettings, createApiax } from '../src/index.ts'
import {
  API_KEY,
  CLEAN_ENVIRONMENT,
  MockKeycloak,
  PASSWORD,
  TOKEN_URL,
  USERNAME,
} from './mock-keycloak.ts'

/** Reads a vendor-shaped response from `src/__fixtures__`. */
export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(
    readFileSync(new URL(`../src/__fixtures__/${name}.json`, import.meta.url), 'utf8'),
  ) as Record<string, unknown>
}

interface Resources {
  clients: TokenClient[]
  agents: MockAgent[]
}

const resources: Resources = { clients: [], agents: [] }

/**
 * Per test: every APIAX_* variable unset (restored afterwards), and every client and agent made
 * through {@link setup} closed.
 */
export function isolate(): void {
  const saved = new Map<string, string | undefined>()
  beforeEach(() => {
    for (const name of Object.keys(CLEAN_ENVIRONMENT)) {
      saved.set(name, process.env[name])
      delete process.env[name]
    }
  })
  afterEach(async () => {
    for (const client of resources.clients.splice(0)) await client.close()
    for (const agent of resources.agents.splice(0)) await agent.close()
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })
}

/** A client against a mock Keycloak on a MockAgent, with a ManualClock. */
export function setup(
  settings: ApiaxSettings = {},
  shared?: { agent: MockAgent; keycloak: MockKeycloak; clock: ManualClock },
) {
  const agent = shared?.agent ?? createMockAgent()
  const keycloak = shared?.keycloak ?? new MockKeycloak(agent, settings.tokenUrl ?? TOKEN_URL)
  const clock = shared?.clock ?? new ManualClock()
  const client = createApiax({
    username: USERNAME,
    password: PASSWORD,
    apiKey: API_KEY,
    dispatcher: agent,
    clock,
    random: () => 0,
    ...settings,
  })
  resources.clients.push(client)
  if (!shared) resources.agents.push(agent)
  return { agent, keycloak, clock, client }
}

/** A hand-made request context for calling a source directly, with canned answers. */
export function fakeContext(
  answers: Array<TransportResponse | (() => TransportResponse)>,
  options: Partial<Pick<TokenRequestContext, 'previous' | 'reason'>> & { now?: number } = {},
): { context: TokenRequestContext; requests: TransportRequest[] } {
  const requests: TransportRequest[] = []
  const now = options.now ?? Date.parse('2026-01-01T00:00:00Z')
  const context: TokenRequestContext = {
    transport: async (request) => {
      requests.push(request)
      const answer = answers.shift()
      if (answer === undefined) throw new Error('unexpected token request')
      return typeof answer === 'function' ? answer() : answer
    },
    signal: new AbortController().signal,
    now: () => now,
    previous: options.previous,
    reason: options.reason ?? (options.previous ? 'expired' : 'initial'),
  }
  return { context, requests }
}

/** A JSON transport response. */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): TransportResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  }
}

/** A stored entry carrying Apiax refresh state. */
export function storedWithRefresh(
  refreshToken: string,
  loginAt: number,
  extra: Partial<StoredToken> = {},
): StoredToken {
  return {
    value: 'SECRET-access-old',
    type: 'Bearer',
    expiresAt: loginAt + 1_800_000,
    issuedAt: loginAt,
    state: { refreshToken, loginAt },
    stateExpiresAt: loginAt + 14 * 24 * 3600 * 1000,
    ...extra,
  }
}

export const DAY = 24 * 3600 * 1000
export const TOKEN_LIFETIME = 1_800_000
