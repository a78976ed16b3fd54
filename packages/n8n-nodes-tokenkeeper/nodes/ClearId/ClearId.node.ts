import type {
  IDataObject,
  IExecuteFunctions,
  INodeExecutionData,
  INodeType,
  INodeTypeDescription,
} from 'n8n-workflow'
import { NodeConnectionTypes } from 'n8n-workflow'
import {
  accessTokenOperations,
  forEachItem,
  getAccessToken,
  pairsParameter,
  vendorRequest,
} from '../../src/node-support.ts'
import { clearIdVendor } from '../../src/vendors/clearid.ts'

/** Genetec ClearID: identities of the account, with a self-renewing token. */
export class ClearId implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Genetec ClearID',
    name: 'clearId',
    icon: { light: 'file:../../icons/clearid.svg', dark: 'file:../../icons/clearid.dark.svg' },
    group: ['transform'],
    version: 1,
    subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
    description: 'Read identities from Genetec ClearID',
    defaults: { name: 'Genetec ClearID' },
    usableAsTool: true,
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: 'clearIdApi', required: true }],
    properties: [
      {
        displayName: 'Resource',
        name: 'resource',
        type: 'options',
        noDataExpression: true,
        options: [
          { name: 'Identity', value: 'identity' },
          { name: 'Access Token', value: 'accessToken' },
        ],
        default: 'identity',
      },
      {
        displayName: 'Operation',
        name: 'operation',
        type: 'options',
        noDataExpression: true,
        displayOptions: { show: { resource: ['identity'] } },
        options: [
          {
            name: 'Get Many',
            value: 'getAll',
            action: 'Get many identities',
            description: 'List the identities of the account',
          },
        ],
        default: 'getAll',
      },
      {
        displayName: 'Query Parameters',
        name: 'query',
        type: 'fixedCollection',
        typeOptions: { multipleValues: true },
        placeholder: 'Add Parameter',
        default: {},
        displayOptions: { show: { resource: ['identity'], operation: ['getAll'] } },
        description:
          "Paging and filter parameters passed as they are (see the Identity service's Swagger at /swagger/)",
        options: [
          {
            name: 'values',
            displayName: 'Parameter',
            values: [
              { displayName: 'Name', name: 'name', type: 'string', default: '' },
              { displayName: 'Value', name: 'value', type: 'string', default: '' },
            ],
          },
        ],
      },
      {
        displayName: 'Split Into Items',
        name: 'split',
        type: 'boolean',
        default: true,
        displayOptions: { show: { resource: ['identity'], operation: ['getAll'] } },
        description: 'Whether to output one item per identity rather than the whole answer',
      },
      ...accessTokenOperations(),
    ],
  }

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    return await forEachItem(this, async (itemIndex) => {
      const resource = this.getNodeParameter('resource', itemIndex) as string
      if (resource === 'accessToken') return await getAccessToken(this, clearIdVendor, itemIndex)
      const credentials = await this.getCredentials(clearIdVendor.credentialType, itemIndex)
      const { identityUrl, accountId } = clearIdVendor.settings(credentials)
      const body = (await vendorRequest(this, clearIdVendor.credentialType, {
        method: 'GET',
        url: `${identityUrl}/api/v2/accounts/${encodeURIComponent(accountId)}/identities`,
        qs: pairsParameter(this, 'query', itemIndex),
        headers: { accept: 'application/json' },
        json: true,
      })) as unknown
      const split = this.getNodeParameter('split', itemIndex, true) as boolean
      const list = identityList(body)
      if (split && list) return list
      return (typeof body === 'object' && body !== null ? body : { body }) as IDataObject
    })
  }
}

/** The identities in an answer: a JSON array, or the array inside an envelope. */
function identityList(body: unknown): IDataObject[] | undefined {
  if (Array.isArray(body)) return body as IDataObject[]
  if (typeof body !== 'object' || body === null) return undefined
  for (const value of Object.values(body)) {
    if (Array.isArray(value)) return value as IDataObject[]
  }
  return undefined
}
