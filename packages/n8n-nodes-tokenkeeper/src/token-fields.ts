import {
  renewalWindows,
  type StoredToken,
  type TokenSource,
  type TokenState,
} from '@tokenkeeper/auth-core'
import type { ICredentialDataDecryptedObject, IDataObject, INodeProperties } from 'n8n-workflow'

/**
 * Names of the hidden fields in which a credential keeps its token between executions. n8n
 * persists (encrypted) whatever `preAuthentication` returns, so these survive restarts.
 */
export const TOKEN_FIELDS = {
  /**
   * The expirable field n8n watches: `preAuthentication` runs when it reads `''`. It holds an
   * expression that reads `'valid'` until the renewal time and `''` after it.
   */
  status: 'tokenStatus',
  /** The access token (a secret). */
  accessToken: 'tokenValue',
  /** Its scheme, e.g. `Bearer`. */
  type: 'tokenType',
  /** Local epoch ms after which the token must not be used, or `never`. */
  expiresAt: 'tokenExpiresAt',
  /** Local epoch ms of the token request. */
  issuedAt: 'tokenIssuedAt',
  /** Local epoch ms from which the token is renewed before use, or `never`. */
  renewAt: 'tokenRenewAt',
  /** Vendor state as JSON, e.g. Apiax's refresh token (a secret). */
  state: 'tokenState',
  /** Local epoch ms until which the state is useful, or `''`. */
  stateExpiresAt: 'tokenStateExpiresAt',
  /** Hash of the non-secret identity the token was issued for (vendor, host, client). */
  identity: 'tokenIdentity',
  /** `true` when the token replaced one that was (taken as) rejected. */
  afterRejection: 'tokenAfterRejection',
} as const

/** Value of {@link TOKEN_FIELDS.status} while the stored token may be used. */
export const STATUS_VALID = 'valid'

const NEVER = 'never'

/**
 * The hidden properties every credential type of this package declares. The expirable one comes
 * first: n8n uses the first hidden property with `expirable: true`.
 */
export function tokenProperties(): INodeProperties[] {
  const hidden = (name: string, kind?: 'expirable' | 'secret'): INodeProperties => ({
    displayName: name,
    name,
    type: 'hidden',
    default: '',
    ...(kind === 'expirable' ? { typeOptions: { expirable: true } } : {}),
    // Secret fields are redacted whenever n8n sends a credential to the browser.
    ...(kind === 'secret' ? { typeOptions: { password: true } } : {}),
  })
  return [
    hidden(TOKEN_FIELDS.status, 'expirable'),
    hidden(TOKEN_FIELDS.accessToken, 'secret'),
    hidden(TOKEN_FIELDS.type),
    hidden(TOKEN_FIELDS.expiresAt),
    hidden(TOKEN_FIELDS.issuedAt),
    hidden(TOKEN_FIELDS.renewAt),
    hidden(TOKEN_FIELDS.state, 'secret'),
    hidden(TOKEN_FIELDS.stateExpiresAt),
    hidden(TOKEN_FIELDS.identity),
    hidden(TOKEN_FIELDS.afterRejection),
  ]
}

/**
 * When a token should be replaced before use, in local epoch ms (`null`: never). The same
 * windows as the core's client, except that n8n cannot renew in the background, so renewal
 * happens on the first use after this time:
 *
 * - mandatory window: 30 s, at most a tenth of the lifetime;
 * - advisory window: 5 minutes, at most a fifth of the lifetime, widened by the source's
 *   `refreshWindowRatio` (ClearID renews at half-life), at least twice the mandatory one.
 *
 * Sources that revoke on reissue (Clear) renew only at the mandatory window: every early
 * renewal would revoke a token that other workers may still be using.
 */
export function renewalTime(
  entry: Pick<StoredToken, 'expiresAt' | 'issuedAt'>,
  source: Pick<TokenSource, 'reissueRevokesPrevious' | 'refreshWindowRatio'>,
): number | null {
  if (entry.expiresAt === null) return null
  const windows = renewalWindows(
    entry,
    source.refreshWindowRatio !== undefined
      ? { refreshWindowRatio: source.refreshWindowRatio }
      : {},
  )
  return Math.floor(source.reissueRevokesPrevious ? windows.mandatoryAt : windows.advisoryAt)
}

/**
 * The n8n expression stored in the expirable field: `'valid'` until `renewAt`, `''` afterwards,
 * so n8n itself calls `preAuthentication` before the first request past the renewal time.
 */
export function statusExpression(renewAt: number | null): string {
  if (renewAt === null) return STATUS_VALID
  return `={{ Date.now() < ${Math.floor(renewAt)} ? '${STATUS_VALID}' : '' }}`
}

/** The hidden fields for a token, as `preAuthentication` returns them for n8n to persist. */
export function tokenOutput(
  entry: StoredToken,
  identity: string,
  renewAt: number | null,
  afterRejection = false,
): IDataObject {
  return {
    [TOKEN_FIELDS.status]: statusExpression(renewAt),
    [TOKEN_FIELDS.accessToken]: entry.value,
    [TOKEN_FIELDS.type]: entry.type,
    [TOKEN_FIELDS.expiresAt]: entry.expiresAt ?? NEVER,
    [TOKEN_FIELDS.issuedAt]: entry.issuedAt,
    [TOKEN_FIELDS.renewAt]: renewAt ?? NEVER,
    [TOKEN_FIELDS.state]: entry.state ? JSON.stringify(entry.state) : '',
    [TOKEN_FIELDS.stateExpiresAt]: entry.stateExpiresAt ?? '',
    [TOKEN_FIELDS.identity]: identity,
    [TOKEN_FIELDS.afterRejection]: afterRejection ? 'true' : '',
  }
}

/** True when the credential's token replaced one that was (taken as) rejected. */
export function replacedRejectedToken(credentials: ICredentialDataDecryptedObject): boolean {
  const value = credentials[TOKEN_FIELDS.afterRejection]
  return value === true || value === 'true'
}

/**
 * The token a credential holds, if it was issued for `identity` (settings edited since then
 * make it foreign: it is neither used nor sent). Unreadable expiry counts as expired.
 */
export function readStoredToken(
  credentials: ICredentialDataDecryptedObject,
  identity: string,
): StoredToken | undefined {
  const value = credentials[TOKEN_FIELDS.accessToken]
  if (typeof value !== 'string' || value.length === 0) return undefined
  if (credentials[TOKEN_FIELDS.identity] !== identity) return undefined
  const type = credentials[TOKEN_FIELDS.type]
  const state = readState(credentials[TOKEN_FIELDS.state])
  const stateExpiresAt = readTime(credentials[TOKEN_FIELDS.stateExpiresAt])
  return {
    value,
    type: typeof type === 'string' && type.length > 0 ? type : 'Bearer',
    expiresAt:
      credentials[TOKEN_FIELDS.expiresAt] === NEVER
        ? null
        : (readTime(credentials[TOKEN_FIELDS.expiresAt]) ?? 0),
    issuedAt: readTime(credentials[TOKEN_FIELDS.issuedAt]) ?? 0,
    ...(state ? { state } : {}),
    ...(state && stateExpiresAt !== undefined ? { stateExpiresAt } : {}),
  }
}

/** True when the expirable field says the stored token is still within its renewal time. */
export function statusIsValid(credentials: ICredentialDataDecryptedObject): boolean {
  const status = credentials[TOKEN_FIELDS.status]
  return status !== undefined && status !== null && status !== ''
}

function readTime(value: unknown): number | undefined {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  return typeof number === 'number' && Number.isFinite(number) && number >= 0 ? number : undefined
}

function readState(value: unknown): TokenState | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined
  try {
    const parsed: unknown = JSON.parse(value)
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return parsed as TokenState
    }
  } catch {
    // A damaged state is dropped: the source then starts over (e.g. Apiax logs in again).
  }
  return undefined
}
