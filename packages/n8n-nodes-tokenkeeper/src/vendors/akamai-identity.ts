import {
  AKAMAI_IDENTITY_REGIONS,
  AKAMAI_IDENTITY_SCOPES,
  type AkamaiIdentityTokenSourceSettings,
  akamaiIdentityBaseUrl,
  akamaiIdentityTokenSource,
} from '@tokenkeeper/akamai-identity'
import type {
  ICredentialDataDecryptedObject,
  ICredentialTestRequest,
  INodeProperties,
} from 'n8n-workflow'
import type { CredentialVendor } from '../credential-lifecycle.ts'
import { CUSTOM, omit, option, optionalText, requiredText, secretText } from '../fields.ts'

const VENDOR = 'Akamai Identity Cloud'

/** Settings as read from the credential, plus the customer's API prefix. */
export interface AkamaiIdentityCredentialSettings extends AkamaiIdentityTokenSourceSettings {
  /** `{baseUrl}/{customerId}`: the prefix of every customer API path. */
  readonly customerUrl: string
}

/** Statuses with which Akamai's APIs reject a token: 403 as well as 401. */
export const AKAMAI_RENEWAL_STATUSES = [401, 403]

const REGION_LABELS: Record<(typeof AKAMAI_IDENTITY_REGIONS)[number], string> = {
  us: 'US',
  eu: 'EU',
  jp: 'Japan',
}

/** The fields users fill in. */
export const akamaiIdentityProperties: INodeProperties[] = [
  {
    displayName: 'Region',
    name: 'region',
    type: 'options',
    options: [
      ...AKAMAI_IDENTITY_REGIONS.map((region) => ({
        name: REGION_LABELS[region],
        value: region,
        description: akamaiIdentityBaseUrl(region),
      })),
      {
        name: 'Other Region',
        value: 'other',
        description: 'Another data centre (Canada, Australia, Singapore...)',
      },
      { name: 'Custom URL', value: CUSTOM, description: 'Another API host, e.g. an emulator' },
    ],
    default: 'us',
    description:
      'The data centre of your application. The oidc_url application setting in Console shows it: https://v1.api.&lt;region&gt;.janrain.com/&lt;customer ID&gt;/login.',
  },
  {
    displayName: 'Region Name',
    name: 'regionName',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'ca',
    displayOptions: { show: { region: ['other'] } },
    description: 'The region part of the API host https://v1.api.&lt;region&gt;.janrain.com',
  },
  {
    displayName: 'Base URL',
    name: 'baseUrl',
    type: 'string',
    default: '',
    required: true,
    placeholder: 'https://v1.api.us.janrain.com',
    displayOptions: { show: { region: [CUSTOM] } },
    description: 'The API host, without the customer ID',
  },
  {
    displayName: 'Customer ID',
    name: 'customerId',
    type: 'string',
    default: '',
    required: true,
    description: 'The customer_id application setting in Console (also part of oidc_url)',
  },
  {
    displayName: 'Client ID',
    name: 'clientId',
    type: 'string',
    default: '',
    required: true,
    description:
      'The ID of the configuration client Akamai set up for you (it can only mint tokens)',
  },
  {
    displayName: 'Client Secret',
    name: 'clientSecret',
    type: 'string',
    typeOptions: { password: true },
    default: '',
    required: true,
    description: 'The secret of the configuration client',
  },
  {
    displayName: 'Scope',
    name: 'scope',
    type: 'options',
    options: [
      {
        name: 'Webhooks v3 (*:webhooks/**)',
        value: AKAMAI_IDENTITY_SCOPES.webhooks,
      },
      {
        name: 'Configuration APIs (*:config/**)',
        value: AKAMAI_IDENTITY_SCOPES.config,
      },
      {
        name: 'Custom Providers (*:**)',
        value: AKAMAI_IDENTITY_SCOPES.customProviders,
      },
    ],
    default: AKAMAI_IDENTITY_SCOPES.webhooks,
    description:
      "The scope to request; the configuration client's token policy must allow it. The Akamai Identity Cloud node uses Webhooks v3.",
  },
]

/** Expression for `{baseUrl}/{customerId}` of a credential. */
export const AKAMAI_CUSTOMER_URL_EXPRESSION = `={{ ($credentials.region === '${CUSTOM}' ? $credentials.baseUrl.replace(/\\/+$/, '') : 'https://v1.api.' + ($credentials.region === 'other' ? $credentials.regionName : $credentials.region) + '.janrain.com') + '/' + encodeURIComponent($credentials.customerId) }}`

/** The credential test: lists the Webhooks v3 subscriptions with the token. */
export const akamaiIdentityTest: ICredentialTestRequest = {
  request: {
    baseURL: AKAMAI_CUSTOMER_URL_EXPRESSION,
    url: '/webhooks/subscriptions',
  },
}

/** Akamai for the credential lifecycle: `akamaiIdentityTokenSource`. */
export const akamaiIdentityVendor: CredentialVendor<AkamaiIdentityCredentialSettings> = {
  credentialType: 'akamaiIdentityCloudApi',
  displayName: VENDOR,
  settings: readAkamaiSettings,
  secrets: (settings) => [secretText(settings.clientSecret)],
  createSource: (settings) => akamaiIdentityTokenSource(omit(settings, 'customerUrl')),
  probeRequest: (settings) => ({
    url: `${settings.customerUrl}/webhooks/subscriptions`,
    method: 'GET',
  }),
}

function readAkamaiSettings(
  credentials: ICredentialDataDecryptedObject,
): AkamaiIdentityCredentialSettings {
  const region = option(
    credentials,
    'region',
    [...AKAMAI_IDENTITY_REGIONS, 'other', CUSTOM] as const,
    'us',
  )
  const baseUrl =
    region === CUSTOM
      ? requiredText(credentials, 'baseUrl', 'Base URL', VENDOR).replace(/\/+$/, '')
      : akamaiIdentityBaseUrl(
          region === 'other'
            ? requiredText(credentials, 'regionName', 'Region Name', VENDOR)
            : region,
        )
  const customerId = requiredText(credentials, 'customerId', 'Customer ID', VENDOR)
  return {
    baseUrl,
    customerId,
    clientId: requiredText(credentials, 'clientId', 'Client ID', VENDOR),
    clientSecret: requiredText(credentials, 'clientSecret', 'Client Secret', VENDOR),
    scope: optionalText(credentials, 'scope') ?? AKAMAI_IDENTITY_SCOPES.webhooks,
    // Settings come from the credential only, never from the n8n server's variables.
    env: {},
    customerUrl: `${baseUrl}/${encodeURIComponent(customerId)}`,
  }
}
