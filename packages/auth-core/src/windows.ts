import type { StoredToken } from './types.ts'

/** Default mandatory window in seconds (`clockTolerance`). */
export const DEFAULT_CLOCK_TOLERANCE = 30
/** Default cap of the advisory window in seconds (`refreshWindow`). */
export const DEFAULT_REFRESH_WINDOW = 300
/**
 * A token issued to replace a rejected one and rejected again within this many ms (or a tenth of
 * its lifetime) is kept: the API refuses the credential, and renewing would not help.
 */
export const DEFAULT_REJECTION_GRACE = 10_000

/** Options of {@link renewalWindows}. */
export interface RenewalWindowOptions {
  /** Mandatory window in seconds; default 30. */
  clockTolerance?: number
  /** Cap of the advisory window in seconds; default 300. */
  refreshWindow?: number
  /** The source's `refreshWindowRatio` (e.g. ClearID's 0.5). */
  refreshWindowRatio?: number
}

/** When a token needs attention, in epoch ms on the local clock. */
export interface RenewalWindows {
  /** From here on callers wait for a new token (the token is still valid until `expiresAt`). */
  mandatoryAt: number
  /** From here on the token is renewed in the background. Always before `mandatoryAt`. */
  advisoryAt: number
}

/**
 * The two windows before a token's expiry (lifecycle rule 2). Mandatory: `clockTolerance`, at most
 * a tenth of the lifetime. Advisory: `refreshWindow`, at most a fifth of the lifetime, widened by
 * the source's ratio, and always at least twice the mandatory one so it starts first. For hosts
 * without background timers (n8n), `advisoryAt` is the moment to renew before use.
 */
export function renewalWindows(
  entry: Pick<StoredToken, 'expiresAt' | 'issuedAt'>,
  options: RenewalWindowOptions = {},
): RenewalWindows {
  if (entry.expiresAt === null) {
    return { mandatoryAt: Number.POSITIVE_INFINITY, advisoryAt: Number.POSITIVE_INFINITY }
  }
  const lifetime = Math.max(0, entry.expiresAt - entry.issuedAt)
  const tolerance = (options.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE) * 1000
  const refreshWindow = (options.refreshWindow ?? DEFAULT_REFRESH_WINDOW) * 1000
  const mandatory = Math.min(tolerance, lifetime * 0.1)
  const advisory = Math.max(
    Math.min(refreshWindow, lifetime * 0.2),
    (options.refreshWindowRatio ?? 0) * lifetime,
    mandatory * 2,
  )
  return { mandatoryAt: entry.expiresAt - mandatory, advisoryAt: entry.expiresAt - advisory }
}
