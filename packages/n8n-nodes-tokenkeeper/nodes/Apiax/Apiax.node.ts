import type {
  IDataObject,
  IExecuteFunctions,
  INodeExecutionData,
  INodeProperties,
  INodeType,
  INodeTypeDescription,
} from 'n8n-workflow'
import { NodeConnectionTypes } from 'n8n-workflow'
import {
  accessTokenOperations,
  forEachItem,
  getAccessToken,
  jsonParameter,
  vendorRequest,
} from '../../src/node-support.ts'
import { apiaxVendor } from '../../src/vendors/apiax.ts'

const ruleOperations = ['evaluate', 'inspect']

const ruleFields: INodeProperties[] = [
  {
    displayName: 'Products',
    name: 'products',
    type: 'fixedCollection',
    typeOptions: { multipleValues: true },
    placeholder: 'Add Product',
    default: {},
    displayOptions: { show: { resource: ['rule'], operation: ruleOperations } },
    options: [
      {
        name: 'values',
        displayName: 'Product',
        values: [
          { displayName: 'Product ID', name: 'productId', type: 'string', default: '' },
          { displayName: 'Family ID', name: 'familyId', type: 'string', default: '' },
        ],
      },
    ],
  },
  {
    displayName: 'Regimes',
    name: 'regimes',
    type: 'string',
    default: '',
    placeholder: 'CH, DE',
    displayOptions: { show: { resource: ['rule'], operation: ruleOperations } },
    description: 'Regulatory regimes, separated by commas (for example country codes)',
  },
  {
    displayName: 'Version Filter',
    name: 'versionFilter',
    type: 'string',
    default: 'latest',
    displayOptions: { show: { resource: ['rule'], operation: ruleOperations } },
    description: 'Which rule versions to use',
  },
  {
    displayName: 'Attributes',
    name: 'attributes',
    type: 'fixedCollection',
    typeOptions: { multipleValues: true },
    placeholder: 'Add Attribute',
    default: {},
    displayOptions: { show: { resource: ['rule'], operation: ['evaluate'] } },
    description: 'The input attributes the rules need (see Inspect)',
    options: [
      {
        name: 'values',
        displayName: 'Attribute',
        values: [
          { displayName: 'Name', name: 'name', type: 'string', default: '' },
          {
            displayName: 'Value',
            name: 'value',
            type: 'string',
            default: '',
            description: 'Text, or JSON for numbers, booleans, lists and objects',
          },
        ],
      },
    ],
  },
  {
    displayName: 'Additional Body Fields',
    name: 'additionalFields',
    type: 'json',
    default: '{}',
    displayOptions: { show: { resource: ['rule'], operation: ruleOperations } },
    description: 'Other request fields as a JSON object, merged into the request body',
  },
]

/** Apiax rule engine: evaluation and inspection, with a self-renewing token and API key. */
export class Apiax implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Apiax',
    name: 'apiax',
    icon: { light: 'file:../../icons/apiax.svg', dark: 'file:../../icons/apiax.dark.svg' },
    group: ['transform'],
    version: 1,
    subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
    description: 'Evaluate and inspect regulatory rules with the Apiax rule engine',
    defaults: { name: 'Apiax' },
    usableAsTool: true,
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: 'apiaxApi', required: true }],
    properties: [
      {
        displayName: 'Resource',
        name: 'resource',
        type: 'options',
        noDataExpression: true,
        options: [
          { name: 'Rule', value: 'rule' },
          { name: 'Access Token', value: 'accessToken' },
        ],
        default: 'rule',
      },
      {
        displayName: 'Operation',
        name: 'operation',
        type: 'options',
        noDataExpression: true,
        displayOptions: { show: { resource: ['rule'] } },
        options: [
          {
            name: 'Evaluate',
            value: 'evaluate',
            action: 'Evaluate rules',
            description: 'Evaluate the rules of products for the given attributes',
          },
          {
            name: 'Inspect',
            value: 'inspect',
            action: 'Inspect rules',
            description: 'List the rules of products and the attributes they need',
          },
        ],
        default: 'evaluate',
      },
      ...ruleFields,
      ...accessTokenOperations(),
    ],
  }

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    return await forEachItem(this, async (itemIndex) => {
      const resource = this.getNodeParameter('resource', itemIndex) as string
      if (resource === 'accessToken') return await getAccessToken(this, apiaxVendor, itemIndex)
      const operation = this.getNodeParameter('operation', itemIndex) as string
      const credentials = await this.getCredentials(apiaxVendor.credentialType, itemIndex)
      const { ruleEngineUrl } = apiaxVendor.settings(credentials)
      const products = (
        this.getNodeParameter('products', itemIndex, {}) as { values?: IDataObject[] }
      ).values
      const regimes = (this.getNodeParameter('regimes', itemIndex, '') as string)
        .split(',')
        .map((regime) => regime.trim())
        .filter(Boolean)
      const body: IDataObject = {
        products: products ?? [],
        ...(regimes.length > 0 ? { regimes } : {}),
        versionFilter:
          (this.getNodeParameter('versionFilter', itemIndex, 'latest') as string) || 'latest',
      }
      if (operation === 'evaluate') {
        const attributes = (
          this.getNodeParameter('attributes', itemIndex, {}) as {
            values?: { name: string; value: string }[]
          }
        ).values
        body.attributes = (attributes ?? []).map(({ name, value }) => ({
          name,
          value: parseValue(value),
        }))
      }
      Object.assign(body, jsonParameter(this, 'additionalFields', itemIndex))
      return (await vendorRequest(this, apiaxVendor.credentialType, {
        method: 'POST',
        url: `${ruleEngineUrl}/api/v3/rules/${operation === 'inspect' ? 'inspect' : 'eval'}`,
        body,
        headers: { accept: 'application/json' },
        json: true,
      })) as IDataObject
    })
  }
}

/** An attribute value: JSON when it parses (numbers, booleans, lists), text otherwise. */
function parseValue(value: string): unknown {
  const text = value.trim()
  if (text === '') return ''
  try {
    return JSON.parse(text)
  } catch {
    return value
  }
}
