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
import { apiaxProperties, apiaxTest, apiaxVendor } from '../src/vendors/apiax.ts'

/**
 * Apiax API credentials that obtain and renew their own access token. The token and its
 * expiry live in hidden fields that n8n persists; see the package README.
 */
export class ApiaxApi implements ICredentialType {
  name = 'apiaxApi'

  displayName = 'Apiax API'

  icon: Icon = { light: 'file:../icons/apiax.svg', dark: 'file:../icons/apiax.dark.svg' }

  documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-tokenkeeper#apiax'

  properties: INodeProperties[] = [
    {
      displayName:
        "Logs in to Apiax's Keycloak with the account below once, then renews the access token with the newest refresh token (for up to 14 days) and sends it with your API key.",
      name: 'notice',
      type: 'notice',
      default: '',
    },
    ...apiaxProperties,
    ...tokenProperties(),
  ]

  test: ICredentialTestRequest = apiaxTest

  async authenticate(
    credentials: ICredentialDataDecryptedObject,
    requestOptions: IHttpRequestOptions,
  ): Promise<IHttpRequestOptions> {
    return await authenticateRequest(apiaxVendor, credentials, requestOptions)
  }

  async preAuthentication(
    this: IHttpRequestHelper,
    credentials: ICredentialDataDecryptedObject,
  ): Promise<IDataObject> {
    return await preAuthenticate(
      apiaxVendor,
      (options) => this.helpers.httpRequest(options),
      credentials,
    )
  }
}
