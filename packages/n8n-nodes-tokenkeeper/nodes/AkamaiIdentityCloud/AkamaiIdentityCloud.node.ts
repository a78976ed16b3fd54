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
  vendorRequest,
} from '../../src/node-support.ts'
import { AKAMAI_RENEWAL_STATUSES, akamaiIdentityVendor } from '../../src/vendors/akamai-identity.ts'

const EVENT_TYPES = [
  { name: 'Entity Created', value: 'entityCreated' },
  { name: 'Entity Deleted', value: 'entityDeleted' },
  { name: 'Entity Updated', value: 'entityUpdated' },
]

const subscriptionId = (resource: string, operations: string[]): INodeProperties => ({
  displayName: 'Subscription ID',
  name: 'subscriptionId',
  type: 'string',
  default: '',
  required: true,
  displayOptions: { show: { resource: [resource], operation: operations } },
})

/** Akamai Identity Cloud Webhooks v3: subscriptions and their events. */
export class AkamaiIdentityCloud implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Akamai Identity Cloud',
    name: 'akamaiIdentityCloud',
    icon: {
      light: 'file:../../icons/akamai-identity.svg',
      dark: 'file:../../icons/akamai-identity.dark.svg',
    },
    group: ['transform'],
    version: 1,
    subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
    description: 'Manage Akamai Identity Cloud (Janrain) Webhooks v3 subscriptions and events',
    defaults: { name: 'Akamai Identity Cloud' },
    usableAsTool: true,
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: 'akamaiIdentityCloudApi', required: true }],
    properties: [
      {
        displayName: 'Resource',
        name: 'resource',
        type: 'options',
        noDataExpression: true,
        options: [
          { name: 'Subscription', value: 'subscription' },
          { name: 'Event', value: 'event' },
          { name: 'Access Token', value: 'accessToken' },
        ],
        default: 'subscription',
      },
      {
        displayName: 'Operation',
        name: 'operation',
        type: 'options',
        noDataExpression: true,
        displayOptions: { show: { resource: ['subscription'] } },
        options: [
          {
            name: 'Create',
            value: 'create',
            action: 'Create a subscription',
            description: 'Subscribe an endpoint to entity events',
          },
          {
            name: 'Delete',
            value: 'delete',
            action: 'Delete a subscription',
            description: 'Delete a subscription',
          },
          {
            name: 'Get',
            value: 'get',
            action: 'Get a subscription',
            description: 'Get a subscription',
          },
          {
            name: 'Get Many',
            value: 'getAll',
            action: 'Get many subscriptions',
            description: 'List the subscriptions of the customer',
          },
          {
            name: 'Update',
            value: 'update',
            action: 'Update a subscription',
            description: 'Change the title, endpoint, events or state of a subscription',
          },
        ],
        default: 'getAll',
      },
      {
        displayName: 'Operation',
        name: 'operation',
        type: 'options',
        noDataExpression: true,
        displayOptions: { show: { resource: ['event'] } },
        options: [
          {
            name: 'Get',
            value: 'get',
            action: 'Get an event',
            description: 'Get one event of a subscription',
          },
          {
            name: 'Get History',
            value: 'getHistory',
            action: 'Get the delivery history of an event',
            description: 'Get the delivery attempts of one event',
          },
          {
            name: 'Get Many',
            value: 'getAll',
            action: 'Get many events',
            description: 'List the events of a subscription',
          },
        ],
        default: 'getAll',
      },
      subscriptionId('subscription', ['get', 'delete', 'update']),
      subscriptionId('event', ['get', 'getAll', 'getHistory']),
      {
        displayName: 'Event ID',
        name: 'eventId',
        type: 'string',
        default: '',
        required: true,
        displayOptions: { show: { resource: ['event'], operation: ['get', 'getHistory'] } },
      },
      {
        displayName: 'Title',
        name: 'title',
        type: 'string',
        default: '',
        required: true,
        displayOptions: { show: { resource: ['subscription'], operation: ['create'] } },
        description: 'A unique name for the subscription (2 to 200 characters)',
      },
      {
        displayName: 'Endpoint',
        name: 'endpoint',
        type: 'string',
        default: '',
        required: true,
        placeholder: 'https://example.com/webhooks/akamai',
        displayOptions: { show: { resource: ['subscription'], operation: ['create'] } },
        description: 'The URL the events are delivered to',
      },
      {
        displayName: 'Events',
        name: 'events',
        type: 'multiOptions',
        options: EVENT_TYPES,
        default: ['entityCreated', 'entityUpdated', 'entityDeleted'],
        required: true,
        displayOptions: { show: { resource: ['subscription'], operation: ['create'] } },
      },
      {
        displayName: 'Enabled',
        name: 'enabled',
        type: 'boolean',
        default: true,
        displayOptions: { show: { resource: ['subscription'], operation: ['create'] } },
        description: 'Whether events are delivered',
      },
      {
        displayName: 'Update Fields',
        name: 'updateFields',
        type: 'collection',
        placeholder: 'Add Field',
        default: {},
        displayOptions: { show: { resource: ['subscription'], operation: ['update'] } },
        options: [
          {
            displayName: 'Enabled',
            name: 'enabled',
            type: 'boolean',
            default: true,
            description: 'Whether events are delivered',
          },
          { displayName: 'Endpoint', name: 'endpoint', type: 'string', default: '' },
          {
            displayName: 'Events',
            name: 'events',
            type: 'multiOptions',
            options: EVENT_TYPES,
            default: [],
          },
          { displayName: 'Title', name: 'title', type: 'string', default: '' },
        ],
      },
      ...accessTokenOperations(),
    ],
  }

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    // Akamai's APIs answer 403 for an expired token: renew on 403 as well as 401.
    const renewal = { renewalStatuses: AKAMAI_RENEWAL_STATUSES }
    return await forEachItem(this, async (itemIndex) => {
      const resource = this.getNodeParameter('resource', itemIndex) as string
      if (resource === 'accessToken') {
        return await getAccessToken(this, akamaiIdentityVendor, itemIndex, renewal)
      }
      const operation = this.getNodeParameter('operation', itemIndex) as string
      const credentials = await this.getCredentials(akamaiIdentityVendor.credentialType, itemIndex)
      const { customerUrl } = akamaiIdentityVendor.settings(credentials)
      const subscriptions = `${customerUrl}/webhooks/subscriptions`
      const id = (name: string) =>
        encodeURIComponent((this.getNodeParameter(name, itemIndex) as string).trim())
      const call = async (
        method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
        url: string,
        body?: IDataObject,
      ) =>
        await vendorRequest(
          this,
          akamaiIdentityVendor.credentialType,
          {
            method,
            url,
            headers: { accept: 'application/json' },
            json: true,
            ...(body ? { body } : {}),
          },
          renewal,
        )

      if (resource === 'event') {
        const events = `${subscriptions}/${id('subscriptionId')}/events`
        if (operation === 'getAll') return embedded(await call('GET', events), 'events')
        const event = `${events}/${id('eventId')}`
        if (operation === 'getHistory')
          return embedded(await call('GET', `${event}/history`), 'history')
        return (await call('GET', event)) as IDataObject
      }
      switch (operation) {
        case 'create':
          return (await call('POST', subscriptions, {
            title: this.getNodeParameter('title', itemIndex) as string,
            endpoint: this.getNodeParameter('endpoint', itemIndex) as string,
            events: this.getNodeParameter('events', itemIndex) as string[],
            enabled: this.getNodeParameter('enabled', itemIndex) as boolean,
          })) as IDataObject
        case 'get':
          return (await call('GET', `${subscriptions}/${id('subscriptionId')}`)) as IDataObject
        case 'update':
          return (await call(
            'PATCH',
            `${subscriptions}/${id('subscriptionId')}`,
            this.getNodeParameter('updateFields', itemIndex, {}) as IDataObject,
          )) as IDataObject
        case 'delete':
          await call('DELETE', `${subscriptions}/${id('subscriptionId')}`)
          return {
            deleted: true,
            subscriptionId: this.getNodeParameter('subscriptionId', itemIndex),
          }
        default:
          return embedded(await call('GET', subscriptions), 'subscriptions')
      }
    })
  }
}

/** The list inside a HAL answer (`_embedded.<name>`), one item each; else the answer itself. */
function embedded(body: unknown, name: string): IDataObject | IDataObject[] {
  const list = (body as { _embedded?: Record<string, unknown> } | undefined)?._embedded?.[name]
  if (Array.isArray(list)) return list as IDataObject[]
  return (typeof body === 'object' && body !== null ? body : { body }) as IDataObject
}
