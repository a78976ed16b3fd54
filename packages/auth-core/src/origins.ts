import { ConfigurationError } from './errors.ts'
import { isLoopbackHost } from './transport.ts'

/** The API origins a token may be sent to. Empty: any secure origin (fetch() only). */
export interface OriginPolicy {
  readonly origins: ReadonlySet<string>
  /** Whether a request to `origin` may carry the token. */
  allows(origin: string): boolean
}

/** Normalises `https://host[:port]` strings (paths are ignored) into an {@link OriginPolicy}. */
export function normaliseOrigins(origins: readonly string[]): OriginPolicy {
  const set = new Set<string>()
  for (const origin of origins) {
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      throw new ConfigurationError(`origins: ${JSON.stringify(origin)} is not an absolute URL`, {
        setting: 'origins',
      })
    }
    set.add(url.origin)
  }
  return {
    origins: set,
    allows: (origin) => set.has(origin),
  }
}

/** True when a token may travel to this URL at all: HTTPS, or plain HTTP to loopback. */
export function isSecureOrigin(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))
}
