import { ConfigurationError } from './errors.ts'
import { Secret, type SecretInput } from './secret.ts'
import { isLoopbackHost } from './transport.ts'

/** Where to look for one setting: the value passed in code, then an environment variable. */
export interface SettingLookup<T> {
  /** The value passed in code, if any. */
  value: T | undefined
  /** Option name as the user writes it, e.g. `clientSecret`. */
  setting: string
  /** Environment variable read when the option is not given, e.g. `CLEAR_CLIENT_SECRET`. */
  env?: string
  /** Vendor name for messages, e.g. `Clear`. */
  vendor: string
  /** Environment to read; default `process.env`. */
  environment?: Readonly<Record<string, string | undefined>>
}

function fromEnvironment(lookup: SettingLookup<unknown>): string | undefined {
  if (!lookup.env) return undefined
  const value = (lookup.environment ?? process.env)[lookup.env]
  return value === undefined || value.trim() === '' ? undefined : value
}

function missing(lookup: SettingLookup<unknown>): ConfigurationError {
  const where = lookup.env
    ? `pass { ${lookup.setting} } or set ${lookup.env}`
    : `pass { ${lookup.setting} }`
  return new ConfigurationError(`${lookup.vendor}: ${lookup.setting} is missing; ${where}`, {
    setting: lookup.setting,
  })
}

/** Reads an optional string setting, falling back to its environment variable. */
export function optionalSetting(lookup: SettingLookup<string>): string | undefined {
  if (lookup.value !== undefined && lookup.value !== '') {
    if (typeof lookup.value !== 'string') {
      throw new ConfigurationError(`${lookup.vendor}: ${lookup.setting} must be a string`, {
        setting: lookup.setting,
      })
    }
    return lookup.value
  }
  return fromEnvironment(lookup)
}

/**
 * Reads a required string setting, falling back to its environment variable. The error names
 * both the option and the variable.
 */
export function loadSetting(lookup: SettingLookup<string>): string {
  const value = optionalSetting(lookup)
  if (value === undefined) throw missing(lookup)
  return value
}

/** Reads a required secret setting (a string or a {@link Secret}), falling back to its variable. */
export function loadSecret(lookup: SettingLookup<SecretInput>): Secret {
  const secret = optionalSecret(lookup)
  if (secret === undefined) throw missing(lookup)
  return secret
}

/** Reads an optional secret setting. */
export function optionalSecret(lookup: SettingLookup<SecretInput>): Secret | undefined {
  const { value } = lookup
  if (value instanceof Secret) {
    return value.reveal() === '' ? undefined : value
  }
  if (value !== undefined && value !== '') {
    if (typeof value !== 'string') {
      throw new ConfigurationError(`${lookup.vendor}: ${lookup.setting} must be a string`, {
        setting: lookup.setting,
      })
    }
    return new Secret(value)
  }
  const fromEnv = fromEnvironment(lookup)
  return fromEnv === undefined ? undefined : new Secret(fromEnv)
}

/** Options of {@link urlSetting}. */
export interface UrlSettingOptions {
  /** How to name the value in messages when it came from elsewhere, e.g. `CLEARID_STS_URL`. */
  label?: string
}

/**
 * Checks a URL setting: absolute, `https://` (plain `http://` only for loopback addresses, code
 * `INSECURE_TRANSPORT` otherwise), no credentials, query or fragment. Returns it without a
 * trailing slash. Messages name `label` (default: the option).
 */
export function urlSetting(
  value: string,
  setting: string,
  vendor: string,
  options: UrlSettingOptions = {},
): string {
  const label = options.label ?? setting
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigurationError(`${vendor}: ${label} is not an absolute URL`, { setting })
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigurationError(`${vendor}: ${label} must be an https:// URL`, { setting })
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new ConfigurationError(
      `${vendor}: ${label} must use https:// (plain http:// is allowed only for loopback addresses)`,
      { setting, code: 'INSECURE_TRANSPORT' },
    )
  }
  if (url.username || url.password) {
    throw new ConfigurationError(`${vendor}: ${label} must not contain credentials`, { setting })
  }
  if (url.search || url.hash) {
    throw new ConfigurationError(`${vendor}: ${label} must not contain a query or fragment`, {
      setting,
    })
  }
  return url.href.replace(/\/+$/, '')
}
