import {
  CLEAR_ENVIRONMENTS,
  type ClearCfcEnvironment,
  type ClearCfcSourceSettings,
  clearCfcTokenSource,
  DEFAULT_TOKEN_HEADER,
} from '@tokenkeeper/clear-cfc'
import type {
  ICredentialDataDecryptedObject,
  ICredentialTestRequest,
  INodeProperties,
} from 'n8n-workflow'
import type { CredentialVendor } from '../credential-lifecycle.ts'
import {
  CUSTOM,
  expressionMap,
  headerObject,
  omit,
  option,
  optionalText,
  requiredText,
  secretText,
} from '../fields.ts'

const VENDOR = 'Clear Finance Cloud'

/** Settings as read from the credential, plus the API base URL. */
export interface ClearCfcCredentialSettings extends ClearCfcSourceSettings {
  readonly apiBaseUrl: string
}

const ENVIRONMENT_LABELS: Record<ClearCfcEnvironment, string> = {
  'india-sandbox': 'India Sandbox',
  'india-production': 'India Production',
  eu: 'European Union (Belgium)',
  'malaysia-sandbox': 'Malaysia Sandbox',
}

const ENVIRONMENT_NAMES = Object.keys(CLEAR_ENVIRONMENTS) as ClearCfcEnvironment[]

/** The fields users fill in. */
export const clearCfcProperties: INodeProperties[] = [
  {
    displayName: 'Environment',
    name: 'environment',
    type: 'options',
    options: [
      ...ENVIRONMENT_NAMES.map((environment) => ({
        name: ENVIRONMENT_LABELS[environment],
        value: environment,
        description: CLEAR_ENVIRONMENTS[environment],
      })),
      {
        name: 'Custom URL',
        value: CUSTOM,
        description: 'Another Clear environment, or an emulator',
      },
    ],
    default: 'india-sandbox',
    description: 'A client secret belongs to exactly one environment and workspace',
  },
  {
    displayName: 'Base URL',
    name: 'baseUrl',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'https://api-sandbox.clear.in',
    displayOptions: { show: { environment: [CUSTOM] } },
    description: 'Base URL of the Clear API, without a path',
  },
  {
    displayName: 'Authentication',
    name: 'authentication',
    type: 'options',
    options: [
      {
        name: 'Client Secret',
        value: 'clientSecret',
        description: 'Tokens are requested from Clear and renewed automatically',
      },
      {
        name: 'Portal Token',
        value: 'portalToken',
        description: 'A long-lived token generated in the Clear portal, used as is',
      },
    ],
    default: 'clientSecret',
  },
  {
    displayName: 'Client Secret',
    name: 'clientSecret',
    type: 'string',
    typeOptions: { password: true },
    default: '',
    required: true,
    displayOptions: { show: { authentication: ['clientSecret'] } },
    description:
      'An API client secret created by a Clear admin (Settings > API clients in app.clear.in or app-sandbox.clear.in). Every new token revokes the previous one and Clear allows 288 token requests a day, so use this secret in this one credential only.',
  },
  {
    displayName: 'Portal Token',
    name: 'portalToken',
    type: 'string',
    typeOptions: { password: true },
    default: '',
    required: true,
    displayOptions: { show: { authentication: ['portalToken'] } },
    description:
      'A user token generated in the Clear portal. It is sent as is and never renewed; generate a new one when Clear rejects it.',
  },
  {
    displayName: 'Token Header',
    name: 'tokenHeader',
    type: 'string',
    default: DEFAULT_TOKEN_HEADER,
    description: `Header that carries the token to Clear's APIs. Keep ${DEFAULT_TOKEN_HEADER} unless your product's documentation names another (some Malaysia pages say x-clear-auth-token).`,
  },
  {
    displayName: 'Additional Headers',
    name: 'headers',
    type: 'json',
    default: '{}',
    description:
      'Headers your Clear product needs on every call, as a JSON object, e.g. {"x-workspace-id": "...", "x-cleartax-product": "EInvoice"} or {"gstin": "..."}',
  },
]

const BASE_URLS = { ...CLEAR_ENVIRONMENTS }

/** Expression for the API base URL of a credential. */
export const CLEAR_BASE_URL_EXPRESSION = `={{ $credentials.environment === '${CUSTOM}' ? $credentials.baseUrl.replace(/\\/+$/, '') : ${expressionMap(BASE_URLS)}[$credentials.environment] }}`

/** The documented cheap authenticated call: a pre-signed upload URL (nothing is uploaded). */
const PROBE_PATH = '/integration/v1/generatePreSign/sales'
const PROBE_FILE = 'n8n-credential-check.csv'

/**
 * The credential test: asks for a pre-signed upload URL with the stored token. With a valid
 * token stored no token is requested: `preAuthentication` probes the stored token first.
 */
export const clearCfcTest: ICredentialTestRequest = {
  request: {
    baseURL: CLEAR_BASE_URL_EXPRESSION,
    url: PROBE_PATH,
    qs: { fileName: PROBE_FILE },
  },
}

/** Clear for the credential lifecycle: `clearCfcTokenSource` of `@tokenkeeper/clear-cfc`. */
export const clearCfcVendor: CredentialVendor<ClearCfcCredentialSettings> = {
  credentialType: 'clearCfcApi',
  displayName: VENDOR,
  settings: readClearCfcSettings,
  secrets: (settings) => [secretText(settings.clientSecret ?? settings.accessToken)],
  createSource: (settings) => clearCfcTokenSource(omit(settings, 'apiBaseUrl')),
  probeRequest: (settings) => ({
    url: `${settings.apiBaseUrl}${PROBE_PATH}?fileName=${encodeURIComponent(PROBE_FILE)}`,
    method: 'GET',
  }),
}

function readClearCfcSettings(
  credentials: ICredentialDataDecryptedObject,
): ClearCfcCredentialSettings {
  const environment = option(
    credentials,
    'environment',
    [...ENVIRONMENT_NAMES, CUSTOM] as const,
    'india-sandbox',
  )
  const authentication = option(
    credentials,
    'authentication',
    ['clientSecret', 'portalToken'] as const,
    'clientSecret',
  )
  const apiBaseUrl =
    environment === CUSTOM
      ? requiredText(credentials, 'baseUrl', 'Base URL', VENDOR).replace(/\/+$/, '')
      : CLEAR_ENVIRONMENTS[environment]
  const headers = headerObject(credentials, 'headers', 'Additional Headers', VENDOR)
  return {
    ...(environment === CUSTOM ? { baseUrl: apiBaseUrl } : { environment }),
    ...(authentication === 'clientSecret'
      ? { clientSecret: requiredText(credentials, 'clientSecret', 'Client Secret', VENDOR) }
      : { accessToken: requiredText(credentials, 'portalToken', 'Portal Token', VENDOR) }),
    // Always explicit, so the n8n server's CLEAR_TOKEN_HEADER never applies.
    tokenHeader: optionalText(credentials, 'tokenHeader') ?? DEFAULT_TOKEN_HEADER,
    ...(headers ? { headers } : {}),
    // Settings come from the credential only, never from the n8n server's variables.
    env: {},
    apiBaseUrl,
  }
}
