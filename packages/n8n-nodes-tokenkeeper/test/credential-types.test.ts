import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ICredentialType, INodeType } from 'n8n-workflow'
import { describe, expect, it } from 'vitest'
import { AkamaiIdentityCloudApi } from '../credentials/AkamaiIdentityCloudApi.credentials.ts'
import { ApiaxApi } from '../credentials/ApiaxApi.credentials.ts'
import { ClearCfcApi } from '../credentials/ClearCfcApi.credentials.ts'
import { ClearIdApi } from '../credentials/ClearIdApi.credentials.ts'
import { AkamaiIdentityCloud } from '../nodes/AkamaiIdentityCloud/AkamaiIdentityCloud.node.ts'
import { Apiax } from '../nodes/Apiax/Apiax.node.ts'
import { ClearCfc } from '../nodes/ClearCfc/ClearCfc.node.ts'
import { ClearId } from '../nodes/ClearId/ClearId.node.ts'
import * as entry from '../src/index.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

const credentials: [ICredentialType, string][] = [
  [new ClearIdApi(), 'clearIdApi'],
  [new ClearCfcApi(), 'clearCfcApi'],
  [new AkamaiIdentityCloudApi(), 'akamaiIdentityCloudApi'],
  [new ApiaxApi(), 'apiaxApi'],
]

const nodes: [INodeType, string][] = [
  [new ClearId(), 'clearIdApi'],
  [new ClearCfc(), 'clearCfcApi'],
  [new AkamaiIdentityCloud(), 'akamaiIdentityCloudApi'],
  [new Apiax(), 'apiaxApi'],
]

function iconFiles(icon: unknown, from: string): string[] {
  const values = typeof icon === 'string' ? [icon] : Object.values(icon as Record<string, string>)
  return values.map((value) => join(from, value.replace(/^file:/, '')))
}

describe.each(credentials)('%o', (credential, name) => {
  it(`is registered as ${name} and shows in the HTTP Request node's predefined list`, () => {
    expect(credential.name).toBe(name)
    expect(credential.authenticate).toBeTypeOf('function')
    expect(credential.preAuthentication).toBeTypeOf('function')
    expect(credential.genericAuth).toBeUndefined()
    expect(credential.test?.request).toBeDefined()
    expect(credential.documentationUrl).toMatch(
      /^https:\/\/www\.npmjs\.com\/package\/n8n-nodes-tokenkeeper#/,
    )
  })

  it('has one expirable hidden field, first among hidden fields, and secret token fields', () => {
    const hidden = credential.properties.filter((property) => property.type === 'hidden')
    expect(hidden[0]).toMatchObject({
      name: 'tokenStatus',
      default: '',
      typeOptions: { expirable: true },
    })
    expect(hidden.filter((property) => property.typeOptions?.expirable)).toHaveLength(1)
    for (const name of ['tokenValue', 'tokenState']) {
      expect(hidden.find((property) => property.name === name)?.typeOptions?.password).toBe(true)
    }
  })

  it('describes every visible field and hides every secret', () => {
    for (const property of credential.properties) {
      if (property.type === 'hidden' || property.type === 'notice') continue
      if (/secret|password|key|token/i.test(property.name) && property.type === 'string') {
        if (property.name !== 'tokenHeader' && property.name !== 'tokenUrl') {
          expect(property.typeOptions?.password, property.name).toBe(true)
        }
      }
      expect(property.displayName.length).toBeGreaterThan(0)
    }
    expect(credential.properties.find((property) => property.type === 'notice')).toBeDefined()
  })

  it('has its icons next to the build output', () => {
    for (const file of iconFiles(credential.icon, join(root, 'credentials'))) {
      expect(existsSync(file), file).toBe(true)
    }
  })
})

describe.each(nodes)('node %#', (node, credentialName) => {
  it('uses its credential and offers the access token resource', () => {
    const { description } = node
    expect(description.credentials).toEqual([{ name: credentialName, required: true }])
    const resource = description.properties.find((property) => property.name === 'resource')
    expect(resource?.options).toContainEqual({ name: 'Access Token', value: 'accessToken' })
    for (const file of iconFiles(description.icon, join(root, 'nodes', 'X'))) {
      expect(existsSync(file), file).toBe(true)
    }
  })
})

describe('package', () => {
  it('lists the built credentials and nodes for n8n and has no runtime dependencies', () => {
    expect(manifest.n8n.credentials).toEqual(
      ['ClearIdApi', 'ClearCfcApi', 'AkamaiIdentityCloudApi', 'ApiaxApi'].map(
        (name) => `dist/credentials/${name}.credentials.js`,
      ),
    )
    expect(manifest.n8n.nodes).toHaveLength(4)
    expect(manifest.dependencies ?? {}).toEqual({})
    expect(manifest.peerDependencies).toEqual({ 'n8n-workflow': '*' })
    expect(manifest.keywords).toContain('n8n-community-node-package')
  })

  it('exports the credential types from its entry', () => {
    expect(Object.keys(entry).sort()).toEqual(
      ['AkamaiIdentityCloudApi', 'ApiaxApi', 'ClearCfcApi', 'ClearIdApi'].sort(),
    )
  })
})
