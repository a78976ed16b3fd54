import { ManualClock } from '@tokenkeeper/auth-core'
import { type Emulator, startEmulator } from '@tokenkeeper/emulator'
import type { ICredentialDataDecryptedObject, IDataObject, IHttpRequestOptions } from 'n8n-workflow'
import {
  type CredentialVendor,
  preAuthenticate,
  resetCredentialState,
} from '../src/credential-lifecycle.ts'
import type { HttpRequestFunction } from '../src/transport.ts'

/** A request as the fake helper saw it (headers lower-cased). */
export interface SeenRequest {
  url: string
  method: string
  headers: Record<string, string>
  body: string | undefined
}

/**
 * A stand-in for n8n's `this.helpers.httpRequest` over real HTTP (global fetch) that honours
 * the options the package uses: `qs`, `returnFullResponse`, `ignoreHttpStatusErrors`, `json`,
 * text bodies, no redirects. Records every request.
 */
export function fakeHttpRequest(): HttpRequestFunction & { seen: SeenRequest[] } {
  const seen: SeenRequest[] = []
  const httpRequest = async (options: IHttpRequestOptions): Promise<unknown> => {
    const url = new URL(options.url, options.baseURL)
    for (const [name, value] of Object.entries(options.qs ?? {})) {
      url.searchParams.set(name, String(value))
    }
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      headers[name.toLowerCase()] = String(value)
    }
    let body: string | undefined
    if (typeof options.body === 'string') body = options.body
    else if (options.body !== undefined && options.body !== null) {
      body = JSON.stringify(options.body)
      headers['content-type'] ??= 'application/json'
    }
    const method = options.method ?? 'GET'
    seen.push({ url: url.href, method, headers, body })
    const response = await fetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      redirect: 'manual',
    })
    const text = await response.text()
    if (!options.ignoreHttpStatusErrors && (response.status < 200 || response.status > 299)) {
      const error = new Error(`Request failed with status code ${response.status}`)
      Object.assign(error, { response: { status: response.status } })
      throw error
    }
    const parsed = options.json ? safeJson(text) : text
    if (!options.returnFullResponse) return parsed
    return {
      statusCode: response.status,
      headers: Object.fromEntries(response.headers.entries()),
      body: parsed,
    }
  }
  return Object.assign(httpRequest, { seen })
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** An emulator on loopback and a manual clock shared by it and the credential lifecycle. */
export async function setup(): Promise<{ emulator: Emulator; clock: ManualClock }> {
  const clock = new ManualClock(Date.parse('2026-03-02T10:00:00Z'))
  resetCredentialState(clock)
  const emulator = await startEmulator({ now: () => clock.now() })
  return { emulator, clock }
}

/**
 * What n8n does around `preAuthentication`: merges the output into the credential (and would
 * persist it) and evaluates the expirable field's expression on the next load.
 */
export function merge(
  credentials: ICredentialDataDecryptedObject,
  output: IDataObject,
): ICredentialDataDecryptedObject {
  return { ...credentials, ...output } as ICredentialDataDecryptedObject
}

/** Evaluates our expirable-field expression as n8n would, at `now`. */
export function evaluateStatus(value: unknown, now: number): string {
  if (typeof value !== 'string') return ''
  const match = /^=\{\{ Date\.now\(\) < (\d+) \? 'valid' : '' \}\}$/.exec(value)
  if (!match) return value
  return now < Number(match[1]) ? 'valid' : ''
}

/** A credential as n8n hands it to `preAuthentication` on load at `now`. */
export function loaded(
  credentials: ICredentialDataDecryptedObject,
  now: number,
): ICredentialDataDecryptedObject {
  return { ...credentials, tokenStatus: evaluateStatus(credentials.tokenStatus, now) }
}

/** Runs `preAuthentication` like n8n: returns the merged credential. */
export async function run<Settings extends object>(
  vendor: CredentialVendor<Settings>,
  httpRequest: HttpRequestFunction,
  credentials: ICredentialDataDecryptedObject,
  now: number,
): Promise<{ output: IDataObject; credentials: ICredentialDataDecryptedObject }> {
  const output = await preAuthenticate(vendor, httpRequest, loaded(credentials, now))
  return { output, credentials: merge(credentials, output) }
}
