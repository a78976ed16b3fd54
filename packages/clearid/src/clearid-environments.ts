import { ConfigurationError } from '@tokenkeeper/auth-core'

/** Vendor id used in messages, events and cache keys. */
export const VENDOR = 'clearid'

/**
 * A ClearID environment: `demo` (the sandbox), `global` (production) or `eu` (production in the
 * EU). Credentials work only in the environment where the API integration was created.
 */
export type ClearIdEnvironment = 'demo' | 'global' | 'eu'

/** Host suffix of every service per environment: `<service><suffix>`. */
const HOST_SUFFIX: Record<ClearIdEnvironment, string> = {
  demo: '-demo.clearid.io',
  global: '.clearid.io',
  eu: '.eu.clearid.io',
}

/** The environments, for validation and documentation. */
export const CLEARID_ENVIRONMENTS: readonly ClearIdEnvironment[] = ['demo', 'global', 'eu']

/** The environment used when none is configured. */
export const CLEARID_DEFAULT_ENVIRONMENT: ClearIdEnvironment = 'global'

/**
 * ClearID API services that accept the STS's tokens (each serves Swagger at `/swagger/`). Their
 * hosts in the chosen environment are the default origins that may receive the token.
 */
export const CLEARID_SERVICES = [
  'identityservice',
  'searchservice',
  'locationservice',
  'siteservice',
  'roleservice',
  'principalservice',
] as const

/** A DNS label: the service name becomes part of a host name, so nothing else may get in. */
const SERVICE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

/**
 * The base URL of a ClearID service in an environment, e.g.
 * `clearIdServiceUrl('siteservice', 'eu')` → `https://siteservice.eu.clearid.io`.
 *
 * @param service - The service name, e.g. `identityservice` or `sts`.
 * @param environment - Default `global`.
 */
export function clearIdServiceUrl(
  service: string,
  environment: ClearIdEnvironment = CLEARID_DEFAULT_ENVIRONMENT,
): string {
  const name = typeof service === 'string' ? service.trim().toLowerCase() : ''
  if (!SERVICE.test(name)) {
    throw new ConfigurationError(
      `${VENDOR}: service must be a ClearID service name such as identityservice, got ${JSON.stringify(service)}`,
      { setting: 'service' },
    )
  }
  return `https://${name}${HOST_SUFFIX[parseClearIdEnvironment(environment, 'environment')]}`
}

/** The STS base URL of an environment, e.g. `https://sts-demo.clearid.io`. */
export function clearIdStsUrl(environment: ClearIdEnvironment = CLEARID_DEFAULT_ENVIRONMENT) {
  return clearIdServiceUrl('sts', environment)
}

/** The origins of every known API service of an environment. */
export function clearIdServiceOrigins(environment: ClearIdEnvironment): string[] {
  return CLEARID_SERVICES.map((service) => clearIdServiceUrl(service, environment))
}

/**
 * Reads an environment name, case-insensitively. `label` names where it came from (an option or
 * an environment variable) for the error message.
 */
export function parseClearIdEnvironment(value: unknown, label: string): ClearIdEnvironment {
  if (typeof value === 'string') {
    const name = value.trim().toLowerCase()
    if ((CLEARID_ENVIRONMENTS as readonly string[]).includes(name)) {
      return name as ClearIdEnvironment
    }
    if (name.includes('://')) {
      throw new ConfigurationError(
        `${VENDOR}: ${label} must be demo, global or eu; pass a URL as stsUrl (or apiUrl)`,
        { setting: 'environment' },
      )
    }
  }
  throw new ConfigurationError(
    `${VENDOR}: ${label} must be demo, global or eu, got ${typeof value === 'string' ? JSON.stringify(value) : typeof value}`,
    { setting: 'environment' },
  )
}

/** The environment whose STS or service host this is, if it is one of ClearID's own hosts. */
export function environmentOfHost(hostname: string): ClearIdEnvironment | undefined {
  const host = hostname.toLowerCase()
  // Most specific suffix first: `.eu.clearid.io` also ends with `.clearid.io`.
  for (const environment of ['eu', 'demo', 'global'] as const) {
    const suffix = HOST_SUFFIX[environment]
    if (host.endsWith(suffix) && SERVICE.test(host.slice(0, -suffix.length))) return environment
  }
  return undefined
}
