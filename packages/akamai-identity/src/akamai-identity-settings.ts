import {
  ConfigurationError,
  isLoopbackHost,
  loadSecret,
  loadSetting,
  optionalSecret,
  optionalSetting,
  type Secret,
  type SecretInput,
  urlSetting,
} from '@tokenkeeper/auth-core'

/** Vendor id used in messages, events and cache keys. */
export const VENDOR = 'akamai-identity'

/**
 * Environment variables read when a setting is not passed in code (at the first token request,
 * never at import or factory time).
 */
export const AKAMAI_IDENTITY_ENVIRONMENT = {
  customerId: 'AKAMAI_IDENTITY_CUSTOMER_ID',
  clientId: 'AKAMAI_IDENTITY_CLIENT_ID',
  clientSecret: 'AKAMAI_IDENTITY_CLIENT_SECRET',
  scope: 'AKAMAI_IDENTITY_SCOPE',
  region: 'AKAMAI_IDENTITY_REGION',
  baseUrl: 'AKAMAI_IDENTITY_BASE_URL',
  oidcUrl: 'AKAMAI_IDENTITY_OIDC_URL',
} as const

/**
 * Scopes a configuration client can be given by its token policy. Webhooks v3 accepts only
 * `*:webhooks/**`; the Hosted Login / OIDC configuration APIs use `*:config/**`; the Custom
 * Providers API uses `*:**`.
 */
export const AKAMAI_IDENTITY_SCOPES = {
  webhooks: '*:webhooks/**',
  config: '*:config/**',
  customProviders: '*:**',
} as const

/** The scope requested when none is configured: the one Webhooks v3 accepts. */
export const AKAMAI_IDENTITY_DEFAULT_SCOPE = AKAMAI_IDENTITY_SCOPES.webhooks

/** Regions Akamai names in its documentation; others (Canada, Australia, ...) follow the pattern. */
export const AKAMAI_IDENTITY_REGIONS = ['us', 'eu', 'jp'] as const

/**
 * The settings of an Akamai Identity Cloud token source. Every one falls back to an
 * `AKAMAI_IDENTITY_*` environment variable (see {@link AKAMAI_IDENTITY_ENVIRONMENT}).
 *
 * The API location is given by exactly one of `oidcUrl`, `baseUrl` or `region` (several are
 * accepted when they agree). When any of them is passed in code, the location variables
 * (`AKAMAI_IDENTITY_OIDC_URL`, `_BASE_URL`, `_REGION`) are ignored.
 */
export interface AkamaiIdentityTokenSourceSettings {
  /**
   * The `customer_id` application setting in Console. Optional when `oidcUrl` is given (it
   * contains it). Env `AKAMAI_IDENTITY_CUSTOMER_ID`.
   */
  customerId?: string
  /** The configuration client's id (set up by Akamai). Env `AKAMAI_IDENTITY_CLIENT_ID`. */
  clientId?: string
  /** The configuration client's secret. Env `AKAMAI_IDENTITY_CLIENT_SECRET`. */
  clientSecret?: SecretInput
  /**
   * Scope to request; it must be one the client's token policy allows. Default `*:webhooks/**`
   * (Webhooks v3); `*:config/**` for the configuration APIs, `*:**` for Custom Providers.
   * Several scopes are separated by spaces or given as a list. Env `AKAMAI_IDENTITY_SCOPE`.
   */
  scope?: string | readonly string[]
  /**
   * Data centre: `us`, `eu`, `jp`, or another region name; the API host is then
   * `https://v1.api.{region}.janrain.com`. Env `AKAMAI_IDENTITY_REGION`.
   */
  region?: string
  /**
   * The API host instead of a region, e.g. `https://v1.api.eu.janrain.com` or a local emulator
   * (plain `http://` only for loopback). Env `AKAMAI_IDENTITY_BASE_URL`.
   */
  baseUrl?: string
  /**
   * The `oidc_url` application setting in Console,
   * `https://v1.api.{region}.janrain.com/{customerId}/login`: gives both the API host and the
   * customer id. Env `AKAMAI_IDENTITY_OIDC_URL`.
   */
  oidcUrl?: string
  /**
   * Where the `AKAMAI_IDENTITY_*` fallbacks are read from; default `process.env`. Pass `{}` to
   * turn the fallbacks off, e.g. where settings come from a user (n8n credentials) and must
   * never pick up the server's own variables.
   */
  env?: Readonly<Record<string, string | undefined>>
}

/** Where the APIs and the token endpoint are. */
export interface AkamaiIdentityLocation {
  /** API base URL without a trailing slash, e.g. `https://v1.api.us.janrain.com`. */
  readonly baseUrl: string
  readonly customerId: string
  /** `{baseUrl}/{customerId}`: the prefix of every customer API path. */
  readonly customerUrl: string
  /** `{baseUrl}/{customerId}/login/token`. */
  readonly tokenUrl: string
  /** Origin of the base URL: the only origin that may receive the token. */
  readonly origin: string
}

/** Everything a token request needs, resolved from code and environment. */
export interface ResolvedAkamaiIdentitySettings extends AkamaiIdentityLocation {
  readonly clientId: string
  readonly clientSecret: Secret
  /** Space-separated scope tokens, as sent. */
  readonly scope: string
  /** Stable, non-secret cache key: vendor, base URL, customer, client and scope. */
  readonly cacheKey: string
}

/** The base URL of a region: `https://v1.api.{region}.janrain.com`. */
export function akamaiIdentityBaseUrl(region: string): string {
  return `https://v1.api.${checkRegion(region, 'region')}.janrain.com`
}

// ---------------------------------------------------------------------------------------------
// Validation of single values
// ---------------------------------------------------------------------------------------------

/** One DNS label: the region becomes part of a host name, so nothing else may get in. */
const REGION = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
/** RFC 3986 unreserved characters: customer ids (UUIDs) go into URL paths unencoded. */
const CUSTOMER_ID = /^[A-Za-z0-9._~-]+$/
/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

function fail(message: string, setting: string): never {
  throw new ConfigurationError(`${VENDOR}: ${message}`, { setting })
}

function checkRegion(value: string, name: string): string {
  const region = value.trim().toLowerCase()
  if (region.includes('://') || region.includes('/')) {
    fail(`${name} must be a region name such as us, eu or jp; pass a URL as baseUrl`, 'region')
  }
  if (!REGION.test(region)) {
    fail(
      `${name} must be a region name such as us, eu or jp (letters, digits and hyphens), got ${JSON.stringify(value)}`,
      'region',
    )
  }
  return region
}

function checkCustomerId(value: string, name: string): string {
  if (!CUSTOMER_ID.test(value)) {
    fail(
      `${name} must be the customer_id from Console (letters, digits, '-', '.', '_', '~'), got ${JSON.stringify(value)}`,
      'customerId',
    )
  }
  return value
}

/** A URL that may carry the client secret: https, or plain http to loopback only. */
function checkUrl(value: string, name: string, setting: string): URL {
  const url = new URL(urlSetting(value, name, VENDOR))
  if (url.search || url.hash) fail(`${name} must not contain a query or fragment`, setting)
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new ConfigurationError(
      `${VENDOR}: ${name} must use https:// (plain http:// is allowed only for loopback addresses)`,
      { setting, code: 'INSECURE_TRANSPORT' },
    )
  }
  return url
}

function checkBaseUrl(value: string, name: string): string {
  const url = checkUrl(value, name, 'baseUrl')
  if (/\/login(\/token)?\/?$/i.test(url.pathname)) {
    fail(
      `${name} looks like the Console's oidc_url; pass it as oidcUrl (or pass only the host as baseUrl)`,
      'baseUrl',
    )
  }
  return url.href.replace(/\/+$/, '')
}

/**
 * Splits the Console's `oidc_url` (`https://v1.api.{region}.janrain.com/{customerId}/login`)
 * into base URL and customer id. A pasted discovery URL (`.../login/.well-known/openid-configuration`)
 * or token URL (`.../login/token`) is accepted too.
 */
export function parseAkamaiIdentityOidcUrl(
  value: string,
  name = 'oidcUrl',
): { baseUrl: string; customerId: string } {
  const url = checkUrl(value, name, 'oidcUrl')
  const segments = url.pathname.split('/').filter((segment) => segment.length > 0)
  const tail = segments.slice(-2).join('/').toLowerCase()
  if (tail === '.well-known/openid-configuration') segments.splice(-2)
  else if (tail === 'login/token') segments.pop()
  const login = segments.pop()
  const customerId = segments.pop()
  if (login?.toLowerCase() !== 'login' || customerId === undefined) {
    fail(
      `${name} must look like https://v1.api.{region}.janrain.com/{customerId}/login (the oidc_url setting in Console)`,
      'oidcUrl',
    )
  }
  const prefix = segments.length > 0 ? `/${segments.join('/')}` : ''
  return { baseUrl: `${url.origin}${prefix}`, customerId: checkCustomerId(customerId, name) }
}

/** Splits a scope setting into RFC 6749 scope tokens and joins them with single spaces. */
function checkScope(value: unknown, name: string): string {
  let tokens: string[]
  if (typeof value === 'string') tokens = value.split(/\s+/)
  else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
    tokens = value.flatMap((item: string) => item.split(/\s+/))
  } else fail(`${name} must be a string or a list of strings`, 'scope')
  tokens = tokens.filter((token) => token.length > 0)
  if (tokens.length === 0) fail(`${name} is empty`, 'scope')
  for (const token of tokens) {
    if (!SCOPE_TOKEN.test(token)) {
      fail(
        `${name} contains ${JSON.stringify(token)}, which is not a valid scope (printable ASCII without quotes or backslashes)`,
        'scope',
      )
    }
  }
  return tokens.join(' ')
}

// ---------------------------------------------------------------------------------------------
// Resolution: code values win; the environment fills the gaps, read on first use
// ---------------------------------------------------------------------------------------------

/** A value and the name it came from (an option or an environment variable), for messages. */
interface Named {
  readonly value: string
  readonly from: string
}

/** One source of location settings (code or environment), checked for internal consistency. */
interface LocationLayer {
  readonly baseUrl?: Named
  readonly customerId?: Named
}

interface LocationInput {
  oidcUrl?: string | undefined
  baseUrl?: string | undefined
  region?: string | undefined
  customerId?: string | undefined
}

type LocationNames = Record<keyof LocationInput, string>

const CODE_NAMES: LocationNames = {
  oidcUrl: 'oidcUrl',
  baseUrl: 'baseUrl',
  region: 'region',
  customerId: 'customerId',
}

const ENV_NAMES: LocationNames = {
  oidcUrl: AKAMAI_IDENTITY_ENVIRONMENT.oidcUrl,
  baseUrl: AKAMAI_IDENTITY_ENVIRONMENT.baseUrl,
  region: AKAMAI_IDENTITY_ENVIRONMENT.region,
  customerId: AKAMAI_IDENTITY_ENVIRONMENT.customerId,
}

/** Agreeing values collapse into one; disagreeing ones are a configuration error. */
function agree(candidates: Named[], what: string, setting: string): Named | undefined {
  const [first, ...rest] = candidates
  for (const other of rest) {
    if (first && other.value !== first.value) {
      fail(
        `${first.from} and ${other.from} give different ${what} (${first.value} and ${other.value}); pass only one, or make them agree`,
        setting,
      )
    }
  }
  return first
}

function resolveLayer(input: LocationInput, names: LocationNames): LocationLayer {
  const bases: Named[] = []
  const customers: Named[] = []
  if (input.oidcUrl !== undefined) {
    const parsed = parseAkamaiIdentityOidcUrl(input.oidcUrl, names.oidcUrl)
    bases.push({ value: parsed.baseUrl, from: names.oidcUrl })
    customers.push({ value: parsed.customerId, from: names.oidcUrl })
  }
  if (input.baseUrl !== undefined) {
    bases.push({ value: checkBaseUrl(input.baseUrl, names.baseUrl), from: names.baseUrl })
  }
  if (input.region !== undefined) {
    const region = checkRegion(input.region, names.region)
    bases.push({ value: `https://v1.api.${region}.janrain.com`, from: names.region })
  }
  if (input.customerId !== undefined) {
    customers.push({
      value: checkCustomerId(input.customerId, names.customerId),
      from: names.customerId,
    })
  }
  const baseUrl = agree(bases, 'API hosts', 'baseUrl')
  const customerId = agree(customers, 'customer ids', 'customerId')
  return { ...(baseUrl ? { baseUrl } : {}), ...(customerId ? { customerId } : {}) }
}

/** Reads one explicitly passed string option (type-checked; empty counts as not passed). */
function codeValue(value: unknown, setting: string): string | undefined {
  return optionalSetting({ value: value as string | undefined, setting, vendor: VENDOR })
}

type Environment = Readonly<Record<string, string | undefined>> | undefined

/** Reads one environment variable (blank counts as unset). */
function envValue(name: string, environment: Environment): string | undefined {
  return optionalSetting({
    value: undefined,
    setting: name,
    env: name,
    vendor: VENDOR,
    ...(environment ? { environment } : {}),
  })
}

/**
 * Resolves settings lazily and memoises the result. Explicitly passed values are validated at
 * once (so a typo fails at construction); environment variables are read on first use, so a
 * missing one surfaces from the first token request.
 */
export interface SettingsResolver {
  /** Base URL, customer id and derived URLs. */
  location(): AkamaiIdentityLocation
  /** Everything, including the credentials. */
  resolve(): ResolvedAkamaiIdentitySettings
}

/** Creates the {@link SettingsResolver} for a settings object. */
export function createSettingsResolver(
  settings: AkamaiIdentityTokenSourceSettings,
): SettingsResolver {
  if (typeof settings !== 'object' || settings === null) {
    throw new ConfigurationError(`${VENDOR}: settings must be an object`)
  }
  const code = resolveLayer(
    {
      oidcUrl: codeValue(settings.oidcUrl, 'oidcUrl'),
      baseUrl: codeValue(settings.baseUrl, 'baseUrl'),
      region: codeValue(settings.region, 'region'),
      customerId: codeValue(settings.customerId, 'customerId'),
    },
    CODE_NAMES,
  )
  const codeClientId = codeValue(settings.clientId, 'clientId')
  // Type-checks the secret now; its value is read again on first use.
  optionalSecret({ value: settings.clientSecret, setting: 'clientSecret', vendor: VENDOR })
  const environment = settings.env
  if (environment !== undefined && (typeof environment !== 'object' || environment === null)) {
    fail('env must be an object of variables, e.g. process.env or {}', 'env')
  }
  const env = (name: string) => envValue(name, environment)
  const codeScope =
    settings.scope === undefined || settings.scope === ''
      ? undefined
      : checkScope(settings.scope, 'scope')

  let location: AkamaiIdentityLocation | undefined
  let resolved: ResolvedAkamaiIdentitySettings | undefined

  const resolveLocation = (): AkamaiIdentityLocation => {
    if (location) return location
    // Location variables are a unit: a location passed in code replaces all of them.
    const codeHasLocation = code.baseUrl !== undefined
    const fromEnvironment = resolveLayer(
      {
        customerId: code.customerId ? undefined : env(ENV_NAMES.customerId),
        ...(codeHasLocation
          ? {}
          : {
              oidcUrl: env(ENV_NAMES.oidcUrl),
              baseUrl: env(ENV_NAMES.baseUrl),
              region: env(ENV_NAMES.region),
            }),
      },
      ENV_NAMES,
    )
    const baseUrl = code.baseUrl ?? fromEnvironment.baseUrl
    if (!baseUrl) {
      fail(
        `the API location is missing; pass { region } (us, eu, jp, ...), { baseUrl } or { oidcUrl }, or set ${ENV_NAMES.region}, ${ENV_NAMES.baseUrl} or ${ENV_NAMES.oidcUrl}`,
        'region',
      )
    }
    const customerId = code.customerId ?? fromEnvironment.customerId
    if (!customerId) {
      fail(
        `customerId is missing; pass { customerId } or { oidcUrl }, or set ${ENV_NAMES.customerId} or ${ENV_NAMES.oidcUrl}`,
        'customerId',
      )
    }
    const customerUrl = `${baseUrl.value}/${customerId.value}`
    location = {
      baseUrl: baseUrl.value,
      customerId: customerId.value,
      customerUrl,
      tokenUrl: `${customerUrl}/login/token`,
      origin: new URL(baseUrl.value).origin,
    }
    return location
  }

  return {
    location: resolveLocation,
    resolve() {
      if (resolved) return resolved
      const where = resolveLocation()
      const clientId = loadSetting({
        value: codeClientId,
        setting: 'clientId',
        env: AKAMAI_IDENTITY_ENVIRONMENT.clientId,
        vendor: VENDOR,
        ...(environment ? { environment } : {}),
      })
      const clientSecret = loadSecret({
        value: settings.clientSecret,
        setting: 'clientSecret',
        env: AKAMAI_IDENTITY_ENVIRONMENT.clientSecret,
        vendor: VENDOR,
        ...(environment ? { environment } : {}),
      })
      const envScope = codeScope ? undefined : env(AKAMAI_IDENTITY_ENVIRONMENT.scope)
      const scope =
        codeScope ??
        (envScope ? checkScope(envScope, AKAMAI_IDENTITY_ENVIRONMENT.scope) : undefined) ??
        AKAMAI_IDENTITY_DEFAULT_SCOPE
      resolved = {
        ...where,
        clientId,
        clientSecret,
        scope,
        cacheKey: cacheKeyOf(where, clientId, scope),
      }
      return resolved
    },
  }
}

/**
 * `akamai-identity|{baseUrl}|{customerId}|{clientId}|{scope}`. The client id is
 * percent-encoded and the scope comes last, so no two credentials share a key; the secret is
 * not part of it (rotating it keeps the cached token, which stays valid).
 */
function cacheKeyOf(location: AkamaiIdentityLocation, clientId: string, scope: string): string {
  return [
    VENDOR,
    location.baseUrl.replaceAll('|', '%7C'),
    location.customerId,
    encodeURIComponent(clientId),
    scope,
  ].join('|')
}
