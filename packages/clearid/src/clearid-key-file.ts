import { readFileSync } from 'node:fs'
import { ConfigurationError, Secret } from '@tokenkeeper/auth-core'
import { type ClearIdEnvironment, parseClearIdEnvironment, VENDOR } from './clearid-environments.ts'

/**
 * What a ClearID key file holds, under the names of the settings, so it can be spread into
 * them: `createClearId({ ...loadClearIdKeyFile('key.json'), environment: 'demo' })`. Secrets
 * are wrapped in {@link Secret}, so printing the object shows no key material.
 */
export interface ClearIdKeyFile {
  clientId?: string
  clientSecret?: Secret
  /** PEM text or JWK JSON text. */
  privateKey?: Secret
  accountId?: string
  stsUrl?: string
  apiUrl?: string
  environment?: ClearIdEnvironment
}

/** Key files are a few KiB; anything much larger is the wrong file. */
const MAX_KEY_FILE_BYTES = 1024 * 1024

/**
 * Field names accepted for each setting, compared after lower-casing and dropping everything
 * but letters and digits (`client_id`, `ClientId` and `client-id` are one name). The portal's
 * exact names are not published, so this is deliberately generous.
 */
const ALIASES: Record<keyof ClearIdKeyFile, readonly string[]> = {
  clientId: ['clientid', 'oauthclientid', 'apiclientid', 'integrationclientid'],
  clientSecret: [
    'clientsecret',
    'secret',
    'oauthclientsecret',
    'apiclientsecret',
    'apisecret',
    'integrationsecret',
    'sharedsecret',
  ],
  privateKey: [
    'privatekey',
    'privatekeypem',
    'privatekeyjwk',
    'privatejwk',
    'rsaprivatekey',
    'signingkey',
    'jwk',
    'key',
    'pem',
  ],
  accountId: ['accountid', 'clearidaccountid', 'account'],
  stsUrl: [
    'stsurl',
    'stsuri',
    'sts',
    'stsaddress',
    'stsendpoint',
    'stsbaseurl',
    'authority',
    'authorityurl',
    'issuer',
    'identityserverurl',
    'tokenurl',
    'tokenendpoint',
  ],
  apiUrl: ['apiurl', 'apibaseurl', 'identityserviceurl', 'identityurl', 'apiendpoint'],
  environment: ['environment', 'env'],
}

/** Members of an RSA private JWK (RFC 7518 §6.3) plus the generic ones jose understands. */
const JWK_MEMBERS = ['kty', 'n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi', 'alg', 'kid', 'use']

type JsonObject = Record<string, unknown>

const normalise = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '')

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const isPrivateJwk = (value: unknown): value is JsonObject =>
  isObject(value) && typeof value.kty === 'string' && typeof value.d === 'string'

/**
 * Reads the JSON key file downloaded from the ClearID portal (Administration > API
 * integrations; default name `key-<systemID>-<name>.json`), leniently: field names are matched
 * case-insensitively and ignoring `_`/`-`, one level of nesting is searched, the private key
 * may be a PEM string or a JWK (nested, or the whole file), and a file holding only a PEM
 * private key is accepted too.
 *
 * Synchronous: it is a small local file, read once when the settings are resolved.
 *
 * @throws {ConfigurationError} when the file cannot be read or holds nothing usable. Messages
 * name the file and the fields found, never their values.
 *
 * @example
 * const clearId = createClearId({ ...loadClearIdKeyFile('./key-1234-reporting.json') })
 */
export function loadClearIdKeyFile(path: string): ClearIdKeyFile {
  return readKeyFile(path, `keyFile ${JSON.stringify(path)}`)
}

/** Reads a key file; `label` names it (and the option or variable it came from) in errors. */
export function readKeyFile(path: string, label: string): ClearIdKeyFile {
  if (typeof path !== 'string' || path.trim() === '') {
    throw new ConfigurationError(`${VENDOR}: keyFile must be a file path`, { setting: 'keyFile' })
  }
  let content: Buffer
  try {
    content = readFileSync(path)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    const reason =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES' || code === 'EPERM'
          ? 'cannot be read (permission denied)'
          : code === 'EISDIR'
            ? 'is a directory, not a file'
            : `cannot be read${typeof code === 'string' ? ` (${code})` : ''}`
    throw new ConfigurationError(
      `${VENDOR}: ${label} ${reason}; point it at the JSON key file downloaded from the ClearID portal`,
      { setting: 'keyFile' },
    )
  }
  if (content.byteLength > MAX_KEY_FILE_BYTES) {
    throw new ConfigurationError(
      `${VENDOR}: ${label} is larger than ${MAX_KEY_FILE_BYTES} bytes; it is not a ClearID key file`,
      { setting: 'keyFile' },
    )
  }
  return parseKeyFile(content.toString('utf8'), label)
}

/**
 * Parses the content of a ClearID key file (JSON text, an already parsed object, or PEM text)
 * with the same leniency as {@link loadClearIdKeyFile}.
 *
 * @example
 * const keyFile = parseClearIdKeyFile(process.env.CLEARID_KEY_JSON ?? '')
 */
export function parseClearIdKeyFile(content: string | object): ClearIdKeyFile {
  return parseKeyFile(content, 'key file')
}

/** Parses key-file content; `label` names it (and where it came from) in errors. */
export function parseKeyFile(content: string | object, label: string): ClearIdKeyFile {
  const fail = (problem: string): never => {
    throw new ConfigurationError(`${VENDOR}: ${label} ${problem}`, { setting: 'keyFile' })
  }
  let data: unknown = content
  if (typeof content === 'string') {
    const text = content.replace(/^\uFEFF/, '').trim()
    if (text.startsWith('-----BEGIN')) return { privateKey: new Secret(text) }
    try {
      data = JSON.parse(text)
    } catch {
      return fail('is not valid JSON (nor a PEM private key)')
    }
  }
  if (!isObject(data)) return fail('is not a JSON object')

  const found = collectFields(data)
  const result: ClearIdKeyFile = {}
  const text = (field: keyof ClearIdKeyFile): string | undefined => {
    const value = found.get(field)
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined
  }

  const clientId = text('clientId')
  if (clientId) result.clientId = clientId
  const secret = found.get('clientSecret')
  if (typeof secret === 'string' && secret !== '') result.clientSecret = new Secret(secret)

  const key = isPrivateJwk(data) ? data : found.get('privateKey')
  if (isPrivateJwk(key)) {
    const jwk = Object.fromEntries(
      JWK_MEMBERS.filter((name) => name in key).map((name) => [name, key[name]]),
    )
    result.privateKey = new Secret(JSON.stringify(jwk))
    // A Genetec JWK's kid is the client id (it is also the assertion's kid).
    if (!result.clientId && typeof key.kid === 'string' && key.kid.includes(':')) {
      result.clientId = key.kid
    }
  } else if (typeof key === 'string' && key.trim() !== '') {
    result.privateKey = new Secret(key)
  }

  const accountId = text('accountId')
  if (accountId) result.accountId = accountId
  const stsUrl = text('stsUrl')
  if (stsUrl) result.stsUrl = stsUrl
  const apiUrl = text('apiUrl')
  if (apiUrl) result.apiUrl = apiUrl
  const environment = text('environment')
  if (environment) {
    result.environment = parseClearIdEnvironment(environment, `the environment field of ${label}`)
  }

  if (!result.clientId && !result.clientSecret && !result.privateKey) {
    const names = Object.keys(data).slice(0, 20)
    fail(
      `has no client id, client secret or private key field${names.length > 0 ? ` (fields found: ${names.join(', ')})` : ''}`,
    )
  }
  return result
}

/**
 * Finds the first value for each setting: top-level fields first, then fields of nested
 * objects (one level), so `{ "credentials": { "clientId": ... } }` works too.
 */
function collectFields(data: JsonObject): Map<keyof ClearIdKeyFile, unknown> {
  const lookup = new Map<string, keyof ClearIdKeyFile>()
  for (const [setting, names] of Object.entries(ALIASES) as Array<
    [keyof ClearIdKeyFile, readonly string[]]
  >) {
    for (const name of names) lookup.set(name, setting)
  }
  const found = new Map<keyof ClearIdKeyFile, unknown>()
  const visit = (object: JsonObject) => {
    for (const [name, value] of Object.entries(object)) {
      const setting = lookup.get(normalise(name))
      if (setting === undefined || found.has(setting)) continue
      // A private key may be an object (a JWK); everything else must be a string.
      if (typeof value === 'string' || (setting === 'privateKey' && isPrivateJwk(value))) {
        found.set(setting, value)
      }
    }
  }
  visit(data)
  for (const value of Object.values(data)) if (isObject(value)) visit(value)
  return found
}
