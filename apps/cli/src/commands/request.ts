import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { EXIT_CODES, UsageError } from '../errors.ts'
import type { ResolvedIo } from '../io.ts'
import type { VendorSpec } from '../vendors.ts'
import { openVendorClient, type VendorCommandOptions } from './vendor-client.ts'

/** RFC 9110 token characters: what a method or header name may contain. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * `tokenkeeper request <vendor> <url>`: an authenticated request through the vendor client's
 * `fetch` (token attached, renewed and retried once if the API rejects it). Like curl: the
 * response body goes to standard output (`-i` adds the status line and headers first), and an
 * HTTP error status (400 or above) is reported on standard error with exit code 3.
 *
 * `<url>` is absolute, or a path (`/api/...`) of the vendor's API.
 */
export async function requestCommand(
  spec: VendorSpec,
  target: string,
  options: VendorCommandOptions,
): Promise<number> {
  const { io, flags } = options
  const data = typeof flags.data === 'string' ? flags.data : undefined
  const method = (typeof flags.request === 'string' ? flags.request : data ? 'POST' : 'GET')
    .trim()
    .toUpperCase()
  if (!TOKEN.test(method)) throw new UsageError(`-X ${method} is not an HTTP method`)
  const headers = parseHeaders(flags.header)
  const body = data === undefined ? undefined : await readBody(data, io)
  if (body !== undefined && !headers.has('content-type')) {
    headers.set(
      'content-type',
      looksLikeJson(body) ? 'application/json' : 'application/x-www-form-urlencoded',
    )
  }
  const extraOrigins = Array.isArray(flags.origin) ? (flags.origin as string[]) : []
  const opened = openVendorClient(spec, options, (vendor) =>
    // `origins` replaces the source's list: keep the vendor's own API origins allowed too.
    extraOrigins.length > 0
      ? { origins: [...(vendor.source.origins?.() ?? []), ...extraOrigins] }
      : {},
  )
  try {
    const url = resolveTarget(target, opened.vendor.apiUrl)
    const response = await opened.client.fetch(url, {
      method,
      headers: Object.fromEntries(headers),
      ...(body !== undefined ? { body } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
    })
    if (flags.include === true) {
      let head = `HTTP ${response.status} ${response.statusText}\n`
      for (const [name, value] of response.headers) head += `${name}: ${value}\n`
      io.stdout.write(`${head}\n`)
    }
    const content = new Uint8Array(await response.arrayBuffer())
    if (content.length > 0) io.stdout.write(content)
    const where = new URL(url)
    const described = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''} from ${where.origin}${where.pathname}`
    if (response.status >= 400) {
      io.stderr.write(`tokenkeeper: ${described}\n`)
      return EXIT_CODES.httpError
    }
    if (response.status >= 300) {
      io.stderr.write(
        `tokenkeeper: ${described}; redirects are not followed (the token must not travel to another host)\n`,
      )
    }
    return EXIT_CODES.ok
  } finally {
    await opened.close()
  }
}

/** An absolute http(s) URL, or a path resolved against the vendor's API base URL. */
function resolveTarget(target: string, apiUrl: (path: string) => string): string {
  if (target.startsWith('/')) return apiUrl(target)
  let url: URL
  try {
    url = new URL(target)
  } catch {
    throw new UsageError(
      `${target} is neither an absolute URL nor a path of the vendor's API (starting with /)`,
    )
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(`Only http:// and https:// URLs can be requested, not ${url.protocol}`)
  }
  return url.href
}

/** `-H 'Name: value'` flags as Headers; refuses malformed ones. */
function parseHeaders(values: unknown): Headers {
  const headers = new Headers()
  for (const raw of Array.isArray(values) ? (values as string[]) : []) {
    const colon = raw.indexOf(':')
    const name = colon === -1 ? raw.trim() : raw.slice(0, colon).trim()
    if (colon === -1 || !TOKEN.test(name)) {
      throw new UsageError(`-H needs "Name: value", got a header without a valid name`)
    }
    const value = raw.slice(colon + 1).trim()
    if (/[\r\n\0]/.test(value)) throw new UsageError(`-H ${name}: the value contains a line break`)
    headers.append(name, value)
  }
  return headers
}

/** `-d` as curl reads it: `@file` from a file, `@-` from standard input, otherwise as is. */
async function readBody(data: string, io: ResolvedIo): Promise<string> {
  if (!data.startsWith('@')) return data
  const name = data.slice(1)
  if (name === '-') {
    const chunks: Buffer[] = []
    for await (const chunk of io.stdin) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk))
    }
    return Buffer.concat(chunks).toString('utf8')
  }
  const path = resolve(io.cwd, name)
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new UsageError(
      `Cannot read -d @${name} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    )
  }
}

function looksLikeJson(body: string): boolean {
  const trimmed = body.trim()
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return false
  try {
    JSON.parse(trimmed)
    return true
  } catch {
    return false
  }
}
