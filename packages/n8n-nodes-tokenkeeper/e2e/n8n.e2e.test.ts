import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Counters, type Emulator, startEmulator, type Vendor } from '@tokenkeeper/emulator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureN8n, n8nVersion } from './install-n8n.mjs'
import { type CredentialExport, N8nInstance, type NodeRun } from './n8n-instance.ts'
import { n8nRest, type RestSession } from './n8n-rest.ts'
import {
  CALL_NODE,
  type CredentialRef,
  type HttpCall,
  httpRequestWorkflow,
  vendorNodeWorkflow,
} from './workflows.ts'

/**
 * The proof in a real n8n: the packed package installed like n8n's community installer does,
 * credentials and workflows imported with n8n's CLI, workflows run with `n8n execute --id`, and
 * every claim checked on the emulator's counters. One n8n user folder serves every scenario; the
 * scenarios of a vendor run in order and build on each other (a credential's token carries over
 * from one execution to the next, as in production).
 */

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..')
const LOG_FILE = join(tmpdir(), 'n8n-nodes-tokenkeeper-e2e.log')
const ITEMS = 20

let emulator: Emulator
let n8n: N8nInstance
let rest: RestSession | undefined
let work: string

beforeAll(async () => {
  // Fails with the installer's message when n8n cannot be installed: never skipped.
  let installation: ReturnType<typeof ensureN8n>
  try {
    installation = ensureN8n()
  } catch (error) {
    throw new Error(
      `n8n ${n8nVersion} on Node 24 could not be installed, so the end-to-end proof cannot run: ${(error as Error).message}`,
      { cause: error },
    )
  }
  work = mkdtempSync(join(tmpdir(), 'n8n-nodes-tokenkeeper-e2e-'))
  execFileSync('pnpm', ['run', 'build'], { cwd: packageRoot, stdio: 'ignore' })
  execFileSync('npm', ['pack', '--pack-destination', work, '--silent'], {
    cwd: packageRoot,
    stdio: 'ignore',
  })
  const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'))
  if (!tarball) throw new Error('npm pack produced no tarball')
  emulator = await startEmulator()
  // Apiax sessions with single-use refresh tokens: reusing a spent one ends the session, so a
  // stale refresh token anywhere would show in the counters.
  emulator.apiax.configure({ revokeRefreshToken: true })
  n8n = await N8nInstance.create(installation, join(work, tarball), 'main')
  const { credentials, workflows } = fixtures()
  await n8n.importCredentials(credentials)
  await n8n.importWorkflows(workflows)
  console.info(`n8n ${n8nVersion} user folder: ${n8n.userFolder}`)
})

afterAll(async () => {
  await rest?.stop()
  await emulator?.stop()
  // Every n8n command and its output, for diagnosing a failure.
  if (n8n) writeFileSync(LOG_FILE, n8n.log.join('\n\n'))
  console.info(`n8n command log: ${LOG_FILE}`)
  n8n?.dispose()
  if (work) rmSync(work, { recursive: true, force: true })
})

/** What a vendor contributes to the scenarios. */
interface VendorCase {
  vendor: Vendor
  credentialType: string
  /** Plain credential fields pointing at the emulator, for the credential named `suffix`. */
  credential(emulator: Emulator, suffix: string): Record<string, unknown>
  /** The HTTP Request node's call. */
  httpCall(emulator: Emulator): HttpCall
  /** Our node and its parameters. */
  node: { name: string; parameters: Record<string, unknown> }
}

const vendors: VendorCase[] = [
  {
    vendor: 'clearid',
    credentialType: 'clearIdApi',
    credential: ({ urls, demo }) => ({
      environment: 'custom',
      stsUrl: urls.clearid.stsUrl,
      apiUrl: urls.clearid.apiUrl,
      clientId: demo.clearid.clientId,
      authentication: 'privateKey',
      // The whole key file, as downloaded from the portal.
      privateKey: JSON.stringify(demo.clearid.keyFile),
    }),
    httpCall: ({ urls, demo }) => ({
      method: 'GET',
      url: `${urls.clearid.apiUrl}/api/v2/accounts/${demo.clearid.accountId}/identities`,
    }),
    node: {
      name: 'clearId',
      parameters: { resource: 'identity', operation: 'getAll', split: false },
    },
  },
  {
    vendor: 'clear',
    credentialType: 'clearCfcApi',
    credential: ({ urls, clear }, suffix) => ({
      environment: 'custom',
      baseUrl: urls.clear.baseUrl,
      authentication: 'clientSecret',
      // Each credential its own secret: credentials sharing a Clear secret revoke each other.
      clientSecret: clearSecret(clear, suffix),
      tokenHeader: 'x-cleartax-auth-token',
      headers: '{}',
    }),
    httpCall: ({ urls }) => ({
      method: 'GET',
      url: `${urls.clear.baseUrl}/integration/v1/generatePreSign/sales`,
      query: { fileName: 'invoices.csv' },
    }),
    node: {
      name: 'clearCfc',
      parameters: {
        resource: 'file',
        operation: 'getUploadUrl',
        fileType: 'sales',
        fileName: 'invoices.csv',
      },
    },
  },
  {
    vendor: 'akamai',
    credentialType: 'akamaiIdentityCloudApi',
    credential: ({ urls, demo }) => ({
      region: 'custom',
      baseUrl: urls.akamai.baseUrl,
      customerId: demo.akamai.customerId,
      clientId: demo.akamai.clientId,
      clientSecret: demo.akamai.clientSecret,
      scope: demo.akamai.scope,
    }),
    httpCall: ({ urls, demo }) => ({
      method: 'GET',
      url: `${urls.akamai.baseUrl}/${demo.akamai.customerId}/webhooks/subscriptions`,
    }),
    node: {
      name: 'akamaiIdentityCloud',
      parameters: { resource: 'subscription', operation: 'getAll' },
    },
  },
  {
    vendor: 'apiax',
    credentialType: 'apiaxApi',
    credential: ({ urls, demo }) => ({
      environment: 'custom',
      tokenUrl: urls.apiax.tokenUrl,
      apiUrl: urls.apiax.apiUrl,
      username: demo.apiax.username,
      password: demo.apiax.password,
      apiKey: demo.apiax.apiKey,
      useClientAssertion: false,
    }),
    httpCall: ({ urls }) => ({
      method: 'POST',
      url: `${urls.apiax.apiUrl}/api/v3/rules/eval`,
      body: {
        products: [{ productId: 'P-1', familyId: 'F-1' }],
        regimes: ['CH'],
        versionFilter: 'latest',
        attributes: [{ name: 'clientDomicile', value: 'DE' }],
      },
    }),
    node: {
      name: 'apiax',
      parameters: {
        resource: 'rule',
        operation: 'evaluate',
        products: { values: [{ productId: 'P-1', familyId: 'F-1' }] },
        regimes: 'CH',
        versionFilter: 'latest',
        attributes: { values: [{ name: 'clientDomicile', value: 'DE' }] },
        additionalFields: '{}',
      },
    },
  },
]

// --- helpers ---------------------------------------------------------------------------------

/** Registers (once) and returns a Clear client secret for one credential. */
function clearSecret(clear: Emulator['clear'], suffix: string): string {
  const secret = `clear-e2e-${suffix}-secret`
  clear.registerSecret({ secret })
  return secret
}

/** Ids n8n accepts for credentials and workflows (16 alphanumerics). */
function id(prefix: string, suffix: string): string {
  return `${prefix}${suffix}`
    .replace(/[^A-Za-z0-9]/g, '')
    .padEnd(16, '0')
    .slice(0, 16)
}

/** The credential named `suffix` of a vendor (all are imported up front). */
function ref(vendorCase: VendorCase, suffix: string): CredentialRef {
  return {
    type: vendorCase.credentialType,
    id: id(`c${vendorCase.vendor}`, suffix),
    name: `${vendorCase.vendor} ${suffix}`,
  }
}

function vendorCase(vendor: Vendor): VendorCase {
  return vendors.find((entry) => entry.vendor === vendor)!
}

/**
 * Every credential and workflow the scenarios use, imported with two CLI calls (each n8n command
 * costs seconds): cold credentials, so each scenario starts where the previous left off.
 */
function fixtures(): { credentials: CredentialExport[]; workflows: Record<string, unknown>[] } {
  const credentials: CredentialExport[] = []
  const workflows: Record<string, unknown>[] = []
  const credential = (entry: VendorCase, suffix: string, data?: Record<string, unknown>) => {
    const reference = ref(entry, suffix)
    credentials.push({ ...reference, data: data ?? entry.credential(emulator, suffix) })
    return reference
  }
  for (const entry of vendors) {
    const { vendor } = entry
    workflows.push(
      httpRequestWorkflow(
        id(`w${vendor}`, 'http'),
        credential(entry, 'http'),
        entry.httpCall(emulator),
        {
          count: ITEMS,
        },
      ),
      vendorNodeWorkflow(
        id(`w${vendor}`, 'node'),
        credential(entry, 'node'),
        entry.node.name,
        entry.node.parameters,
        { count: ITEMS },
      ),
    )
    credential(entry, 'ctest')
    const data = entry.credential(emulator, 'wrong')
    credential(entry, 'wrong', {
      ...data,
      ...(vendor === 'clearid' ? { authentication: 'clientSecret' } : {}),
      ['clientSecret' in data ? 'clientSecret' : 'password']: WRONG_SECRET,
    })
  }
  const apiax = vendorCase('apiax')
  workflows.push(
    httpRequestWorkflow(
      id('wapiax', 'rotation'),
      credential(apiax, 'rotation'),
      apiax.httpCall(emulator),
      {
        count: 3,
      },
    ),
  )
  const clear = vendorCase('clear')
  workflows.push(
    httpRequestWorkflow(
      id('wclear', 'fault'),
      credential(clear, 'fault'),
      clear.httpCall(emulator),
      {
        count: ITEMS,
        continueOnFail: true,
      },
    ),
    httpRequestWorkflow(id('wclear', 'test'), credential(clear, 'test'), clear.httpCall(emulator), {
      count: 1,
    }),
  )
  return { credentials, workflows }
}

const WRONG_SECRET = 'Wrong-Secret-4711-do-not-echo'

/** Counter changes of one vendor across `action`. */
async function measure<T, V extends Vendor>(
  vendor: V,
  action: () => Promise<T>,
): Promise<{ result: T; delta: Counters[V] }> {
  const before = emulator.counters()[vendor]
  const result = await action()
  const after = emulator.counters()[vendor]
  return { result, delta: subtract(after, before) as Counters[V] }
}

function subtract(after: unknown, before: unknown): unknown {
  if (typeof after === 'number') return after - ((before as number | undefined) ?? 0)
  if (typeof after === 'object' && after !== null) {
    return Object.fromEntries(
      Object.entries(after).map(([key, value]) => [
        key,
        subtract(value, (before as Record<string, unknown> | undefined)?.[key]),
      ]),
    )
  }
  return after
}

async function execute(workflowId: string): Promise<NodeRun & { code: number; output: string }> {
  const { code, nodes, output } = await n8n.execute(workflowId)
  const call = nodes[CALL_NODE] ?? { items: [] }
  return { ...call, code, output }
}

function expectSucceeded(run: { code: number; output: string; error?: unknown }): void {
  if (run.code !== 0 || run.error) {
    throw new Error(`the execution failed (exit ${run.code}):\n${run.output.slice(-4000)}`)
  }
}

/** Makes n8n see the credential's token as past its renewal time (the token itself stays valid). */
async function passRenewalTime(ref: CredentialRef): Promise<Record<string, unknown>> {
  const data = await n8n.exportCredential(ref.id)
  expect(String(data.tokenStatus)).toMatch(/^=\{\{ Date\.now\(\) < \d+ \? 'valid' : '' \}\}$/)
  const past = Date.now() - 1_000
  await n8n.importCredentials([
    {
      ...ref,
      data: {
        ...data,
        tokenStatus: `={{ Date.now() < ${past} ? 'valid' : '' }}`,
        tokenRenewAt: past,
      },
    },
  ])
  return data
}

// --- scenarios -------------------------------------------------------------------------------

describe.each(vendors)('$vendor', (entry) => {
  const { vendor } = entry
  const http = ref(entry, 'http')
  const httpWorkflow = id(`w${vendor}`, 'http')
  const nodeWorkflow = id(`w${vendor}`, 'node')

  it(`HTTP Request node, ${ITEMS} concurrent items on a cold credential: one token request, ${ITEMS} successes`, async () => {
    const { result, delta } = await measure(vendor, () => execute(httpWorkflow))
    expectSucceeded(result)
    expect(result.items).toHaveLength(ITEMS)
    expect(delta.tokenRequests).toBe(1)
    expect(delta.apiAccepted).toBe(ITEMS)
    expect(delta.apiRejected).toBe(0)
    const persisted = await n8n.exportCredential(http.id)
    expect(persisted.tokenValue).toEqual(expect.any(String))
    expect(String(persisted.tokenStatus)).toMatch(
      /^=\{\{ Date\.now\(\) < \d+ \? 'valid' : '' \}\}$/,
    )
  })

  it('second execution while the token is valid: no token request', async () => {
    const { result, delta } = await measure(vendor, () => execute(httpWorkflow))
    expectSucceeded(result)
    expect(delta.tokenRequests).toBe(0)
    expect(delta.apiAccepted).toBe(ITEMS)
    expect(delta.apiRejected).toBe(0)
  })

  it(`our node, ${ITEMS} items on a cold credential: one token request, ${ITEMS} successes`, async () => {
    const { result, delta } = await measure(vendor, () => execute(nodeWorkflow))
    expectSucceeded(result)
    expect(delta.tokenRequests).toBe(1)
    expect(delta.apiAccepted).toBe(ITEMS)
    expect(delta.apiRejected).toBe(0)
  })

  it('token expired on the vendor side (HTTP Request node): exactly one renewal, no failed item', async () => {
    emulator.expireTokens(vendor)
    const { result, delta } = await measure(vendor, () => execute(httpWorkflow))
    expectSucceeded(result)
    expect(result.items).toHaveLength(ITEMS)
    expect(delta.tokenRequests).toBe(1)
    expect(delta.tokensIssued).toBe(1)
    expect(delta.apiAccepted).toBe(ITEMS)
  })

  it(`token expired on the vendor side (our node${vendor === 'akamai' ? ', Akamai answers 403' : ''}): exactly one renewal, no failed item`, async () => {
    emulator.expireTokens(vendor)
    const { result, delta } = await measure(vendor, () => execute(nodeWorkflow))
    expectSucceeded(result)
    expect(delta.tokenRequests).toBe(1)
    expect(delta.apiAccepted).toBe(ITEMS)
    if (vendor === 'akamai') expect(delta.apiRejectedByReason.expired).toBeGreaterThan(0)
  })

  it('token past its renewal time: renewed before use, no rejected call', async () => {
    const before = await passRenewalTime(http)
    const { result, delta } = await measure(vendor, () => execute(httpWorkflow))
    expectSucceeded(result)
    expect(delta.tokenRequests).toBe(1)
    expect(delta.apiRejected).toBe(0)
    expect(delta.apiAccepted).toBe(ITEMS)
    const after = await n8n.exportCredential(http.id)
    expect(after.tokenValue).not.toBe(before.tokenValue)
    expect(Number(after.tokenRenewAt)).toBeGreaterThan(Date.now())
  })
})

describe('apiax refresh-token rotation', () => {
  it('renews with the newest refresh token across executions: one password login, then refresh grants only', async () => {
    const credential = ref(vendorCase('apiax'), 'rotation')
    const workflowId = id('wapiax', 'rotation')
    const { delta } = await measure('apiax', async () => {
      expectSucceeded(await execute(workflowId))
      const refreshTokens: string[] = []
      for (let round = 0; round < 2; round++) {
        const before = await passRenewalTime(credential)
        refreshTokens.push(JSON.parse(String(before.tokenState)).refreshToken)
        expectSucceeded(await execute(workflowId))
      }
      const last = await n8n.exportCredential(credential.id)
      refreshTokens.push(JSON.parse(String(last.tokenState)).refreshToken)
      expect(new Set(refreshTokens).size).toBe(3)
    })
    expect(delta.byGrant.password ?? 0).toBe(1)
    expect(delta.byGrant.refresh_token ?? 0).toBe(2)
    expect(delta.refreshReuseRejected).toBe(0)
    expect(delta.sessionsKilled).toBe(0)
    expect(delta.apiRejected).toBe(0)
  })
})

describe('clear guards', () => {
  const clear = vendorCase('clear')

  it('an API 500 on one item causes no new token (the HTTP Request node retries through preAuthentication)', async () => {
    const workflowId = id('wclear', 'fault')
    // A first run gives the credential its token.
    expectSucceeded(await execute(workflowId))
    emulator.faults.set('clear.api', { kind: 'status', status: 500, times: 1 })
    const { result, delta } = await measure('clear', () => execute(workflowId))
    emulator.faults.clear()
    expect(result.code).toBe(0)
    const failed = result.items.filter((item) => 'error' in item)
    expect(failed).toHaveLength(1)
    expect(result.items).toHaveLength(ITEMS)
    expect(delta.tokenRequests).toBe(0)
    expect(delta.revokedByReissue).toBe(0)
    expect(delta.faultsInjected).toBe(1)
  })

  it('the credential test with a valid stored token causes no new token', async () => {
    const credential = ref(clear, 'test')
    const workflowId = id('wclear', 'test')
    expectSucceeded(await execute(workflowId))
    rest ??= await n8nRest(n8n)
    const { result, delta } = await measure('clear', () => rest!.testCredential(credential.id))
    expect(result).toMatchObject({ status: 'OK' })
    expect(delta.tokenRequests).toBe(0)
    expect(delta.revokedByReissue).toBe(0)
    // The workflow still runs on the same token.
    const again = await measure('clear', () => execute(workflowId))
    expectSucceeded(again.result)
    expect(again.delta.tokenRequests).toBe(0)
    expect(again.delta.apiRejected).toBe(0)
  })
})

describe.each(vendors)('credential test of $vendor, as the editor runs it', (entry) => {
  const { vendor } = entry

  it('with a valid stored token: succeeds without a token request', async () => {
    rest ??= await n8nRest(n8n)
    const { result, delta } = await measure(vendor, () =>
      rest!.testCredential(id(`c${vendor}`, 'http')),
    )
    expect(result).toMatchObject({ status: 'OK' })
    expect(delta.tokenRequests).toBe(0)
  })

  it('on a new credential: obtains and stores one token, and a second test reuses it', async () => {
    const credential = ref(entry, 'ctest')
    rest ??= await n8nRest(n8n)
    const first = await measure(vendor, () => rest!.testCredential(credential.id))
    expect(first.result).toMatchObject({ status: 'OK' })
    expect(first.delta.tokenRequests).toBe(1)
    const second = await measure(vendor, () => rest!.testCredential(credential.id))
    expect(second.result).toMatchObject({ status: 'OK' })
    expect(second.delta.tokenRequests).toBe(0)
  })

  it("with a wrong secret: fails with the vendor's reason and no secret in the message", async () => {
    const credential = ref(entry, 'wrong')
    rest ??= await n8nRest(n8n)
    const { result } = await measure(vendor, () => rest!.testCredential(credential.id))
    expect(result.status).toBe('Error')
    expect(result.message ?? '').not.toContain(WRONG_SECRET)
  })
})
