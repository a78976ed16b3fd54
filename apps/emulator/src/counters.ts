import type { Counters, RejectionReason, Vendor, VendorCounters } from './types.ts'

/** Grant names counted individually; anything else is counted as `other`. */
const KNOWN_GRANTS = new Set([
  'client_credentials',
  'jwt-bearer',
  'password',
  'refresh_token',
  'client_secret',
  'none',
])

function base(): VendorCounters {
  return {
    tokenRequests: 0,
    tokensIssued: 0,
    tokenErrors: 0,
    byGrant: {},
    apiAccepted: 0,
    apiRejected: 0,
    apiRejectedByReason: { expired: 0, revoked: 0, invalid: 0, missing: 0, forbidden: 0 },
    faultsInjected: 0,
  }
}

function fresh(): Counters {
  return {
    clearid: { ...base(), assertionReplays: 0 },
    clear: { ...base(), quotaRejected: 0, revokedByReissue: 0 },
    akamai: base(),
    apiax: { ...base(), sessionsKilled: 0, refreshReuseRejected: 0, assertionReplays: 0 },
  }
}

/** The mutable counters shared by the servers, with snapshot and reset. */
export class CounterStore {
  #counters = fresh()

  /** The live counters of a vendor (mutate to count). */
  of<V extends Vendor>(vendor: V): Counters[V] {
    return this.#counters[vendor]
  }

  /** Counts a token request under its grant name. */
  grant(vendor: Vendor, grant: string | undefined): void {
    const name = grant === undefined || grant === '' ? 'none' : normaliseGrant(grant)
    const byGrant = this.#counters[vendor].byGrant
    byGrant[name] = (byGrant[name] ?? 0) + 1
  }

  /** Counts an API refusal. */
  reject(vendor: Vendor, reason: RejectionReason): void {
    const counters = this.#counters[vendor]
    counters.apiRejected += 1
    counters.apiRejectedByReason[reason] += 1
  }

  snapshot(): Counters {
    return structuredClone(this.#counters)
  }

  reset(): void {
    this.#counters = fresh()
  }
}

function normaliseGrant(grant: string): string {
  const short = grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer' ? 'jwt-bearer' : grant
  return KNOWN_GRANTS.has(short) ? short : 'other'
}
