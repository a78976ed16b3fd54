import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Emulator, startEmulator } from '@tokenkeeper/emulator'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'

/** Every demo secret of the emulator: none may ever appear in the CLI's output. */
export function demoSecrets(emulator: Emulator): string[] {
  const { demo } = emulator
  return [
    demo.clearid.clientSecret,
    demo.clear.clientSecret,
    demo.akamai.clientSecret,
    demo.apiax.password,
  ]
}

/** Command-line settings that point each vendor at the emulator, with its demo credentials. */
export function vendorArgs(
  emulator: Emulator,
): Record<'clearid' | 'clear' | 'akamai' | 'apiax', string[]> {
  const { demo, urls } = emulator
  return {
    clearid: [
      '--sts-url',
      urls.clearid.stsUrl,
      '--client-id',
      demo.clearid.clientId,
      '--client-secret',
      demo.clearid.clientSecret,
    ],
    clear: ['--base-url', urls.clear.baseUrl, '--client-secret', demo.clear.clientSecret],
    akamai: [
      '--oidc-url',
      urls.akamai.oidcUrl,
      '--client-id',
      demo.akamai.clientId,
      '--client-secret',
      demo.akamai.clientSecret,
    ],
    apiax: [
      '--token-url',
      urls.apiax.tokenUrl,
      '--api-url',
      urls.apiax.apiUrl,
      '--username',
      demo.apiax.username,
      '--password',
      demo.apiax.password,
      '--api-key',
      demo.apiax.apiKey,
    ],
  }
}

/**
 * An emulator for the file's tests (started once) and a fresh temporary directory per test,
 * used as HOME and for the token cache, so no test touches the user's real cache.
 */
export function useEmulator(): {
  readonly emulator: Emulator
  readonly directory: string
  /** An environment with nothing from the real one but PATH: no real credentials leak in. */
  env(extra?: Record<string, string>): Record<string, string | undefined>
} {
  let emulator: Emulator | undefined
  let directory: string | undefined
  beforeAll(async () => {
    emulator = await startEmulator()
  })
  afterAll(async () => {
    await emulator?.stop()
  })
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'tokenkeeper-cli-test-'))
    emulator?.resetCounters()
  })
  afterEach(() => {
    if (directory) rmSync(directory, { recursive: true, force: true })
  })
  return {
    get emulator() {
      if (!emulator) throw new Error('emulator not started')
      return emulator
    },
    get directory() {
      if (!directory) throw new Error('no test directory')
      return directory
    },
    env(extra = {}) {
      return {
        PATH: process.env.PATH,
        HOME: directory,
        TOKENKEEPER_CACHE_FILE: join(directory as string, 'cache', 'tokens.cache'),
        ...extra,
      }
    },
  }
}
