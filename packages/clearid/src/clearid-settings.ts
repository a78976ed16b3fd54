import type { KeyObject } from 'node:crypto'
import {
  ConfigurationError,
  isLoopbackHost,
  optionalSecret,
  optionalSetting,
  type Secret,
  type SecretInput,
} from '@tokenkeeper/auth-core'
import { type ClearIdPrivateKeyInput, readPrivateKey } from './clearid-assertion.ts'
import {
  CLEARID_DEFAULT_ENVIRONMENT,
  type ClearIdEnvironment,
  clearIdServiceOrigins,
  clearIdServiceUrl,
  clearIdStsUrl,
  environmentOfHost,
  parseClearIdEnvironment,
  VENDOR,
} from './clearid-environments.ts'
import { type ClearIdKeyFile, parseKeyFile, readKeyFile } from './clearid-key-file.ts'

/**
 * Environment variables read when a setting is not passed in code (at the first token request,
 * never at import or factory time).
 */
export const CLEARID_ENVIRONMENT_VARIABLES = {
  clientId: 'CLEARID_CLIENT_ID',
  clientSecret: 'CLEARID_CLIENT_SECRET',
  privateKey: 'CLEARID_PRIVATE_KEY',
  keyFile: 'CLEARID_KEY_FILE',
  environment: 'CLEARID_ENVIRONMENT',
  stsUrl: 'CLEARID_STS_URL',
  apiUrl: 'CLEARID_API_URL',
  accountId: 'CLEARID_ACCOUNT_ID',
} as const

/**
 * Where ClearID is: the environment, or explicit STS and API URLs. Every field falls back to a
 * `CLEARID_*` environment variable.
 */
export interface ClearIdLocationSettings {
  /**
   * `demo`, `global` (default) or `eu`: chooses the STS and API hosts. Credentials work only in
   * the environment where the API integration was created. Env `CLEARID_ENVIRONMENT`.
   */
  environment?: ClearIdEnvironment
  /**
   * The STS base URL instead of the environment's, e.g. a local emulator (plain `http://` only
   * for loopback). `/connect/token` is appended. Env `CLEARID_STS_URL`.
   */
  stsUrl?: string
  /**
   * The Identity service base URL instead of the environment's (`https://identityservice...`).
   * Default: the environment's; with a custom `stsUrl` and no environment, the STS origin.
   * Env `CLEARID_API_URL`.
   */
  apiUrl?: string
}

/**
 * The settings of a ClearID token source. Each falls back to a `CLEARID_*` environment variable
 * (see {@link CLEARID_ENVIRONMENT_VARIABLES}); a value passed in code wins over the key file,
 * which wins over the individual variables.
 */
export interface ClearIdTokenSourceSettings extends ClearIdLocationSettings {
  /** The integration's client id, `<guid>:<accountId>`. Env `CLEARID_CLIENT_ID`. */
  clientId?: string
  /**
   * The client secret (grant `client_credentials`). Env `CLEARID_CLIENT_SECRET`. When a
   * private key is available from the same place, the key is used instead.
   */
  clientSecret?: SecretInput
  /**
   * RSA private key for the JWT assertion grant: PEM (PKCS#8 or PKCS#1), a JWK object, or JWK
   * JSON text; a string or a `Secret`. Env `CLEARID_PRIVATE_KEY` (PEM with real or `\n`
   * newlines, or JWK JSON).
   */
  privateKey?: ClearIdPrivateKeyInput
  /**
   * Path of the JSON key file downloaded from the ClearID portal, or its already parsed
   * content; it may hold the client id, secret or private key, account id and STS URL.
   * Env `CLEARID_KEY_FILE` (a path).
   */
  keyFile?: string | object
  /** The ClearID account id. Default: the part of `clientId` after `:`. Env `CLEARID_ACCOUNT_ID`. */
  accountId?: string
  /**
   * Where the `CLEARID_*` fallbacks are read. Default `process.env`; `{}` turns the fallbacks
   * off (e.g. in n8n, where credentials come only from the credential form).
   */
  env?: Readonly<Record<string, string | undefined>>
}

/** The grant a source uses: chosen by which credential is configured. */
export type ClearIdGrant = 'client_credentials' | 'urn:ietf:params:oauth:grant-type:jwt-bearer'

/** Where ClearID is, resolved. */
export interface ClearIdLocation {
  /** `undefined` when a custom `stsUrl` matches no ClearID host and no environment was given. */
  readonly environment: ClearIdEnvironment | undefined
  /** STS base URL, no trailing slash. */
  readonly stsUrl: string
  /** `{stsUrl}/connect/token`. */
  readonly tokenUrl: string
  /** Identity service base URL, no trailing slash. */
  readonly apiUrl: string
  /** API origins that may receive the token. */
  readonly origins: readonly string[]
}

/** The credential of a resolved source. */
export type ClearIdCredential =
  | { readonly grant: 'client_credentials'; readonly clientSecret: Secret }
  | {
      readonly grant: 'urn:ietf:params:oauth:grant-type:jwt-bearer'
      readonly privateKey: KeyObject
    }

/** Everything a token request needs, resolved from code, key file and environment. */
export interface ResolvedClearIdSettings {
  readonly clientId: string
  readonly credential: ClearIdCredential
  readonly location: ClearIdLocation
  readonly accountId: string | undefined
  /** Stable, non-secret: vendor, STS URL and client id. */
  readonly cacheKey: string
}

/** One place settings can come from, with the label of each value for messages. */
interface Layer {
  clientId?: Labelled<string>
  clientSecret?: Labelled<Secret>
  /** Parsed on demand: a bad key in a place that is not used must not fail the others. */
  privateKey?: Labelled<() => KeyObject>
  environment?: Labelled<ClearIdEnvironment>
  stsUrl?: Labelled<string>
  apiUrl?: Labelled<string>
  accountId?: Labelled<string>
}

interface Labelled<T> {
  value: T
  /** e.g. `privateKey`, `CLEARID_PRIVATE_KEY`, `the keyFile "key.json"`. */
  label: string
}

/** RFC 3986 unreserved characters: account ids go into URL paths unencoded. */
const ACCOUNT_ID = /^[A-Za-z0-9._~-]+$/

type Environment = Readonly<Record<string, string | undefined>>

/**
 * Validates the settings passed in code (types, URLs, environment, private key) and returns
 * them as the first layer. Cheap and free of I/O, so factories call it eagerly.
 */
export function readCodeSettings(settings: ClearIdTokenSourceSettings): Layer {
  if (typeof settings !== 'object' || settings === null) {
    throw new ConfigurationError(`${VENDOR}: settings must be an object`)
  }
  const layer: Layer = {}
  const clientId = optionalSetting({
    value: settings.clientId,
    setting: 'clientId',
    vendor: VENDOR,
  })
  if (clientId !== undefined)
    layer.clientId = { value: checkClientId(clientId, 'clientId'), label: 'clientId' }
  const clientSecret = optionalSecret({
    value: settings.clientSecret,
    setting: 'clientSecret',
    vendor: VENDOR,
  })
  if (clientSecret) layer.clientSecret = { value: clientSecret, label: 'clientSecret' }
  if (settings.privateKey !== undefined && settings.privateKey !== '') {
    // Passed in code: validated now.
    const key = readPrivateKey(settings.privateKey, 'privateKey')
    layer.privateKey = { value: () => key, label: 'privateKey' }
  }
  if (
    settings.env !== undefined &&
    (typeof settings.env !== 'object' || settings.env === null || Array.isArray(settings.env))
  ) {
    throw new ConfigurationError(`${VENDOR}: env must be an object of environment variables`, {
      setting: 'env',
    })
  }
  const keyFile = settings.keyFile
  if (
    keyFile !== undefined &&
    typeof keyFile !== 'string' &&
    (typeof keyFile !== 'object' || keyFile === null || Array.isArray(keyFile))
  ) {
    throw new ConfigurationError(
      `${VENDOR}: keyFile must be a file path or the parsed key file (an object)`,
      { setting: 'keyFile' },
    )
  }
  addLocation(layer, settings, (setting) => setting)
  // Catches an stsUrl of one environment combined with another environment now.
  if (layer.environment || layer.stsUrl) locate(layer, layer.apiUrl)
  const accountId = optionalSetting({
    value: settings.accountId,
    setting: 'accountId',
    vendor: VENDOR,
  })
  if (accountId !== undefined) {
    layer.accountId = { value: checkAccountId(accountId, 'accountId'), label: 'accountId' }
  }
  return layer
}

/** The key file named in code or by `CLEARID_KEY_FILE`, as a layer (empty without one). */
function readKeyFileLayer(settings: ClearIdTokenSourceSettings, environment: Environment): Layer {
  if (typeof settings.keyFile === 'object' && settings.keyFile !== null) {
    return keyFileLayer(parseKeyFile(settings.keyFile, 'keyFile'), 'keyFile')
  }
  const path = optionalSetting({
    value: settings.keyFile,
    setting: 'keyFile',
    env: CLEARID_ENVIRONMENT_VARIABLES.keyFile,
    environment,
    vendor: VENDOR,
  })
  if (path === undefined) return {}
  const fromCode = settings.keyFile !== undefined && settings.keyFile !== ''
  const label = `${fromCode ? 'keyFile' : CLEARID_ENVIRONMENT_VARIABLES.keyFile} ${JSON.stringify(path)}`
  return keyFileLayer(readKeyFile(path, label), label)
}

/** Turns a parsed key file into a layer; values are validated like settings. */
function keyFileLayer(file: ClearIdKeyFile, fileLabel: string): Layer {
  const field = (name: string) => `the ${name} in ${fileLabel}`
  const layer: Layer = {}
  if (file.clientId)
    layer.clientId = {
      value: checkClientId(file.clientId, field('client id')),
      label: field('client id'),
    }
  if (file.clientSecret)
    layer.clientSecret = { value: file.clientSecret, label: field('client secret') }
  if (file.privateKey) {
    const label = field('private key')
    const text = file.privateKey
    layer.privateKey = { value: () => readPrivateKey(text, label), label }
  }
  addLocation(layer, file, (setting) => field(setting))
  if (file.accountId)
    layer.accountId = {
      value: checkAccountId(file.accountId, field('account id')),
      label: field('account id'),
    }
  return layer
}

/** The individual `CLEARID_*` variables as a layer. */
function readEnvironmentLayer(environment: Environment): Layer {
  const variables = CLEARID_ENVIRONMENT_VARIABLES
  const read = (setting: keyof typeof variables) =>
    optionalSetting({
      value: undefined,
      setting,
      env: variables[setting],
      environment,
      vendor: VENDOR,
    })
  const layer: Layer = {}
  const clientId = read('clientId')
  if (clientId !== undefined)
    layer.clientId = {
      value: checkClientId(clientId, variables.clientId),
      label: variables.clientId,
    }
  const clientSecret = optionalSecret({
    value: undefined,
    setting: 'clientSecret',
    env: variables.clientSecret,
    environment,
    vendor: VENDOR,
  })
  if (clientSecret) layer.clientSecret = { value: clientSecret, label: variables.clientSecret }
  const privateKey = optionalSecret({
    value: undefined,
    setting: 'privateKey',
    env: variables.privateKey,
    environment,
    vendor: VENDOR,
  })
  if (privateKey) {
    layer.privateKey = {
      value: () => readPrivateKey(privateKey, variables.privateKey),
      label: variables.privateKey,
    }
  }
  addLocation(
    layer,
    { environment: read('environment'), stsUrl: read('stsUrl'), apiUrl: read('apiUrl') },
    (setting) => variables[setting],
  )
  const accountId = read('accountId')
  if (accountId !== undefined)
    layer.accountId = {
      value: checkAccountId(accountId, variables.accountId),
      label: variables.accountId,
    }
  return layer
}

/** Validates and adds environment, stsUrl and apiUrl (when present) to a layer. */
function addLocation(
  layer: Layer,
  values: { environment?: unknown; stsUrl?: unknown; apiUrl?: unknown },
  labelOf: (setting: 'environment' | 'stsUrl' | 'apiUrl') => string,
): void {
  if (values.environment !== undefined && values.environment !== '') {
    const label = labelOf('environment')
    layer.environment = { value: parseClearIdEnvironment(values.environment, label), label }
  }
  if (values.stsUrl !== undefined && values.stsUrl !== '') {
    const label = labelOf('stsUrl')
    layer.stsUrl = { value: checkStsUrl(values.stsUrl, label), label }
  }
  if (values.apiUrl !== undefined && values.apiUrl !== '') {
    const label = labelOf('apiUrl')
    layer.apiUrl = { value: checkServiceUrl(values.apiUrl, label, 'apiUrl'), label }
  }
}

/**
 * Resolves the settings: code first, then the key file, then the `CLEARID_*` variables.
 *
 * - The credential comes from the first layer that has one; inside a layer a private key is
 *   preferred to a client secret (the assertion grant never sends a reusable secret).
 * - The STS comes from the first layer with `environment` or `stsUrl`; `apiUrl` from the first
 *   layer that has one, else from the STS's environment.
 */
export function resolveClearIdSettings(
  settings: ClearIdTokenSourceSettings,
  codeLayer: Layer = readCodeSettings(settings),
): ResolvedClearIdSettings {
  const environment = settings.env ?? process.env
  const layers = [
    codeLayer,
    readKeyFileLayer(settings, environment),
    readEnvironmentLayer(environment),
  ]
  const first = <K extends keyof Layer>(field: K): Layer[K] =>
    layers.find((layer) => layer[field] !== undefined)?.[field]

  const clientId = first('clientId')?.value
  if (clientId === undefined) {
    throw new ConfigurationError(
      `${VENDOR}: clientId is missing; pass { clientId } or a keyFile that holds it, or set ${CLEARID_ENVIRONMENT_VARIABLES.clientId}`,
      { setting: 'clientId' },
    )
  }
  const credentialLayer = layers.find((layer) => layer.privateKey || layer.clientSecret)
  let credential: ClearIdCredential
  if (credentialLayer?.privateKey) {
    credential = {
      grant: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      privateKey: credentialLayer.privateKey.value(),
    }
  } else if (credentialLayer?.clientSecret) {
    credential = { grant: 'client_credentials', clientSecret: credentialLayer.clientSecret.value }
  } else {
    throw new ConfigurationError(
      `${VENDOR}: no credential; pass { clientSecret } or { privateKey } (or a keyFile that holds one), or set ${CLEARID_ENVIRONMENT_VARIABLES.clientSecret}, ${CLEARID_ENVIRONMENT_VARIABLES.privateKey} or ${CLEARID_ENVIRONMENT_VARIABLES.keyFile}`,
      { setting: 'clientSecret' },
    )
  }
  const location = locate(
    layers.find((layer) => layer.environment || layer.stsUrl) ?? {},
    first('apiUrl'),
  )
  const accountId = first('accountId')?.value ?? accountIdOf(clientId)
  return {
    clientId,
    credential,
    location,
    accountId,
    cacheKey: `${VENDOR}|${location.stsUrl}|${clientId}`,
  }
}

/**
 * Resolves only where ClearID is (no credential needed), with the same precedence as the token
 * source: code, key file, `CLEARID_*` variables.
 */
export function resolveClearIdLocation(
  settings: ClearIdTokenSourceSettings = {},
): ClearIdLocation & { readonly accountId: string | undefined } {
  const environment = settings.env ?? process.env
  const layers = [
    readCodeSettings(settings),
    readKeyFileLayer(settings, environment),
    readEnvironmentLayer(environment),
  ]
  const location = locate(
    layers.find((layer) => layer.environment || layer.stsUrl) ?? {},
    layers.find((layer) => layer.apiUrl)?.apiUrl,
  )
  const clientId = layers.find((layer) => layer.clientId)?.clientId?.value
  const accountId =
    layers.find((layer) => layer.accountId)?.accountId?.value ??
    (clientId === undefined ? undefined : accountIdOf(clientId))
  return { ...location, accountId }
}

/** Derives STS, token URL, API URL and origins from the deciding layer. */
function locate(stsLayer: Layer, apiUrl: Labelled<string> | undefined): ClearIdLocation {
  const explicit = stsLayer.environment
  const stsUrl = stsLayer.stsUrl
  let environment = explicit?.value
  if (stsUrl) {
    const host = environmentOfHost(new URL(stsUrl.value).hostname)
    if (host !== undefined && explicit !== undefined && host !== explicit.value) {
      throw new ConfigurationError(
        `${VENDOR}: ${stsUrl.label} is the ${host} STS but ${explicit.label} is ${explicit.value}; the STS and the APIs must be in the same environment`,
        { setting: 'stsUrl' },
      )
    }
    environment ??= host
  } else {
    environment ??= CLEARID_DEFAULT_ENVIRONMENT
  }
  const sts = stsUrl?.value ?? clearIdStsUrl(environment ?? CLEARID_DEFAULT_ENVIRONMENT)
  const api =
    apiUrl?.value ??
    (environment !== undefined
      ? clearIdServiceUrl('identityservice', environment)
      : new URL(sts).origin)
  const origins =
    apiUrl === undefined && environment !== undefined
      ? clearIdServiceOrigins(environment)
      : [new URL(api).origin]
  return { environment, stsUrl: sts, tokenUrl: `${sts}/connect/token`, apiUrl: api, origins }
}

/** The account id in a client id `<guid>:<accountId>`, if it has a usable one. */
export function accountIdOf(clientId: string): string | undefined {
  const index = clientId.indexOf(':')
  if (index < 0) return undefined
  const accountId = clientId.slice(index + 1).trim()
  return ACCOUNT_ID.test(accountId) ? accountId : undefined
}

function checkClientId(value: string, label: string): string {
  const clientId = value.trim()
  // It goes into a form body (encoded) and the assertion's kid/iss/sub; control characters
  // are always a copy-paste accident.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (clientId === '' || /[\u0000-\u001f\u007f]/.test(clientId)) {
    throw new ConfigurationError(
      `${VENDOR}: ${label} must be the integration's client id (<guid>:<accountId>)`,
      { setting: 'clientId' },
    )
  }
  return clientId
}

/**
 * Validates an account id: it goes into API paths unencoded, so only RFC 3986 unreserved
 * characters are accepted. `label` names the option or variable in the error.
 */
export function checkAccountId(value: string, label: string): string {
  const accountId = typeof value === 'string' ? value.trim() : ''
  if (!ACCOUNT_ID.test(accountId)) {
    throw new ConfigurationError(
      `${VENDOR}: ${label} must be a ClearID account id (letters, digits, '-', '.', '_', '~'), got ${JSON.stringify(value)}`,
      { setting: 'accountId' },
    )
  }
  return accountId
}

/**
 * A URL that a secret or token goes to: absolute, https (plain http only to loopback), no
 * query or fragment; returned without a trailing slash.
 */
function checkServiceUrl(value: unknown, label: string, setting: 'stsUrl' | 'apiUrl'): string {
  const fail = (problem: string, code?: 'INSECURE_TRANSPORT'): never => {
    throw new ConfigurationError(`${VENDOR}: ${label} ${problem}`, {
      setting,
      ...(code ? { code } : {}),
    })
  }
  if (typeof value !== 'string') return fail('must be a URL string')
  let url: URL
  try {
    url = new URL(value.trim())
  } catch {
    return fail('is not an absolute URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail('must be an https:// URL')
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    fail(
      'must use https:// (plain http:// is allowed only for loopback addresses)',
      'INSECURE_TRANSPORT',
    )
  }
  if (url.username || url.password) fail('must not contain credentials')
  if (url.search || url.hash) fail('must not contain a query or fragment')
  return url.href.replace(/\/+$/, '')
}

/**
 * The STS base URL. A pasted token endpoint (`.../connect/token`) or discovery document
 * (`.../.well-known/openid-configuration`) is trimmed back to the base.
 */
function checkStsUrl(value: unknown, label: string): string {
  return checkServiceUrl(value, label, 'stsUrl').replace(
    /\/(connect\/token|\.well-known\/openid-configuration)$/i,
    '',
  )
}
