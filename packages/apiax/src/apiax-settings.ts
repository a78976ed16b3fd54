import { createHash, createPrivateKey, type JsonWebKey, KeyObject } from 'node:crypto'
import {
  ConfigurationError,
  loadSecret,
  loadSetting,
  optionalSecret,
  optionalSetting,
  Secret,
  urlSetting,
} from '@tokenkeeper/auth-core'
import {
  APIAX_API_URL,
  APIAX_CLIENT_ID,
  APIAX_REFRESH_TOKEN_MAX_AGE,
  APIAX_TOKEN_URL,
  type ApiaxClientAssertion,
  type ApiaxSettings,
} from './apiax-provider.ts'

/** Name used in messages. */
export const VENDOR = 'Apiax'

/** Environment variables read when a setting is not passed in code. */
export const APIAX_ENVIRONMENT = {
  username: 'APIAX_USERNAME',
  password: 'APIAX_PASSWORD',
  apiKey: 'APIAX_API_KEY',
  clientId: 'APIAX_CLIENT_ID',
  tokenUrl: 'APIAX_TOKEN_URL',
  apiUrl: 'APIAX_API_URL',
  assertionPrivateKey: 'APIAX_ASSERTION_PRIVATE_KEY',
  assertionClientId: 'APIAX_ASSERTION_CLIENT_ID',
  assertionKeyId: 'APIAX_ASSERTION_KEY_ID',
} as const

/** The 2FA assertion settings, checked and ready to sign with. */
export interface ResolvedAssertion {
  readonly privateKey: KeyObject
  readonly clientId: string
  readonly keyId?: string
}

/** Every setting, validated, with defaults and environment fallbacks applied. */
export interface ResolvedApiaxSettings {
  readonly username: string
  readonly password: Secret
  readonly apiKey: Secret | undefined
  /** The `client_id` sent: the assertion's client id in 2FA mode. */
  readonly clientId: string
  readonly tokenUrl: string
  readonly apiUrl: string
  readonly assertion: ResolvedAssertion | undefined
  /** ms */
  readonly refreshTokenMaxAge: number
}

/**
 * Checks what was passed in code (types, URLs, the private key) without reading the
 * environment, so that mistakes surface at factory time.
 */
export function validateExplicitSettings(settings: ApiaxSettings): void {
  if (settings === null || typeof settings !== 'object') {
    throw new ConfigurationError(`${VENDOR}: settings must be an object`)
  }
  for (const name of ['username', 'clientId'] as const) {
    const value = settings[name]
    if (value !== undefined && typeof value !== 'string') {
      throw new ConfigurationError(`${VENDOR}: ${name} must be a string`, { setting: name })
    }
  }
  for (const name of ['password', 'apiKey'] as const) {
    const value = settings[name]
    if (value !== undefined && typeof value !== 'string' && !(value instanceof Secret)) {
      throw new ConfigurationError(`${VENDOR}: ${name} must be a string or a Secret`, {
        setting: name,
      })
    }
  }
  if (settings.apiKey !== undefined && settings.apiKey !== '') {
    checkApiKey(typeof settings.apiKey === 'string' ? new Secret(settings.apiKey) : settings.apiKey)
  }
  const environment = settings.env
  if (environment !== undefined && (environment === null || typeof environment !== 'object')) {
    throw new ConfigurationError(
      `${VENDOR}: env must be an object of variables, e.g. process.env or {}`,
      { setting: 'env' },
    )
  }
  if (settings.tokenUrl) urlSetting(settings.tokenUrl, 'tokenUrl', VENDOR)
  if (settings.apiUrl) urlSetting(settings.apiUrl, 'apiUrl', VENDOR)
  if (settings.refreshTokenMaxAge !== undefined) refreshTokenMaxAge(settings.refreshTokenMaxAge)
  const assertion = settings.clientAssertion
  if (assertion !== undefined) {
    if (assertion === null || typeof assertion !== 'object') {
      throw new ConfigurationError(
        `${VENDOR}: clientAssertion must be an object { privateKey, clientId }`,
        { setting: 'clientAssertion' },
      )
    }
    if (assertion.privateKey !== undefined && assertion.privateKey !== '') {
      readPrivateKey(assertion.privateKey)
    }
    for (const name of ['clientId', 'keyId'] as const) {
      const value = assertion[name]
      if (value !== undefined && typeof value !== 'string') {
        throw new ConfigurationError(`${VENDOR}: clientAssertion.${name} must be a string`, {
          setting: `clientAssertion.${name}`,
        })
      }
    }
    const explicitClientId = settings.clientId
    if (assertion.clientId && explicitClientId && assertion.clientId !== explicitClientId) {
      throw clientIdConflict()
    }
  }
}

/**
 * Resolves every setting (code first, then the environment, then defaults). Throws a
 * {@link ConfigurationError} naming the option and its variable.
 */
export function resolveSettings(settings: ApiaxSettings): ResolvedApiaxSettings {
  const environment = settings.env ?? process.env
  const lookup = { vendor: VENDOR, environment }
  const username = loadSetting({
    ...lookup,
    value: settings.username,
    setting: 'username',
    env: APIAX_ENVIRONMENT.username,
  })
  const password = loadSecret({
    ...lookup,
    value: settings.password,
    setting: 'password',
    env: APIAX_ENVIRONMENT.password,
  })
  const apiKey = checkApiKey(
    optionalSecret({
      ...lookup,
      value: settings.apiKey,
      setting: 'apiKey',
      env: APIAX_ENVIRONMENT.apiKey,
    }),
  )
  const configuredClientId = optionalSetting({
    ...lookup,
    value: settings.clientId,
    setting: 'clientId',
    env: APIAX_ENVIRONMENT.clientId,
  })
  const tokenUrl = readUrl(settings.tokenUrl, 'tokenUrl', APIAX_TOKEN_URL, environment)
  const apiUrl = readUrl(settings.apiUrl, 'apiUrl', APIAX_API_URL, environment)
  const assertion = resolveAssertion(settings.clientAssertion, configuredClientId, environment)
  return {
    username,
    password,
    apiKey,
    clientId: assertion?.clientId ?? configuredClientId ?? APIAX_CLIENT_ID,
    tokenUrl,
    apiUrl,
    assertion,
    refreshTokenMaxAge:
      refreshTokenMaxAge(settings.refreshTokenMaxAge ?? APIAX_REFRESH_TOKEN_MAX_AGE) * 1000,
  }
}

/** Only the rule engine URL (for `origins()` and the rules helper, which need nothing else). */
export function resolveApiUrl(settings: ApiaxSettings): string {
  return readUrl(settings.apiUrl, 'apiUrl', APIAX_API_URL, settings.env ?? process.env)
}

function readUrl(
  value: string | undefined,
  setting: 'tokenUrl' | 'apiUrl',
  fallback: string,
  environment: Readonly<Record<string, string | undefined>>,
): string {
  const env = APIAX_ENVIRONMENT[setting]
  const raw = optionalSetting({ vendor: VENDOR, environment, value, setting, env })
  if (raw === undefined) return fallback
  // A value from the environment is named by its variable in messages.
  return urlSetting(raw, setting, VENDOR, value ? {} : { label: env })
}

function resolveAssertion(
  settings: ApiaxClientAssertion | undefined,
  configuredClientId: string | undefined,
  environment: Readonly<Record<string, string | undefined>>,
): ResolvedAssertion | undefined {
  const lookup = { vendor: VENDOR, environment }
  let keyInput: unknown = settings?.privateKey
  let privateKey: KeyObject | undefined
  if (keyInput !== undefined && keyInput !== '') {
    privateKey = readPrivateKey(keyInput)
  } else {
    keyInput = optionalSecret({
      ...lookup,
      value: undefined,
      setting: 'clientAssertion.privateKey',
      env: APIAX_ENVIRONMENT.assertionPrivateKey,
    })
    if (keyInput) privateKey = readPrivateKey(keyInput, true)
  }
  if (privateKey === undefined) {
    if (settings !== undefined) {
      throw new ConfigurationError(
        `${VENDOR}: clientAssertion.privateKey is missing; pass { clientAssertion: { privateKey } } or set ${APIAX_ENVIRONMENT.assertionPrivateKey}`,
        { setting: 'clientAssertion.privateKey' },
      )
    }
    return undefined
  }
  const assertionClientId =
    optionalSetting({
      ...lookup,
      value: settings?.clientId,
      setting: 'clientAssertion.clientId',
      env: APIAX_ENVIRONMENT.assertionClientId,
    }) ?? configuredClientId
  if (assertionClientId === undefined) {
    throw new ConfigurationError(
      `${VENDOR}: clientAssertion.clientId is missing (the client id Apiax assigned to your key pair); pass { clientAssertion: { clientId } } or set ${APIAX_ENVIRONMENT.assertionClientId}`,
      { setting: 'clientAssertion.clientId' },
    )
  }
  if (configuredClientId !== undefined && configuredClientId !== assertionClientId) {
    throw clientIdConflict()
  }
  const keyId =
    optionalSetting({
      ...lookup,
      value: settings?.keyId,
      setting: 'clientAssertion.keyId',
      env: APIAX_ENVIRONMENT.assertionKeyId,
    }) ?? jwkKeyId(keyInput)
  return { privateKey, clientId: assertionClientId, ...(keyId ? { keyId } : {}) }
}

/** The API key goes into a header: trimmed (files often end in a newline), printable ASCII. */
function checkApiKey(apiKey: Secret | undefined): Secret | undefined {
  if (apiKey === undefined) return undefined
  const value = apiKey.reveal().trim()
  if (!/^[\x21-\x7e]+$/.test(value)) {
    throw new ConfigurationError(
      `${VENDOR}: apiKey contains spaces or characters that cannot be sent in an HTTP header; check apiKey / ${APIAX_ENVIRONMENT.apiKey}`,
      { setting: 'apiKey' },
    )
  }
  return value === apiKey.reveal() ? apiKey : new Secret(value)
}

function clientIdConflict(): ConfigurationError {
  return new ConfigurationError(
    `${VENDOR}: clientId and clientAssertion.clientId differ; with a client assertion the client_id must equal the assertion's subject, so set only clientAssertion.clientId (or ${APIAX_ENVIRONMENT.assertionClientId})`,
    { setting: 'clientId' },
  )
}

function refreshTokenMaxAge(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigurationError(
      `${VENDOR}: refreshTokenMaxAge must be a positive number of seconds (Apiax allows ${APIAX_REFRESH_TOKEN_MAX_AGE})`,
      { setting: 'refreshTokenMaxAge' },
    )
  }
  return value
}

/**
 * Reads an RSA private key from PEM (PKCS#8 or PKCS#1), a JWK (object or JSON text) or a
 * `KeyObject`. Never quotes the key in an error.
 */
export function readPrivateKey(input: unknown, fromEnvironment = false): KeyObject {
  const setting = 'clientAssertion.privateKey'
  const where = fromEnvironment ? APIAX_ENVIRONMENT.assertionPrivateKey : setting
  const unreadable = () =>
    new ConfigurationError(
      `${VENDOR}: ${where} is not a readable RSA private key; use an unencrypted PEM (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY) or a private JWK`,
      { setting },
    )
  let key: KeyObject
  if (input instanceof KeyObject) {
    key = input
  } else {
    const value = input instanceof Secret ? input.reveal() : input
    try {
      if (typeof value === 'string') {
        const text = value.trim()
        if (text.startsWith('{')) {
          key = createPrivateKey({ key: JSON.parse(text) as JsonWebKey, format: 'jwk' })
        } else {
          // Environment files often hold a PEM on one line with literal "\n" escapes.
          const pem = text.includes('\\n') ? text.replace(/\\n/g, '\n') : text
          if (pem.includes('ENCRYPTED')) {
            throw new ConfigurationError(
              `${VENDOR}: ${where} is an encrypted PEM; decrypt it first (openssl pkey -in key.pem -out plain.pem)`,
              { setting },
            )
          }
          key = createPrivateKey({ key: pem, format: 'pem' })
        }
      } else if (value !== null && typeof value === 'object') {
        key = createPrivateKey({ key: value as JsonWebKey, format: 'jwk' })
      } else {
        throw unreadable()
      }
    } catch (error) {
      if (error instanceof ConfigurationError) throw error
      throw unreadable()
    }
  }
  if (key.type !== 'private') {
    throw new ConfigurationError(
      `${VENDOR}: ${where} is a public key; the assertion is signed with the private key (give Apiax the public one)`,
      { setting },
    )
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new ConfigurationError(
      `${VENDOR}: ${where} must be an RSA key (Apiax expects RS256), not ${key.asymmetricKeyType ?? 'unknown'}`,
      { setting },
    )
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
  if (bits < 2048) {
    throw new ConfigurationError(
      `${VENDOR}: ${where} is a ${bits}-bit RSA key; RS256 needs at least 2048 bits`,
      { setting },
    )
  }
  return key
}

function jwkKeyId(input: unknown): string | undefined {
  let jwk: unknown = input
  if (input instanceof Secret || typeof input === 'string') {
    const text = (input instanceof Secret ? input.reveal() : input).trim()
    if (!text.startsWith('{')) return undefined
    try {
      jwk = JSON.parse(text)
    } catch {
      return undefined
    }
  }
  if (jwk === null || typeof jwk !== 'object' || input instanceof KeyObject) return undefined
  const kid = (jwk as { kid?: unknown }).kid
  return typeof kid === 'string' && kid.length > 0 ? kid : undefined
}

/** First 16 hex digits of SHA-256: a stable, non-reversible label for key material. */
export function fingerprint(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16)
}
