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
  jsonParameter,
  vendorRequest,
} from '../../src/node-support.ts'
import { clearCfcVendor } from '../../src/vendors/clear-cfc.ts'

/** Clear Finance Cloud: pre-signed upload URLs and file ingestion, with a guarded token. */
export class ClearCfc implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Clear Finance Cloud',
    name: 'clearCfc',
    icon: { light: 'file:../../icons/clear-cfc.svg', dark: 'file:../../icons/clear-cfc.dark.svg' },
    group: ['transform'],
    version: 1,
    subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
    description: 'Upload and ingest files with Clear Finance Cloud (ClearTax)',
    defaults: { name: 'Clear Finance Cloud' },
    usableAsTool: true,
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: 'clearCfcApi', required: true }],
    properties: [
      {
        displayName: 'Resource',
        name: 'resource',
        type: 'options',
        noDataExpression: true,
        options: [
          { name: 'File', value: 'file' },
          { name: 'Access Token', value: 'accessToken' },
        ],
        default: 'file',
      },
      {
        displayName: 'Operation',
        name: 'operation',
        type: 'options',
        noDataExpression: true,
        displayOptions: { show: { resource: ['file'] } },
        options: [
          {
            name: 'Get Upload URL',
            value: 'getUploadUrl',
            action: 'Get a pre signed upload URL',
            description:
              'Get a pre-signed URL to PUT a sales or purchase file to, before ingesting it',
          },
          {
            name: 'Ingest',
            value: 'ingest',
            action: 'Ingest an uploaded file',
            description: 'Start the ingestion of an uploaded file with a template',
          },
        ],
        default: 'getUploadUrl',
      },
      {
        displayName: 'File Type',
        name: 'fileType',
        type: 'options',
        options: [
          { name: 'Sales', value: 'sales' },
          { name: 'Purchase', value: 'purchase' },
        ],
        default: 'sales',
        displayOptions: { show: { resource: ['file'], operation: ['getUploadUrl'] } },
      },
      {
        displayName: 'File Name',
        name: 'fileName',
        type: 'string',
        default: '',
        required: true,
        placeholder: 'invoices-2026-01.csv',
        displayOptions: { show: { resource: ['file'], operation: ['getUploadUrl'] } },
        description: 'Name of the file that will be uploaded to the pre-signed URL',
      },
      {
        displayName: 'Template Type',
        name: 'templateType',
        type: 'string',
        default: '',
        required: true,
        placeholder: 'SALES',
        displayOptions: { show: { resource: ['file'], operation: ['ingest'] } },
        description:
          'The ingestion template type, as in /integration/v1/ingest/file/{templateType}',
      },
      {
        displayName: 'Body',
        name: 'body',
        type: 'json',
        default:
          '{\n  "userInputArgs": [{ "templateId": "", "groupId": "" }],\n  "fileInfo": { "s3FileUrl": "", "userFileName": "" }\n}',
        required: true,
        displayOptions: { show: { resource: ['file'], operation: ['ingest'] } },
        description:
          'The ingestion request as your Clear product documents it; s3FileUrl is the pre-signed URL the file was uploaded to',
      },
      ...accessTokenOperations(),
    ],
  }

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    return await forEachItem(this, async (itemIndex) => {
      const resource = this.getNodeParameter('resource', itemIndex) as string
      if (resource === 'accessToken') return await getAccessToken(this, clearCfcVendor, itemIndex)
      const operation = this.getNodeParameter('operation', itemIndex) as string
      const credentials = await this.getCredentials(clearCfcVendor.credentialType, itemIndex)
      const { apiBaseUrl } = clearCfcVendor.settings(credentials)
      if (operation === 'ingest') {
        const templateType = this.getNodeParameter('templateType', itemIndex) as string
        return (await vendorRequest(this, clearCfcVendor.credentialType, {
          method: 'POST',
          url: `${apiBaseUrl}/integration/v1/ingest/file/${encodeURIComponent(templateType.trim())}`,
          body: jsonParameter(this, 'body', itemIndex),
          headers: { accept: 'application/json' },
          json: true,
        })) as IDataObject
      }
      const fileType = this.getNodeParameter('fileType', itemIndex) as string
      return (await vendorRequest(this, clearCfcVendor.credentialType, {
        method: 'GET',
        url: `${apiBaseUrl}/integration/v1/generatePreSign/${encodeURIComponent(fileType)}`,
        qs: { fileName: this.getNodeParameter('fileName', itemIndex) as string },
        headers: { accept: 'application/json' },
        json: true,
      })) as IDataObject
    })
  }
}
