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
import { clearCfcProperties, clearCfcTest, clearCfcVendor } from '../src/vendors/clear-cfc.ts'

/**
 * Clear Finance Cloud API credentials that obtain and renew their own access token. The token and its
 * expiry live in hidden fields that n8n persists; see the package README.
 */
export class ClearCfcApi implements ICredentialType {
  name = 'clearCfcApi'

  displayName = 'Clear Finance Cloud API'

  icon: Icon = { light: 'file:../icons/clear-cfc.svg', dark: 'file:../icons/clear-cfc.dark.svg' }

  documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-tokenkeeper#clear-finance-cloud'

  properties: INodeProperties[] = [
    {
      displayName:
        'Clear revokes the previous token whenever a new one is issued and allows 288 token requests a day per client secret. This credential keeps one token, renews it only when it expires or Clear rejects it, and never requests one for a failed call or a test while its token is accepted. Use each client secret in one credential only.',
      name: 'notice',
      type: 'notice',
      default: '',
    },
    ...clearCfcProperties,
    ...tokenProperties(),
  ]

  test: ICredentialTestRequest = clearCfcTest

  async authenticate(
    credentials: ICredentialDataDecryptedObject,
    requestOptions: IHttpRequestOptions,
  ): Promise<IHttpRequestOptions> {
    return await authenticateRequest(clearCfcVendor, credentials, requestOptions)
  }

  async preAuthentication(
    this: IHttpRequestHelper,
    credentials: ICredentialDataDecryptedObject,
  ): Promise<IDataObject> {
    return await preAuthenticate(
      clearCfcVendor,
      (options) => this.helpers.httpRequest(options),
      credentials,
    )
  }
}
