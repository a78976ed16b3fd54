import type { AccessToken } from '@tokenkeeper/auth-core'
import { TokenEventLog } from '../token-events.ts'
import type { VendorSpec } from '../vendors.ts'
import { openVendorClient, type VendorCommandOptions } from './vendor-client.ts'

/** What `tokenkeeper token <vendor> --json` prints. */
export interface TokenJson {
  vendor: string
  accessToken: string
  tokenType: string
  /** ISO 8601, or `null` when the token does not expire. */
  expiresAt: string | null
  /** Whole seconds left, or `null` when the token does not expire. */
  expiresIn: number | null
  issuedAt: string
  scope?: readonly string[]
  /** A short, non-secret fingerprint of the token (for logs and comparisons). */
  tokenId: string
  /** True when the token came from the cache (no token request was made). */
  cached: boolean
}

/** `tokenkeeper token <vendor>`: prints the access token, or its metadata with `--json`. */
export async function tokenCommand(
  spec: VendorSpec,
  options: VendorCommandOptions,
): Promise<number> {
  const { io, flags } = options
  const opened = openVendorClient(spec, options)
  const events = new TokenEventLog(Date.now)
  try {
    const key = opened.vendor.source.cacheKey()
    const token = await opened.client.getToken(io.signal ? { signal: io.signal } : undefined)
    const cached = events.count(key, 'requested') === 0
    io.stdout.write(
      flags.json === true
        ? `${JSON.stringify(tokenJson(spec, token, cached), null, 2)}\n`
        : `${token.value}\n`,
    )
    return 0
  } finally {
    events.close()
    await opened.close()
  }
}

function tokenJson(spec: VendorSpec, token: AccessToken, cached: boolean): TokenJson {
  return {
    vendor: spec.id,
    accessToken: token.value,
    tokenType: token.type,
    expiresAt: token.expiresAt === null ? null : new Date(token.expiresAt).toISOString(),
    expiresIn:
      token.expiresAt === null
        ? null
        : Math.max(0, Math.floor((token.expiresAt - Date.now()) / 1000)),
    issuedAt: new Date(token.issuedAt).toISOString(),
    ...(token.scope ? { scope: token.scope } : {}),
    tokenId: token.id,
    cached,
  }
}

/** `tokenkeeper headers <vendor>`: prints the headers that present the token. */
export async function headersCommand(
  spec: VendorSpec,
  options: VendorCommandOptions,
): Promise<number> {
  const { io, flags } = options
  const opened = openVendorClient(spec, options)
  try {
    const headers = await opened.client.getAuthHeaders(
      io.signal ? { signal: io.signal } : undefined,
    )
    io.stdout.write(
      flags.json === true
        ? `${JSON.stringify(headers, null, 2)}\n`
        : Object.entries(headers)
            .map(([name, value]) => `${name}: ${value}\n`)
            .join(''),
    )
    return 0
  } finally {
    await opened.close()
  }
}
