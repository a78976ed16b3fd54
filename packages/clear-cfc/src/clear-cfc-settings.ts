import { createHash } from 'node:crypto'
import {
  ConfigurationError,
  optionalSecret,
  optionalSetting,
  Secret,
  urlSetting,
} from '@tokenkeeper/auth-core'
import {
  CLEAR_ENVIRONMENTS,
  type ClearCfcEnvironment,
  isClearCfcEnvironment,
} from './clear-cfc-environments.ts'
import { VENDOR } from './clear-cfc-error.ts'
import type { ClearCfcSourceSettings } from './clear-cfc-provider.ts'

/** Default header that carries the token to Clear's business APIs. */
export const DEFAULT_TOKEN_HEADER = 'x-cleartax-auth-token'

/** Header that carries the client secret to the token endpoint, and nowhere else. */
export const CLIENT_SECRET_HEADER = 'x-clear-client-secret'

/** Path of the token endpoint below the base URL. */
export const TOKEN_PATH = '/integration/v1/authz/token'

/** Environment variables read when a setting is not passed in code. */
export const CLEAR_ENVIRONMENT_VARIABLES = Object.freeze({
  clientSecret: 'CLEAR_CLIENT_SECRET',
  accessToken: 'CLEAR_ACCESS_TOKEN',
  environment: 'CLEAR_ENVIRONMENT',
  baseUrl: 'CLEAR_BASE_URL',
  tokenHeader: 'CLEAR_TOKEN_HEADER',
} as const)

/** How the client authenticates: a client secret (tokens issued on demand) or a portal token. */
export type ClearCredential =
  | { readonly kind: 'clientSecret'; readonly secret: Secret }
  | { readonly kind: 'accessToken'; readonly token: Secret }

/** Settings after environment-variable fallbacks and validation. */
export interface ResolvedClearSettings {
  readonly baseUrl: string
  readonly tokenUrl: string
  readonly tokenHeader: string
  readonly headers: Readonly<Record<string, string>>
  readonly credential: ClearCredential
  readonly cacheKey: string
}

type Environment = Readonly<Record<string, string | undefined>>

/** RFC 9110 token characters: what a header name may contain. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** Visible ASCII, spaces and tabs: what a static header value may contain (no CR/LF). */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/
/** What a secret or token may contain to travel in a header. */
const HEADER_SAFE = /^[\x21-\x7e]+$/

const ENVIRONMENT_NAMES = Object.keys(CLEAR_ENVIRONMENTS).join(', ')

function configurationError(message: string, setting: string): ConfigurationError {
  return new ConfigurationError(`${VENDOR}: ${message}`, { setting })
}

/**
 * Checks the settings passed in code, without reading environment variables and without any
 * request: wrong types, unknown environment names, bad URLs and header names fail at once.
 */
export function checkSettings(settings: ClearCfcSourceSettings): void {
  if (typeof settings !== 'object' || settings === null) {
    throw configurationError('settings must be an object', 'settings')
  }
  for (const setting of ['clientSecret', 'accessToken'] as const) {
    const value = settings[setting]
    if (value !== undefined && typeof value !== 'string' && !(value instanceof Secret)) {
      throw configurationError(`${setting} must be a string or a Secret`, setting)
    }
  }
  if (given(settings.clientSecret) && given(settings.accessToken)) {
    throw configurationError(
      'pass either clientSecret (tokens are requested from Clear) or accessToken (a token from the Clear portal, used as is), not both',
      'accessToken',
    )
  }
  if (settings.env !== undefined && (typeof settings.env !== 'object' || settings.env === null)) {
    throw configurationError('env must be an object of environment variables', 'env')
  }
  if (settings.environment !== undefined) checkEnvironmentName(settings.environment, 'option')
  if (settings.baseUrl !== undefined) checkBaseUrl(settings.baseUrl, 'baseUrl')
  if (given(settings.environment) && given(settings.baseUrl)) {
    throw configurationError(
      'pass either environment or baseUrl, not both (baseUrl is for environments without a name)',
      'baseUrl',
    )
  }
  const tokenHeader =
    settings.tokenHeader === undefined ? undefined : checkTokenHeader(settings.tokenHeader, false)
  if (settings.headers !== undefined) {
    checkHeaders(settings.headers, tokenHeader ?? DEFAULT_TOKEN_HEADER)
  }
}

/**
 * Resolves the settings: values passed in code first, then the `CLEAR_*` environment variables.
 * Throws a {@link ConfigurationError} naming the option and its variable.
 */
export function resolveSettings(settings: ClearCfcSourceSettings): ResolvedClearSettings {
  const environment: Environment = settings.env ?? process.env
  const credential = resolveCredential(settings, environment)
  const baseUrl = resolveBaseUrl(settings, environment)
  const tokenHeader = checkTokenHeader(
    optionalSetting({
      value: settings.tokenHeader,
      setting: 'tokenHeader',
      env: CLEAR_ENVIRONMENT_VARIABLES.tokenHeader,
      vendor: VENDOR,
      environment,
    }) ?? DEFAULT_TOKEN_HEADER,
    settings.tokenHeader === undefined,
  )
  const headers = checkHeaders(settings.headers ?? {}, tokenHeader)
  const fingerprint = createHash('sha256')
    .update(`${VENDOR}\0${credential.kind}\0`)
    .update(
      credential.kind === 'clientSecret' ? credential.secret.reveal() : credential.token.reveal(),
    )
    .digest('hex')
    .slice(0, 16)
  return {
    baseUrl,
    tokenUrl: `${baseUrl}${TOKEN_PATH}`,
    tokenHeader,
    headers,
    credential,
    // Non-secret and stable: every client of one secret against one environment shares it, so
    // they share one token through a common store.
    cacheKey: `${VENDOR}:${baseUrl}:${credential.kind === 'clientSecret' ? 'secret' : 'portal-token'}:${fingerprint}`,
  }
}

function resolveCredential(
  settings: ClearCfcSourceSettings,
  environment: Environment,
): ClearCredential {
  const lookup = (setting: 'clientSecret' | 'accessToken', fromCode: boolean) =>
    optionalSecret({
      value: fromCode ? settings[setting] : undefined,
      setting,
      env: fromCode ? undefined : CLEAR_ENVIRONMENT_VARIABLES[setting],
      vendor: VENDOR,
      environment,
    })
  let token = lookup('accessToken', true)
  let secret = token ? undefined : lookup('clientSecret', true)
  let fromEnvironment = false
  if (!token && !secret) {
    fromEnvironment = true
    token = lookup('accessToken', false)
    secret = lookup('clientSecret', false)
    if (token && secret) {
      throw configurationError(
        `both ${CLEAR_ENVIRONMENT_VARIABLES.clientSecret} and ${CLEAR_ENVIRONMENT_VARIABLES.accessToken} are set; unset one (or pass clientSecret or accessToken in code)`,
        'clientSecret',
      )
    }
  }
  if (token) {
    return { kind: 'accessToken', token: checkSecretValue(token, 'accessToken', fromEnvironment) }
  }
  if (secret) {
    return {
      kind: 'clientSecret',
      secret: checkSecretValue(secret, 'clientSecret', fromEnvironment),
    }
  }
  throw configurationError(
    `clientSecret is missing; pass { clientSecret } or set ${CLEAR_ENVIRONMENT_VARIABLES.clientSecret} (or, for a token generated in the Clear portal, pass { accessToken } or set ${CLEAR_ENVIRONMENT_VARIABLES.accessToken})`,
    'clientSecret',
  )
}

/** Trims surrounding whitespace (a pasted newline) and checks the value can travel in a header. */
function checkSecretValue(
  value: Secret,
  setting: 'clientSecret' | 'accessToken',
  fromEnvironment: boolean,
): Secret {
  const raw = value.reveal()
  const trimmed = raw.trim()
  if (!HEADER_SAFE.test(trimmed)) {
    const where = fromEnvironment ? CLEAR_ENVIRONMENT_VARIABLES[setting] : setting
    throw configurationError(
      `${where} contains spaces or characters that cannot be sent in an HTTP header; copy it again from Clear`,
      setting,
    )
  }
  return trimmed === raw ? value : new Secret(trimmed)
}

function resolveBaseUrl(settings: ClearCfcSourceSettings, environment: Environment): string {
  if (given(settings.baseUrl)) return checkBaseUrl(settings.baseUrl as string, 'baseUrl')
  if (given(settings.environment)) {
    return CLEAR_ENVIRONMENTS[checkEnvironmentName(settings.environment, 'option')]
  }
  const lookup = (setting: 'baseUrl' | 'environment') =>
    optionalSetting({
      value: undefined,
      setting,
      env: CLEAR_ENVIRONMENT_VARIABLES[setting],
      vendor: VENDOR,
      environment,
    })
  const url = lookup('baseUrl')
  const name = lookup('environment')
  if (url !== undefined && name !== undefined) {
    throw configurationError(
      `both ${CLEAR_ENVIRONMENT_VARIABLES.baseUrl} and ${CLEAR_ENVIRONMENT_VARIABLES.environment} are set; unset one`,
      'baseUrl',
    )
  }
  if (url !== undefined) return checkBaseUrl(url, CLEAR_ENVIRONMENT_VARIABLES.baseUrl)
  if (name !== undefined) return CLEAR_ENVIRONMENTS[checkEnvironmentName(name, 'variable')]
  throw configurationError(
    `environment is missing; pass { environment } (one of ${ENVIRONMENT_NAMES}) or { baseUrl }, or set ${CLEAR_ENVIRONMENT_VARIABLES.environment} or ${CLEAR_ENVIRONMENT_VARIABLES.baseUrl}. A client secret works in one environment only`,
    'environment',
  )
}

function checkEnvironmentName(name: unknown, from: 'option' | 'variable'): ClearCfcEnvironment {
  if (typeof name === 'string' && isClearCfcEnvironment(name.trim().toLowerCase())) {
    return name.trim().toLowerCase() as ClearCfcEnvironment
  }
  const where = from === 'option' ? 'environment' : CLEAR_ENVIRONMENT_VARIABLES.environment
  throw configurationError(
    `${where} must be one of ${ENVIRONMENT_NAMES}; for another environment pass baseUrl (or set ${CLEAR_ENVIRONMENT_VARIABLES.baseUrl})`,
    'environment',
  )
}

function checkBaseUrl(value: unknown, where: string): string {
  if (typeof value !== 'string') throw configurationError(`${where} must be a string`, 'baseUrl')
  const url = urlSetting(value.trim(), where, VENDOR)
  const parsed = new URL(url)
  if (parsed.search || parsed.hash) {
    throw configurationError(`${where} must not contain a query or fragment`, 'baseUrl')
  }
  return url
}

function checkTokenHeader(value: unknown, fromEnvironment: boolean): string {
  const where = fromEnvironment ? CLEAR_ENVIRONMENT_VARIABLES.tokenHeader : 'tokenHeader'
  if (typeof value !== 'string' || !HEADER_NAME.test(value.trim())) {
    throw configurationError(`${where} must be an HTTP header name`, 'tokenHeader')
  }
  const name = value.trim().toLowerCase()
  if (name === CLIENT_SECRET_HEADER) {
    throw configurationError(
      `${where} must not be ${CLIENT_SECRET_HEADER}: that header carries the client secret, not the token`,
      'tokenHeader',
    )
  }
  return name
}

function checkHeaders(value: unknown, tokenHeader: string): Readonly<Record<string, string>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw configurationError('headers must be an object of header names to values', 'headers')
  }
  const headers: Record<string, string> = {}
  for (const [rawName, headerValue] of Object.entries(value)) {
    if (!HEADER_NAME.test(rawName)) {
      throw configurationError(
        `headers: ${JSON.stringify(rawName)} is not a header name`,
        'headers',
      )
    }
    const name = rawName.toLowerCase()
    if (typeof headerValue !== 'string' || !HEADER_VALUE.test(headerValue)) {
      throw configurationError(
        `headers: the value of ${name} must be a string without line breaks`,
        'headers',
      )
    }
    if (name === tokenHeader || name === CLIENT_SECRET_HEADER) {
      throw configurationError(
        `headers must not set ${name}; the client sets ${tokenHeader} itself and never sends ${CLIENT_SECRET_HEADER} to business APIs`,
        'headers',
      )
    }
    if (Object.hasOwn(headers, name)) {
      throw configurationError(`headers: ${name} is given twice`, 'headers')
    }
    headers[name] = headerValue
  }
  return Object.freeze(headers)
}

function given(value: unknown): boolean {
  return value !== undefined && value !== ''
}
