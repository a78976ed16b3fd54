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
import { clearIdProperties, clearIdTest, clearIdVendor } from '../src/vendors/clearid.ts'

/**
 * Genetec ClearID API credentials that obtain and renew their own access token. The token and its
 * expiry live in hidden fields that n8n persists; see the package README.
 */
export class ClearIdApi implements ICredentialType {
  name = 'clearIdApi'

  displayName = 'Genetec ClearID API'

  icon: Icon = { light: 'file:../icons/clearid.svg', dark: 'file:../icons/clearid.dark.svg' }

  documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-tokenkeeper#genetec-clearid'

  properties: INodeProperties[] = [
    {
      displayName:
        "Create an API integration in the ClearID portal (Administration > API integrations) and download its key file. Access tokens are requested from ClearID's STS when needed, kept in this credential and renewed at half their lifetime; nothing else to fill in.",
      name: 'notice',
      type: 'notice',
      default: '',
    },
    ...clearIdProperties,
    ...tokenProperties(),
  ]

  test: ICredentialTestRequest = clearIdTest

  async authenticate(
    credentials: ICredentialDataDecryptedObject,
    requestOptions: IHttpRequestOptions,
  ): Promise<IHttpRequestOptions> {
    return await authenticateRequest(clearIdVendor, credentials, requestOptions)
  }

  async preAuthentication(
    this: IHttpRequestHelper,
    credentials: ICredentialDataDecryptedObject,
  ): Promise<IDataObject> {
    return await preAuthenticate(
      clearIdVendor,
      (options) => this.helpers.httpRequest(options),
      credentials,
    )
  }
}
