import type { KeyObject } from 'node:crypto'
import { createAdminHandler } from './admin.ts'
import { createClock } from './clock.ts'
import { CounterStore } from './counters.ts'
import { processKeyPair } from './crypto.ts'
import { EmulatorError } from './errors.ts'
import { FaultRegistry } from './faults.ts'
import { bindAddress, isLoopbackHost, type ListeningServer, listen } from './http.ts'
import {
  createRequestListener,
  createVendorListener,
  Lifecycle,
  type VendorService,
} from './pipeline.ts'
import {
  type DemoCredentials,
  type Emulator,
  type EmulatorOptions,
  VENDORS,
  type Vendor,
} from './types.ts'
import { AKAMAI_WEBHOOKS_SCOPE, AkamaiService } from './vendors/akamai.ts'
import { APIAX_CLIENT_ID, APIAX_TOKEN_PATH, ApiaxService } from './vendors/apiax.ts'
import { ClearService } from './vendors/clear.ts'
import { ClearIdService } from './vendors/clearid.ts'

/**
 * The seeded demo credentials without the generated key: emulator-only values, fine to print.
 * Secrets deliberately contain `:`, `+`, `/` and `=` so clients that forget to URL-encode
 * form values or Basic credentials fail against the emulator as they would in production.
 */
export const DEMO = {
  clearid: {
    accountId: '4c1e7d0a-5b3f-4e2a-9d6c-0a1b2c3d4e5f',
    clientId: '7f3e2d1c-0b9a-4c8d-8e7f-6a5b4c3d2e1f:4c1e7d0a-5b3f-4e2a-9d6c-0a1b2c3d4e5f',
    clientSecret: 'emulator-clearid-secret+Zm9v/YmFy=',
  },
  clear: { clientSecret: 'emulator-clear-secret+c2VjcmV0/Cg==@Ab1' },
  akamai: {
    customerId: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
    clientId: 'emulator-config-client',
    clientSecret: 'emulator:akamai+secret/aGVsbG8=',
    scope: AKAMAI_WEBHOOKS_SCOPE,
  },
  apiax: {
    username: 'integration@emulator.test',
    password: 'emulator-apiax-pa55:word+1',
    apiKey: 'emulator-apiax-api-key',
    clientId: APIAX_CLIENT_ID,
  },
} as const

function validateOptions(options: EmulatorOptions): { address: string } {
  if (typeof options !== 'object' || options === null) {
    throw new EmulatorError('INVALID_OPTION', 'startEmulator options must be an object')
  }
  const host = options.host ?? '127.0.0.1'
  if (typeof host !== 'string' || !isLoopbackHost(host)) {
    throw new EmulatorError(
      'NON_LOOPBACK_HOST',
      `The emulator only listens on loopback (127.0.0.1, ::1 or localhost), not ${JSON.stringify(host)}: it serves fake credentials and must not be reachable from other machines`,
    )
  }
  for (const [name, port] of Object.entries(options.ports ?? {})) {
    if (name !== 'admin' && !(VENDORS as readonly string[]).includes(name)) {
      throw new EmulatorError('INVALID_OPTION', `ports.${name} is not a server of the emulator`)
    }
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65_535)) {
      throw new EmulatorError('INVALID_OPTION', `ports.${name} must be an integer from 0 to 65535`)
    }
  }
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw new EmulatorError('INVALID_OPTION', 'now must be a function returning epoch ms')
  }
  if (options.log !== undefined && typeof options.log !== 'function') {
    throw new EmulatorError('INVALID_OPTION', 'log must be a function')
  }
  return { address: bindAddress(host) }
}

/**
 * Starts the emulator: one loopback server per vendor (distinct origins, as in production)
 * plus the admin API, with the demo credentials registered unless `seed: false`.
 *
 * @example
 * ```ts
 * const emulator = await startEmulator({ now: () => clock.now() })
 * const client = createClearId({ ...emulator.demo.clearid, stsUrl: emulator.urls.clearid.stsUrl })
 * emulator.faults.set('clearid.token', { kind: 'status', status: 503, times: 1 })
 * await emulator.stop()
 * ```
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const { address } = validateOptions(options)
  const clock = createClock(options.now)
  const counters = new CounterStore()
  const faults = new FaultRegistry()
  const lifecycle = new Lifecycle()
  const context = { clock, counters, faults, lifecycle, log: options.log }

  const [clearid, apiax, demoKeyPair] = await Promise.all([
    ClearIdService.create(clock, counters),
    ApiaxService.create(clock, counters),
    processKeyPair('clearid-demo'),
  ])
  const clear = new ClearService(clock, counters)
  const akamai = new AkamaiService(clock, counters)
  const services: Record<Vendor, VendorService & { origin: string }> = {
    clearid,
    clear,
    akamai,
    apiax,
  }

  const servers: ListeningServer[] = []
  const closeAll = async () => {
    lifecycle.stop()
    await Promise.all(servers.map((server) => server.close()))
  }
  let emulator: Emulator | undefined
  const adminHandler = createAdminHandler(() => emulator!)
  let admin: ListeningServer
  try {
    for (const vendor of VENDORS) {
      const server = await listen(
        address,
        options.ports?.[vendor] ?? 0,
        vendor,
        createVendorListener(services[vendor], context),
      )
      servers.push(server)
      services[vendor].origin = server.origin
    }
    admin = await listen(
      address,
      options.ports?.admin ?? 0,
      'admin',
      createRequestListener('admin', context, () => ({ handler: adminHandler })),
    )
    servers.push(admin)
  } catch (error) {
    await closeAll()
    throw error
  }

  let demo: DemoCredentials
  try {
    demo = await seedDemo({ clearid, clear, akamai, apiax }, options.seed ?? true, demoKeyPair)
  } catch (error) {
    await closeAll()
    throw error
  }

  let stopping: Promise<void> | undefined
  const akamaiBase = akamai.origin
  emulator = {
    urls: {
      admin: admin.origin,
      clearid: { stsUrl: clearid.origin, apiUrl: clearid.origin },
      clear: { baseUrl: clear.origin },
      akamai: {
        baseUrl: akamaiBase,
        oidcUrl: `${akamaiBase}/${DEMO.akamai.customerId}/login`,
      },
      apiax: { tokenUrl: `${apiax.origin}${APIAX_TOKEN_PATH}`, apiUrl: apiax.origin },
    },
    demo,
    clock,
    clearid: clearid.control(),
    clear: clear.control(),
    akamai: akamai.control(),
    apiax: apiax.control(),
    revokeTokens: (vendor) => serviceOf(services, vendor).revokeTokens(),
    expireTokens: (vendor) => serviceOf(services, vendor).expireTokens(),
    faults: {
      set: (target, fault) => faults.set(target, fault),
      clear: (target) => faults.clear(target),
      list: () => faults.list(),
    },
    counters: () => counters.snapshot(),
    resetCounters: () => counters.reset(),
    stop: () => {
      stopping ??= closeAll()
      return stopping
    },
  }
  return emulator
}

function serviceOf(services: Record<Vendor, VendorService>, vendor: Vendor): VendorService {
  if (!(VENDORS as readonly string[]).includes(vendor)) {
    throw new EmulatorError('INVALID_OPTION', `Unknown vendor ${JSON.stringify(vendor)}`)
  }
  return services[vendor]
}

/** Builds the demo credentials and, when seeding, registers them. */
async function seedDemo(
  services: {
    clearid: ClearIdService
    clear: ClearService
    akamai: AkamaiService
    apiax: ApiaxService
  },
  seed: boolean,
  keyPair: { privateKey: KeyObject; publicKey: KeyObject },
): Promise<DemoCredentials> {
  const { clearid, clear, akamai, apiax } = services
  if (seed) {
    clearid.registerClient({
      clientId: DEMO.clearid.clientId,
      accountId: DEMO.clearid.accountId,
      clientSecret: DEMO.clearid.clientSecret,
    })
  }
  const keyFile = clearid.createKeyFile(
    {
      clientId: DEMO.clearid.clientId,
      accountId: DEMO.clearid.accountId,
      name: 'tokenkeeper-demo',
    },
    keyPair,
  )
  // createKeyFile registers the client it writes for; without seeding, take it back out.
  if (!seed) clearid.control().removeClient(DEMO.clearid.clientId)
  if (seed) {
    clear.registerSecret({ secret: DEMO.clear.clientSecret })
    akamai.registerClient({
      customerId: DEMO.akamai.customerId,
      clientId: DEMO.akamai.clientId,
      clientSecret: DEMO.akamai.clientSecret,
      scopes: [AKAMAI_WEBHOOKS_SCOPE, '*:config/**'],
      tokenLifetime: 3600,
    })
    apiax.registerUser({ username: DEMO.apiax.username, password: DEMO.apiax.password })
    apiax.control().registerApiKey(DEMO.apiax.apiKey)
  }
  return {
    clearid: {
      clientId: DEMO.clearid.clientId,
      accountId: DEMO.clearid.accountId,
      clientSecret: DEMO.clearid.clientSecret,
      keyFile: keyFile.keyFile,
      privateKeyPem: keyFile.privateKeyPem,
      privateJwk: keyFile.privateJwk,
    },
    clear: { clientSecret: DEMO.clear.clientSecret },
    akamai: { ...DEMO.akamai },
    apiax: { ...DEMO.apiax },
  }
}
