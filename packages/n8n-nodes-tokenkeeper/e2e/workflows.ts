import { randomUUID } from 'node:crypto'

/** Name of the node whose output the scenarios inspect. */
export const CALL_NODE = 'Call'

interface Node {
  id: string
  name: string
  type: string
  typeVersion: number
  position: [number, number]
  parameters: Record<string, unknown>
  credentials?: Record<string, { id: string; name: string }>
  onError?: 'stopWorkflow' | 'continueRegularOutput' | 'continueErrorOutput'
}

/** A request made by the HTTP Request node with a predefined credential type. */
export interface HttpCall {
  method: 'GET' | 'POST'
  url: string
  query?: Record<string, string>
  /** JSON body. */
  body?: unknown
}

/** The credential a workflow uses. */
export interface CredentialRef {
  type: string
  id: string
  name: string
}

/**
 * Manual Trigger → Set (one array of `count` numbers) → Split Out (`count` items) → `call`.
 * No Code node: it would need n8n's task runner.
 */
function workflow(id: string, name: string, count: number, call: Node): Record<string, unknown> {
  const trigger: Node = {
    id: randomUUID(),
    name: 'Start',
    type: 'n8n-nodes-base.manualTrigger',
    typeVersion: 1,
    position: [0, 0],
    parameters: {},
  }
  const numbers: Node = {
    id: randomUUID(),
    name: 'Numbers',
    type: 'n8n-nodes-base.set',
    typeVersion: 3.4,
    position: [200, 0],
    parameters: {
      mode: 'raw',
      jsonOutput: JSON.stringify({
        numbers: Array.from({ length: count }, (_, index) => index + 1),
      }),
      options: {},
    },
  }
  const split: Node = {
    id: randomUUID(),
    name: 'Items',
    type: 'n8n-nodes-base.splitOut',
    typeVersion: 1,
    position: [400, 0],
    parameters: { fieldToSplitOut: 'numbers', options: {} },
  }
  return {
    id,
    name,
    active: false,
    nodes: [trigger, numbers, split, call],
    connections: {
      Start: { main: [[{ node: 'Numbers', type: 'main', index: 0 }]] },
      Numbers: { main: [[{ node: 'Items', type: 'main', index: 0 }]] },
      Items: { main: [[{ node: CALL_NODE, type: 'main', index: 0 }]] },
    },
    settings: { executionOrder: 'v1' },
    pinData: {},
  }
}

/** `count` items through the HTTP Request node, authenticated by a predefined credential. */
export function httpRequestWorkflow(
  id: string,
  credential: CredentialRef,
  call: HttpCall,
  options: { count?: number; continueOnFail?: boolean } = {},
): Record<string, unknown> {
  const parameters: Record<string, unknown> = {
    method: call.method,
    url: call.url,
    authentication: 'predefinedCredentialType',
    nodeCredentialType: credential.type,
    options: {},
  }
  if (call.query) {
    parameters.sendQuery = true
    parameters.queryParameters = {
      parameters: Object.entries(call.query).map(([name, value]) => ({ name, value })),
    }
  }
  if (call.body !== undefined) {
    parameters.sendBody = true
    parameters.specifyBody = 'json'
    parameters.jsonBody = JSON.stringify(call.body)
  }
  return workflow(id, `${id} HTTP Request`, options.count ?? 20, {
    id: randomUUID(),
    name: CALL_NODE,
    type: 'n8n-nodes-base.httpRequest',
    typeVersion: 4.2,
    position: [600, 0],
    parameters,
    credentials: { [credential.type]: { id: credential.id, name: credential.name } },
    ...(options.continueOnFail ? { onError: 'continueRegularOutput' as const } : {}),
  })
}

/** `count` items through one of our nodes. */
export function vendorNodeWorkflow(
  id: string,
  credential: CredentialRef,
  nodeName: string,
  parameters: Record<string, unknown>,
  options: { count?: number } = {},
): Record<string, unknown> {
  return workflow(id, `${id} ${nodeName}`, options.count ?? 20, {
    id: randomUUID(),
    name: CALL_NODE,
    type: `n8n-nodes-tokenkeeper.${nodeName}`,
    typeVersion: 1,
    position: [600, 0],
    parameters,
    credentials: { [credential.type]: { id: credential.id, name: credential.name } },
  })
}
