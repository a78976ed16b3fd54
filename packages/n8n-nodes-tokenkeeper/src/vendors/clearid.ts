/* eslint-disable @n8n/community-nodes/require-node-api-error --
 * Credential settings are read where n8n offers no node (see src/fields.ts). */
import { ConfigurationError } from '@tokenkeeper/auth-core'
import {
  CLEARID_ENVIRONMENTS,
  type ClearIdEnvironment,
  type ClearIdTokenSourceSettings,
  clearIdServiceUrl,
  clearIdStsUrl,
  clearIdTokenSource,
  parseClearIdKeyFile,
} from '@tokenkeeper/clearid'
import type {
  ICredentialDataDecryptedObject,
  ICredentialTestRequest,
  INodeProperties,
} from 'n8n-workflow'
import type { CredentialVendor } from '../credential-lifecycle.ts'
import {
  CUSTOM,
  expressionMap,
  omit,
  option,
  optionalText,
  requiredText,
  secretText,
} from '../fields.ts'

const VENDOR = 'Genetec ClearID'

/** Settings as read from the credential, plus where the Identity API is. */
export interface ClearIdCredentialSettings extends ClearIdTokenSourceSettings {
  /** Identity service base URL. */
  readonly identityUrl: string
  readonly accountId: string
}

const ENVIRONMENT_LABELS: Record<ClearIdEnvironment, string> = {
  demo: 'Demo (sandbox)',
  global: 'Production (global)',
  eu: 'Production (EU)',
}

/** The fields users fill in. */
export const clearIdProperties: INodeProperties[] = [
  {
    displayName: 'Environment',
    name: 'environment',
    type: 'options',
    options: [
      ...CLEARID_ENVIRONMENTS.map((environment) => ({
        name: ENVIRONMENT_LABELS[environment],
        value: environment,
        description: `STS ${clearIdStsUrl(environment)}, Identity API ${clearIdServiceUrl('identityservice', environment)}`,
      })),
      {
        name: 'Custom URLs',
        value: CUSTOM,
        description: 'Another STS and Identity API, e.g. a local emulator',
      },
    ],
    default: 'global',
    description:
      'Where the API integration was created. Credentials work only in their own environment.',
  },
  {
    displayName: 'STS URL',
    name: 'stsUrl',
    type: 'string',
    default: '',
    placeholder: 'https://sts-demo.clearid.io',
    required: true,
    displayOptions: { show: { environment: [CUSTOM] } },
    description: 'Base URL of the security token service; /connect/token is appended',
  },
  {
    displayName: 'Identity API URL',
    name: 'apiUrl',
    type: 'string',
    default: '',
    placeholder: 'https://identityservice-demo.clearid.io',
    required: true,
    displayOptions: { show: { environment: [CUSTOM] } },
    description: 'Base URL of the Identity service',
  },
  {
    displayName: 'Client ID',
    name: 'clientId',
    type: 'string',
    default: '',
    required: true,
    placeholder: '00000000-0000-0000-0000-000000000000:my-account',
    description:
      'The client ID of the API integration (ClearID portal: Administration > API integrations), of the form &lt;guid&gt;:&lt;account ID&gt;. It is also in the downloaded key file.',
  },
  {
    displayName: 'Authentication',
    name: 'authentication',
    type: 'options',
    options: [
      {
        name: 'Private Key (JWT Assertion)',
        value: 'privateKey',
        description: 'Signs a short-lived RS512 assertion with the key of the downloaded key file',
      },
      {
        name: 'Client Secret',
        value: 'clientSecret',
        description: 'Sends the integration secret to the STS',
      },
    ],
    default: 'privateKey',
  },
  {
    displayName: 'Private Key',
    name: 'privateKey',
    type: 'string',
    typeOptions: { password: true, rows: 8 },
    default: '',
    required: true,
    displayOptions: { show: { authentication: ['privateKey'] } },
    placeholder: '-----BEGIN PRIVATE KEY-----',
    description:
      'The RSA private key of the integration: paste the whole key file downloaded from the ClearID portal (key-&lt;systemID&gt;-&lt;name&gt;.json), or the key alone as PEM or JWK. Regenerating the key in the portal invalidates the old one at once.',
  },
  {
    displayName: 'Client Secret',
    name: 'clientSecret',
    type: 'string',
    typeOptions: { password: true },
    default: '',
    required: true,
    displayOptions: { show: { authentication: ['clientSecret'] } },
    description: 'The client secret of the API integration',
  },
  {
    displayName: 'Account ID',
    name: 'accountId',
    type: 'string',
    default: '',
    description:
      'The ClearID account whose data the API calls use. Leave empty to use the part of the client ID after the colon.',
  },
]

const IDENTITY_URLS = Object.fromEntries(
  CLEARID_ENVIRONMENTS.map((environment) => [
    environment,
    clearIdServiceUrl('identityservice', environment),
  ]),
)

/** Expression for the Identity API base URL of a credential (credential test, HTTP Request). */
export const CLEARID_API_URL_EXPRESSION = `={{ $credentials.environment === '${CUSTOM}' ? $credentials.apiUrl.replace(/\\/+$/, '') : ${expressionMap(IDENTITY_URLS)}[$credentials.environment] }}`

/**
 * The credential test: lists one identity of the account with the token (no token request when
 * a valid one is stored).
 */
export const clearIdTest: ICredentialTestRequest = {
  request: {
    baseURL: CLEARID_API_URL_EXPRESSION,
    url: "={{ '/api/v2/accounts/' + encodeURIComponent($credentials.accountId || String($credentials.clientId).split(':')[1] || '') + '/identities' }}",
    qs: { take: 1 },
  },
}

/** ClearID for the credential lifecycle: `clearIdTokenSource` of `@tokenkeeper/clearid`. */
export const clearIdVendor: CredentialVendor<ClearIdCredentialSettings> = {
  credentialType: 'clearIdApi',
  displayName: VENDOR,
  settings: readClearIdSettings,
  secrets: (settings) => [secretText(settings.clientSecret), secretText(settings.privateKey)],
  createSource: (settings) => clearIdTokenSource(omit(settings, 'identityUrl')),
  probeRequest: (settings) => ({
    url: `${settings.identityUrl}/api/v2/accounts/${encodeURIComponent(settings.accountId)}/identities?take=1`,
    method: 'GET',
  }),
}

function readClearIdSettings(
  credentials: ICredentialDataDecryptedObject,
): ClearIdCredentialSettings {
  const environment = option(
    credentials,
    'environment',
    [...CLEARID_ENVIRONMENTS, CUSTOM] as const,
    'global',
  )
  const clientId = requiredText(credentials, 'clientId', 'Client ID', VENDOR)
  const authentication = option(
    credentials,
    'authentication',
    ['privateKey', 'clientSecret'] as const,
    'privateKey',
  )
  const accountId =
    optionalText(credentials, 'accountId') ?? clientId.slice(clientId.indexOf(':') + 1).trim()
  if (!clientId.includes(':') && optionalText(credentials, 'accountId') === undefined) {
    throw new ConfigurationError(
      `${VENDOR}: "Account ID" is empty and the client ID has no account part (<guid>:<account ID>); fill in the account ID`,
      { setting: 'accountId' },
    )
  }
  const location =
    environment === CUSTOM
      ? {
          stsUrl: requiredText(credentials, 'stsUrl', 'STS URL', VENDOR).replace(/\/+$/, ''),
          apiUrl: requiredText(credentials, 'apiUrl', 'Identity API URL', VENDOR).replace(
            /\/+$/,
            '',
          ),
        }
      : { environment, apiUrl: clearIdServiceUrl('identityservice', environment) }
  const credential =
    authentication === 'privateKey'
      ? { privateKey: readPrivateKey(credentials) }
      : { clientSecret: requiredText(credentials, 'clientSecret', 'Client Secret', VENDOR) }
  return {
    ...location,
    clientId,
    accountId,
    ...credential,
    // Settings come from the credential only, never from the n8n server's variables or files.
    env: {},
    identityUrl: location.apiUrl,
  }
}

/** The private key field: a whole key file (JSON with a private key inside), PEM or JWK. */
function readPrivateKey(credentials: ICredentialDataDecryptedObject): string {
  const text = requiredText(credentials, 'privateKey', 'Private Key', VENDOR)
  if (!text.startsWith('{')) return text
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new ConfigurationError(
      `${VENDOR}: "Private Key" starts like JSON but is not valid JSON; paste the key file or the key again`,
      { setting: 'privateKey' },
    )
  }
  // A bare JWK has `kty`; a key file wraps the key with ids and URLs.
  if (typeof parsed === 'object' && parsed !== null && 'kty' in parsed) return text
  const keyFile = parseClearIdKeyFile(parsed as object)
  if (keyFile.privateKey === undefined) {
    throw new ConfigurationError(
      `${VENDOR}: the key file in "Private Key" holds no private key; download the key file again or choose Client Secret`,
      { setting: 'privateKey' },
    )
  }
  return keyFile.privateKey.reveal()
}
