import {
  AKAMAI_IDENTITY_ENVIRONMENT,
  akamaiIdentityTokenSource,
} from '@tokenkeeper/akamai-identity'
import { APIAX_ENVIRONMENT, apiaxTokenSource } from '@tokenkeeper/apiax'
import type { TokenSource } from '@tokenkeeper/auth-core'
import { CLEAR_ENVIRONMENT_VARIABLES, clearCfcTokenSource } from '@tokenkeeper/clear-cfc'
import {
  CLEARID_ENVIRONMENT_VARIABLES,
  clearIdTokenSource,
  resolveClearIdLocation,
} from '@tokenkeeper/clearid'

/** The vendors the command knows, by their short names. */
export type VendorId = 'clearid' | 'clear' | 'akamai' | 'apiax'

/** Environment variables, as `process.env`. */
export type Environment = Readonly<Record<string, string | undefined>>

/** One setting of a vendor package, and how it is given on the command line. */
export interface SettingSpec {
  /** The vendor package's setting name; nested ones dotted, e.g. `clientAssertion.privateKey`. */
  readonly name: string
  /** Command-line flag without the dashes, e.g. `client-secret`. */
  readonly flag: string
  /** The vendor package's environment variable for it, if it has one. */
  readonly env?: string
  /** A secret: never printed, and redacted from any message. */
  readonly secret?: boolean
  /** The flag takes a path whose content is the value (private keys). */
  readonly fromFile?: boolean
  /** The value is a path, resolved against the working directory (flag) or the config file. */
  readonly path?: boolean
  /** Only in the `--config` file (e.g. an object of headers). */
  readonly configOnly?: boolean
  /** Placeholder in help, e.g. `<url>`. */
  readonly placeholder: string
  readonly description: string
}

/** What the command needs from a vendor package. */
export interface VendorSpec {
  readonly id: VendorId
  /** Product name for humans. */
  readonly title: string
  readonly packageName: string
  /** Other names accepted on the command line (the package name among them). */
  readonly aliases: readonly string[]
  readonly settings: readonly SettingSpec[]
  /** What must be given, in one or two lines, for `tokenkeeper vendors`. */
  readonly requirements: readonly string[]
  /**
   * Whether the file token cache is on unless `--no-cache`. Off for ClearID, whose vendor asks
   * that tokens never be stored; `--cache` turns it on.
   */
  readonly cacheByDefault: boolean
  /** Builds the vendor's token source from settings (package names) and the environment. */
  createSource(settings: Record<string, unknown>, env: Environment): VendorSource
}

/** A token source and where its API lives. */
export interface VendorSource {
  readonly source: TokenSource
  /** The absolute URL of an API path (`/api/...`) of this vendor. */
  apiUrl(path: string): string
}

const url = '<url>'

/** Joins a base URL and an absolute path without doubling the slash. */
function join(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`
}

const clearid: VendorSpec = {
  id: 'clearid',
  title: 'Genetec ClearID',
  packageName: '@tokenkeeper/clearid',
  aliases: ['@tokenkeeper/clearid', 'genetec', 'genetec-clearid'],
  cacheByDefault: false,
  requirements: [
    'client id and a credential: --client-id with --client-secret or --private-key-file, or a portal --key-file',
    'where: --environment (demo, global, eu; default global) or --sts-url',
  ],
  settings: [
    {
      name: 'clientId',
      flag: 'client-id',
      env: CLEARID_ENVIRONMENT_VARIABLES.clientId,
      placeholder: '<guid:account>',
      description: "The API integration's client id, <guid>:<accountId>",
    },
    {
      name: 'clientSecret',
      flag: 'client-secret',
      env: CLEARID_ENVIRONMENT_VARIABLES.clientSecret,
      secret: true,
      placeholder: '<secret>',
      description: 'Client secret (grant client_credentials)',
    },
    {
      name: 'privateKey',
      flag: 'private-key-file',
      env: CLEARID_ENVIRONMENT_VARIABLES.privateKey,
      secret: true,
      fromFile: true,
      placeholder: '<file>',
      description:
        'RSA private key (PEM or JWK) for the RS512 assertion grant; the variable holds the key itself',
    },
    {
      name: 'keyFile',
      flag: 'key-file',
      env: CLEARID_ENVIRONMENT_VARIABLES.keyFile,
      path: true,
      placeholder: '<file>',
      description: 'JSON key file downloaded from the ClearID portal',
    },
    {
      name: 'environment',
      flag: 'environment',
      env: CLEARID_ENVIRONMENT_VARIABLES.environment,
      placeholder: '<name>',
      description: 'demo, global (default) or eu',
    },
    {
      name: 'stsUrl',
      flag: 'sts-url',
      env: CLEARID_ENVIRONMENT_VARIABLES.stsUrl,
      placeholder: url,
      description: 'STS base URL instead of the environment (e.g. the emulator)',
    },
    {
      name: 'apiUrl',
      flag: 'api-url',
      env: CLEARID_ENVIRONMENT_VARIABLES.apiUrl,
      placeholder: url,
      description: 'Identity service base URL; the only origin that receives the token',
    },
    {
      name: 'accountId',
      flag: 'account-id',
      env: CLEARID_ENVIRONMENT_VARIABLES.accountId,
      placeholder: '<id>',
      description: 'Account id (default: the part of the client id after ":")',
    },
  ],
  createSource(settings, env) {
    const source = clearIdTokenSource({ ...settings, env })
    return {
      source,
      apiUrl: (path) => join(resolveClearIdLocation({ ...settings, env }).apiUrl, path),
    }
  },
}

const clear: VendorSpec = {
  id: 'clear',
  title: 'Clear Finance Cloud',
  packageName: '@tokenkeeper/clear-cfc',
  aliases: ['@tokenkeeper/clear-cfc', 'clear-cfc', 'cleartax'],
  cacheByDefault: true,
  requirements: [
    'credential: --client-secret (or a portal --access-token)',
    'where: --environment (india-sandbox, india-production, eu, malaysia-sandbox) or --base-url',
  ],
  settings: [
    {
      name: 'clientSecret',
      flag: 'client-secret',
      env: CLEAR_ENVIRONMENT_VARIABLES.clientSecret,
      secret: true,
      placeholder: '<secret>',
      description: 'API client secret; every token issued revokes the previous one',
    },
    {
      name: 'accessToken',
      flag: 'access-token',
      env: CLEAR_ENVIRONMENT_VARIABLES.accessToken,
      secret: true,
      placeholder: '<token>',
      description: 'A token generated in the Clear portal, used as is',
    },
    {
      name: 'environment',
      flag: 'environment',
      env: CLEAR_ENVIRONMENT_VARIABLES.environment,
      placeholder: '<name>',
      description: 'india-sandbox, india-production, eu or malaysia-sandbox',
    },
    {
      name: 'baseUrl',
      flag: 'base-url',
      env: CLEAR_ENVIRONMENT_VARIABLES.baseUrl,
      placeholder: url,
      description: 'API base URL instead of an environment (e.g. the emulator)',
    },
    {
      name: 'tokenHeader',
      flag: 'token-header',
      env: CLEAR_ENVIRONMENT_VARIABLES.tokenHeader,
      placeholder: '<name>',
      description: 'Header that carries the token (default x-cleartax-auth-token)',
    },
    {
      name: 'headers',
      flag: 'headers',
      configOnly: true,
      placeholder: '<object>',
      description:
        'Static headers for every call, e.g. {"x-workspace-id": "..."} (config file only)',
    },
  ],
  createSource(settings, env) {
    const source = clearCfcTokenSource({ ...settings, env })
    return { source, apiUrl: (path) => source.apiUrl(path) }
  },
}

const akamai: VendorSpec = {
  id: 'akamai',
  title: 'Akamai Identity Cloud',
  packageName: '@tokenkeeper/akamai-identity',
  aliases: ['@tokenkeeper/akamai-identity', 'akamai-identity', 'janrain'],
  cacheByDefault: true,
  requirements: [
    'credential: --client-id and --client-secret of a configuration client',
    'where: --oidc-url (gives host and customer), or --region or --base-url with --customer-id',
  ],
  settings: [
    {
      name: 'oidcUrl',
      flag: 'oidc-url',
      env: AKAMAI_IDENTITY_ENVIRONMENT.oidcUrl,
      placeholder: url,
      description: "Console's oidc_url, https://v1.api.<region>.janrain.com/<customerId>/login",
    },
    {
      name: 'region',
      flag: 'region',
      env: AKAMAI_IDENTITY_ENVIRONMENT.region,
      placeholder: '<region>',
      description: 'us, eu, jp, ...',
    },
    {
      name: 'baseUrl',
      flag: 'base-url',
      env: AKAMAI_IDENTITY_ENVIRONMENT.baseUrl,
      placeholder: url,
      description: 'API host instead of a region (e.g. the emulator)',
    },
    {
      name: 'customerId',
      flag: 'customer-id',
      env: AKAMAI_IDENTITY_ENVIRONMENT.customerId,
      placeholder: '<id>',
      description: "Console's customer_id (not needed with --oidc-url)",
    },
    {
      name: 'clientId',
      flag: 'client-id',
      env: AKAMAI_IDENTITY_ENVIRONMENT.clientId,
      placeholder: '<id>',
      description: "Configuration client's id",
    },
    {
      name: 'clientSecret',
      flag: 'client-secret',
      env: AKAMAI_IDENTITY_ENVIRONMENT.clientSecret,
      secret: true,
      placeholder: '<secret>',
      description: "Configuration client's secret",
    },
    {
      name: 'scope',
      flag: 'scope',
      env: AKAMAI_IDENTITY_ENVIRONMENT.scope,
      placeholder: '<scope>',
      description: 'Scope to request (default *:webhooks/**)',
    },
  ],
  createSource(settings, env) {
    const source = akamaiIdentityTokenSource({ ...settings, env })
    return {
      source,
      apiUrl: (path) => {
        const origin = source.origins?.()[0]
        if (origin === undefined) throw new Error('akamai-identity: no API origin')
        return join(origin, path)
      },
    }
  },
}

const apiax: VendorSpec = {
  id: 'apiax',
  title: 'Apiax',
  packageName: '@tokenkeeper/apiax',
  aliases: ['@tokenkeeper/apiax'],
  cacheByDefault: true,
  requirements: [
    'credential: --username and --password of the technical account',
    'API calls also need --api-key; --token-url and --api-url point elsewhere (e.g. the emulator)',
  ],
  settings: [
    {
      name: 'username',
      flag: 'username',
      env: APIAX_ENVIRONMENT.username,
      placeholder: '<name>',
      description: 'Technical account issued by Apiax support',
    },
    {
      name: 'password',
      flag: 'password',
      env: APIAX_ENVIRONMENT.password,
      secret: true,
      placeholder: '<password>',
      description: 'Its password (a refused password is never retried: accounts lock)',
    },
    {
      name: 'apiKey',
      flag: 'api-key',
      env: APIAX_ENVIRONMENT.apiKey,
      secret: true,
      placeholder: '<key>',
      description: 'Sent as Apikey on API calls; selects test or production rule sets',
    },
    {
      name: 'clientId',
      flag: 'client-id',
      env: APIAX_ENVIRONMENT.clientId,
      placeholder: '<id>',
      description: 'OAuth client (default integration-api)',
    },
    {
      name: 'tokenUrl',
      flag: 'token-url',
      env: APIAX_ENVIRONMENT.tokenUrl,
      placeholder: url,
      description: 'Keycloak token endpoint (e.g. the emulator)',
    },
    {
      name: 'apiUrl',
      flag: 'api-url',
      env: APIAX_ENVIRONMENT.apiUrl,
      placeholder: url,
      description: 'Rule engine base URL; the only origin that receives the token',
    },
    {
      name: 'clientAssertion.privateKey',
      flag: 'assertion-private-key-file',
      env: APIAX_ENVIRONMENT.assertionPrivateKey,
      secret: true,
      fromFile: true,
      placeholder: '<file>',
      description: '2FA: RSA private key (PEM or JWK); the variable holds the key itself',
    },
    {
      name: 'clientAssertion.clientId',
      flag: 'assertion-client-id',
      env: APIAX_ENVIRONMENT.assertionClientId,
      placeholder: '<id>',
      description: '2FA: the client id Apiax assigned to the key',
    },
    {
      name: 'clientAssertion.keyId',
      flag: 'assertion-key-id',
      env: APIAX_ENVIRONMENT.assertionKeyId,
      placeholder: '<kid>',
      description: '2FA: optional kid header',
    },
  ],
  createSource(settings, env) {
    const source = apiaxTokenSource({ ...settings, env })
    return { source, apiUrl: (path) => join(source.apiUrl(), path) }
  },
}

/** Every vendor, in the order the command lists them. */
export const VENDOR_SPECS: readonly VendorSpec[] = [clearid, clear, akamai, apiax]

/** Finds a vendor by its short name, an alias or its package name (case-insensitive). */
export function findVendor(name: string): VendorSpec | undefined {
  const wanted = name.trim().toLowerCase()
  return VENDOR_SPECS.find((spec) => spec.id === wanted || spec.aliases.includes(wanted))
}

/** Every setting flag of every vendor (the union is what the parser accepts). */
export function allSettingFlags(): Map<string, SettingSpec[]> {
  const flags = new Map<string, SettingSpec[]>()
  for (const spec of VENDOR_SPECS) {
    for (const setting of spec.settings) {
      if (setting.configOnly) continue
      flags.set(setting.flag, [...(flags.get(setting.flag) ?? []), setting])
    }
  }
  return flags
}
