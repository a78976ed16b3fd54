import {
  type IDataObject,
  type IExecuteFunctions,
  type IHttpRequestOptions,
  type INodeExecutionData,
  type INodeProperties,
  NodeOperationError,
} from 'n8n-workflow'
import { type CredentialVendor, usableToken } from './credential-lifecycle.ts'

/** Options of {@link vendorRequest}. */
export interface VendorRequestOptions {
  /**
   * API statuses that mean "token rejected" and make n8n renew the token and resend once
   * (n8n-workflow 2.40 and later; older n8n renews on 401 only). Default `[401]`.
   */
  renewalStatuses?: number[]
}

/**
 * An API call with the credential's token, through n8n's `httpRequestWithAuthentication`: n8n
 * runs the credential's `preAuthentication` when its token is missing or due, attaches the
 * vendor's headers, and on a rejection status renews the token and resends once.
 */
export async function vendorRequest(
  context: IExecuteFunctions,
  credentialType: string,
  request: IHttpRequestOptions,
  options: VendorRequestOptions = {},
): Promise<unknown> {
  return await context.helpers.httpRequestWithAuthentication.call(
    context,
    credentialType,
    request,
    options.renewalStatuses ? { preAuthenticationRetryStatusCode: options.renewalStatuses } : {},
  )
}

/** The "Access Token" resource every node offers, for handing a token to another system. */
export function accessTokenOperations(): INodeProperties[] {
  return [
    {
      displayName: 'Operation',
      name: 'operation',
      type: 'options',
      noDataExpression: true,
      displayOptions: { show: { resource: ['accessToken'] } },
      options: [
        {
          name: 'Get',
          value: 'get',
          action: 'Get an access token',
          description:
            'Return the current access token of the credential, renewing it first when it is due',
        },
      ],
      default: 'get',
    },
    {
      displayName:
        'The token is written to the execution data: anyone who can see this execution can use it until it expires. Prefer the other operations or the HTTP Request node with this credential.',
      name: 'accessTokenNotice',
      type: 'notice',
      default: '',
      displayOptions: { show: { resource: ['accessToken'] } },
    },
  ]
}

/**
 * The "Get Access Token" operation. A token the credential holds and may still use is returned
 * without any request. Otherwise one cheap authenticated call is made through n8n, so that n8n
 * itself runs the credential's `preAuthentication` and persists the new token (a token minted
 * here and not persisted would, for Clear, revoke the credential's own), and the credential is
 * read again.
 */
export async function getAccessToken<Settings extends object>(
  context: IExecuteFunctions,
  vendor: CredentialVendor<Settings>,
  itemIndex: number,
  options: VendorRequestOptions = {},
): Promise<IDataObject> {
  let credentials = await context.getCredentials(vendor.credentialType, itemIndex)
  let usable = usableToken(vendor, credentials)
  let failure: unknown
  if (usable === undefined) {
    const probe = vendor.probeRequest(vendor.settings(credentials))
    try {
      await vendorRequest(
        context,
        vendor.credentialType,
        {
          url: probe.url,
          method: probe.method,
          headers: { accept: 'application/json', ...probe.headers },
          ...(probe.body === undefined ? {} : { body: probe.body }),
        },
        options,
      )
    } catch (error) {
      // The call only serves to make n8n renew the token; its own answer does not matter.
      failure = error
    }
    credentials = await context.getCredentials(vendor.credentialType, itemIndex)
    usable = usableToken(vendor, credentials)
  }
  if (usable === undefined) {
    throw new NodeOperationError(
      context.getNode(),
      `${vendor.displayName}: no access token could be obtained${failure instanceof Error ? `: ${failure.message}` : ''}`,
      { itemIndex, description: 'Test the credential to see what the token endpoint answers.' },
    )
  }
  const { token } = usable
  return {
    accessToken: token.value,
    tokenType: token.type,
    expiresAt: token.expiresAt === null ? null : new Date(token.expiresAt).toISOString(),
    issuedAt: new Date(token.issuedAt).toISOString(),
  }
}

/**
 * Runs `operation` for every input item in order (one item at a time, so a vendor's rate limits
 * are respected and the first item's token serves the rest), honouring "Continue On Fail".
 */
export async function forEachItem(
  context: IExecuteFunctions,
  operation: (itemIndex: number) => Promise<IDataObject | IDataObject[]>,
): Promise<INodeExecutionData[][]> {
  const items = context.getInputData()
  const output: INodeExecutionData[] = []
  for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
    try {
      const result = await operation(itemIndex)
      for (const json of Array.isArray(result) ? result : [result]) {
        output.push({ json, pairedItem: { item: itemIndex } })
      }
    } catch (error) {
      if (context.continueOnFail()) {
        output.push({
          json: { error: error instanceof Error ? error.message : String(error) },
          pairedItem: { item: itemIndex },
        })
        continue
      }
      // eslint-disable-next-line @n8n/community-nodes/require-node-api-error -- already a NodeOperationError or NodeApiError (from httpRequestWithAuthentication)
      if (error instanceof NodeOperationError || isNodeError(error)) throw error
      throw new NodeOperationError(context.getNode(), error as Error, { itemIndex })
    }
  }
  return [output]
}

function isNodeError(error: unknown): boolean {
  return error instanceof Error && error.name === 'NodeApiError'
}

/** A JSON parameter (text or already parsed) as an object. */
export function jsonParameter(
  context: IExecuteFunctions,
  name: string,
  itemIndex: number,
): IDataObject {
  const value = context.getNodeParameter(name, itemIndex, {}) as unknown
  if (typeof value === 'string') {
    const text = value.trim()
    if (text === '') return {}
    try {
      const parsed: unknown = JSON.parse(text)
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        return parsed as IDataObject
      }
    } catch {
      // Reported below.
    }
    throw new NodeOperationError(context.getNode(), `"${name}" must be a JSON object`, {
      itemIndex,
    })
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return value as IDataObject
  }
  throw new NodeOperationError(context.getNode(), `"${name}" must be a JSON object`, { itemIndex })
}

/** Name/value pairs of a `fixedCollection` parameter as an object. */
export function pairsParameter(
  context: IExecuteFunctions,
  name: string,
  itemIndex: number,
): IDataObject {
  const collection = context.getNodeParameter(name, itemIndex, {}) as {
    values?: { name?: string; value?: unknown }[]
  }
  const result: IDataObject = {}
  for (const pair of collection.values ?? []) {
    if (pair.name) result[pair.name] = pair.value as IDataObject[string]
  }
  return result
}
