import {
  APIAX_API_URL,
  APIAX_CLIENT_ID,
  APIAX_TOKEN_URL,
  type ApiaxSettings,
  apiaxTokenSource,
} from '@tokenkeeper/apiax'
import type {
  ICredentialDataDecryptedObject,
  ICredentialTestRequest,
  INodeProperties,
} from 'n8n-workflow'
import type { CredentialVendor } from '../credential-lifecycle.ts'
import { CUSTOM, omit, option, requiredText, secretText } from '../fields.ts'

const VENDOR = 'Apiax'

/** Settings as read from the credential, plus the rule engine URL. */
export interface ApiaxCredentialSettings extends ApiaxSettings {
  readonly ruleEngineUrl: string
}

/** The fields users fill in. */
export const apiaxProperties: INodeProperties[] = [
  {
    displayName: 'Environment',
    name: 'environment',
    type: 'options',
    options: [
      {
        name: 'Apiax',
        value: 'production',
        description: `Token URL ${APIAX_TOKEN_URL}, rule engine ${APIAX_API_URL}. Test or production rule sets are chosen by the API key.`,
      },
      { name: 'Custom URLs', value: CUSTOM, description: 'Another Keycloak and rule engine' },
    ],
    default: 'production',
  },
  {
    displayName: 'Token URL',
    name: 'tokenUrl',
    type: 'string',
    default: '',
    required: true,
    placeholder: APIAX_TOKEN_URL,
    displayOptions: { show: { environment: [CUSTOM] } },
    description: 'The Keycloak token endpoint',
  },
  {
    displayName: 'Rule Engine URL',
    name: 'apiUrl',
    type: 'string',
    default: '',
    required: true,
    placeholder: APIAX_API_URL,
    displayOptions: { show: { environment: [CUSTOM] } },
    description: 'Base URL of the rule engine API',
  },
  {
    displayName: 'Username',
    name: 'username',
    type: 'string',
    default: '',
    required: true,
    description: 'The technical or group account Apiax support issued to you',
  },
  {
    displayName: 'Password',
    name: 'password',
    type: 'string',
    typeOptions: { password: true },
    default: '',
    required: true,
    description:
      'The password of that account. After Apiax refuses it, it is not sent again until the credential is saved again, so that the account is not locked.',
  },
  {
    displayName: 'API Key',
    name: 'apiKey',
    type: 'string',
    typeOptions: { password: true },
    default: '',
    required: true,
    description:
      'The API key Apiax issued, sent as the Apikey header next to the token. It selects the test or production rule sets.',
  },
  {
    displayName: 'Use Client Assertion (2FA)',
    name: 'useClientAssertion',
    type: 'boolean',
    default: false,
    description:
      'Whether token requests also carry an RS256 client assertion signed with your private key (Apiax "2FA login for API access")',
  },
  {
    displayName: 'Assertion Client ID',
    name: 'assertionClientId',
    type: 'string',
    default: '',
    required: true,
    displayOptions: { show: { useClientAssertion: [true] } },
    description: 'The client ID Apiax assigned to your key pair',
  },
  {
    displayName: 'Assertion Private Key',
    name: 'assertionPrivateKey',
    type: 'string',
    typeOptions: { password: true, rows: 8 },
    default: '',
    required: true,
    displayOptions: { show: { useClientAssertion: [true] } },
    placeholder: '-----BEGIN PRIVATE KEY-----',
    description:
      'The RSA private key (PEM or JWK) whose public half you gave Apiax, at least 2048 bits',
  },
]

/** Expression for the rule engine base URL of a credential. */
export const APIAX_API_URL_EXPRESSION = `={{ $credentials.environment === '${CUSTOM}' ? $credentials.apiUrl.replace(/\\/+$/, '') : '${APIAX_API_URL}' }}`

/** The credential test: a rule inspection without products (reads nothing). */
export const apiaxTest: ICredentialTestRequest = {
  request: {
    baseURL: APIAX_API_URL_EXPRESSION,
    url: '/api/v3/rules/inspect',
    method: 'POST',
    body: { products: [], versionFilter: 'latest' },
    json: true,
  },
}

/** Apiax for the credential lifecycle: `apiaxTokenSource` of `@tokenkeeper/apiax`. */
export const apiaxVendor: CredentialVendor<ApiaxCredentialSettings> = {
  credentialType: 'apiaxApi',
  displayName: VENDOR,
  settings: readApiaxSettings,
  secrets: (settings) => [
    secretText(settings.password),
    secretText(settings.clientAssertion?.privateKey),
  ],
  createSource: (settings) => apiaxTokenSource(omit(settings, 'ruleEngineUrl')),
  // The same call as the credential test: an inspection without products reads nothing.
  probeRequest: (settings) => ({
    url: `${settings.ruleEngineUrl}/api/v3/rules/inspect`,
    method: 'POST',
    body: JSON.stringify({ products: [], versionFilter: 'latest' }),
    headers: { 'content-type': 'application/json' },
  }),
}

function readApiaxSettings(credentials: ICredentialDataDecryptedObject): ApiaxCredentialSettings {
  const environment = option(
    credentials,
    'environment',
    ['production', CUSTOM] as const,
    'production',
  )
  const tokenUrl =
    environment === CUSTOM
      ? requiredText(credentials, 'tokenUrl', 'Token URL', VENDOR)
      : APIAX_TOKEN_URL
  const ruleEngineUrl =
    environment === CUSTOM
      ? requiredText(credentials, 'apiUrl', 'Rule Engine URL', VENDOR).replace(/\/+$/, '')
      : APIAX_API_URL
  const useClientAssertion = credentials.useClientAssertion === true
  return {
    username: requiredText(credentials, 'username', 'Username', VENDOR),
    password: requiredText(credentials, 'password', 'Password', VENDOR),
    apiKey: requiredText(credentials, 'apiKey', 'API Key', VENDOR),
    tokenUrl,
    apiUrl: ruleEngineUrl,
    ...(useClientAssertion
      ? {
          clientAssertion: {
            clientId: requiredText(credentials, 'assertionClientId', 'Assertion Client ID', VENDOR),
            privateKey: requiredText(
              credentials,
              'assertionPrivateKey',
              'Assertion Private Key',
              VENDOR,
            ),
          },
        }
      : { clientId: APIAX_CLIENT_ID }),
    // Settings come from the credential only, never from the n8n server's variables.
    env: {},
    ruleEngineUrl,
  }
}
