import type {
  ICredentialDataDecryptedObject,
  ICredentialTestRequest,
  ICredentialType,
  Icon,
  IDataObject,
  IHttpRequestHelper,
  IHttpRequestOptions,
  INodeProperties,
} from 'n8n-workflow'
import { authenticateRequest, preAuthenticate } from '../src/credential-lifecycle.ts'
import { tokenProperties } from '../src/token-fields.ts'
import {
  akamaiIdentityProperties,
  akamaiIdentityTest,
  akamaiIdentityVendor,
} from '../src/vendors/akamai-identity.ts'

/**
 * Akamai Identity Cloud API credentials that obtain and renew their own access token. The token and its
 * expiry live in hidden fields that n8n persists; see the package README.
 */
export class AkamaiIdentityCloudApi implements ICredentialType {
  name = 'akamaiIdentityCloudApi'

  displayName = 'Akamai Identity Cloud API'

  icon: Icon = {
    light: 'file:../icons/akamai-identity.svg',
    dark: 'file:../icons/akamai-identity.dark.svg',
  }

  documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-tokenkeeper#akamai-identity-cloud'

  properties: INodeProperties[] = [
    {
      displayName:
        'Uses a configuration client (set up by Akamai) to obtain access tokens for Webhooks v3 or the configuration APIs. Tokens are renewed before they expire and when an API answers 403, which is how Akamai rejects an expired token.',
      name: 'notice',
      type: 'notice',
      default: '',
    },
    ...akamaiIdentityProperties,
    ...tokenProperties(),
  ]

  test: ICredentialTestRequest = akamaiIdentityTest

  async authenticate(
    credentials: ICredentialDataDecryptedObject,
    requestOptions: IHttpRequestOptions,
  ): Promise<IHttpRequestOptions> {
    return await authenticateRequest(akamaiIdentityVendor, credentials, requestOptions)
  }

  async preAuthentication(
    this: IHttpRequestHelper,
    credentials: ICredentialDataDecryptedObject,
  ): Promise<IDataObject> {
    return await preAuthenticate(
      akamaiIdentityVendor,
      (options) => this.helpers.httpRequest(options),
      credentials,
    )
  }
}
