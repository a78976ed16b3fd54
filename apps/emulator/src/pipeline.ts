import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { CounterStore } from './counters.ts'
import { answerWithFault, type FaultRegistry, type FaultShapes } from './faults.ts'
import { EmulatorRequest, REQUEST_BODY_LIMIT, Reply, readBody } from './http.ts'
import type { EmulatorClock, Vendor } from './types.ts'

/** What a vendor emulation implements; the pipeline does the rest (faults, counting, logs). */
export interface VendorService extends FaultShapes {
  readonly vendor: Vendor
  /** Whether a path is the token endpoint (`token`) or anything else (`api`). */
  targetOf(pathname: string): 'token' | 'api'
  /** The grant a token request names, for `byGrant`. */
  grantOf(request: EmulatorRequest): string | undefined
  /** Answers a request (faults were handled before). */
  handle(request: EmulatorRequest, reply: Reply): Promise<void> | void
  /** Vendor-side revocation of every live access token. */
  revokeTokens(): void
  /** Every live access token expires now. */
  expireTokens(): void
}

/** Shared by every server of one emulator: stop flag and cancellable delays. */
export class Lifecycle {
  stopped = false
  readonly #timers = new Map<NodeJS.Timeout, () => void>()

  /** Waits `ms` of real time; resolves at once when the emulator stops. */
  delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer)
        resolve()
      }, ms)
      timer.unref()
      this.#timers.set(timer, resolve)
    })
  }

  stop(): void {
    this.stopped = true
    for (const [timer, resolve] of this.#timers) {
      clearTimeout(timer)
      resolve()
    }
    this.#timers.clear()
  }
}

/** Dependencies of a request handler. */
export interface PipelineContext {
  clock: EmulatorClock
  lifecycle: Lifecycle
  log?: ((line: string) => void) | undefined
}

type Handler = (request: EmulatorRequest, reply: Reply) => Promise<void> | void

/**
 * Wraps a handler: reads the body (bounded), writes the emulator `Date` header, logs one line
 * per request without query string or any header or body, and turns a crash into a 500.
 */
export function createRequestListener(
  name: string,
  context: PipelineContext,
  prepare: (request: EmulatorRequest) => {
    handler: Handler
    onAnswer?: (status: number | 'reset') => void
    note?: () => string | undefined
  },
): (message: IncomingMessage, response: ServerResponse) => void {
  return (message, response) => {
    const started = performance.now()
    const url = new URL(message.url ?? '/', 'http://emulator.invalid')
    let onAnswer: ((status: number | 'reset') => void) | undefined
    let note: (() => string | undefined) | undefined
    const reply = new Reply(
      response,
      () => context.clock.now(),
      (status) => {
        onAnswer?.(status)
        if (context.log) {
          const elapsed = Math.round(performance.now() - started)
          const extra = note?.()
          const path = url.pathname.length > 300 ? `${url.pathname.slice(0, 300)}...` : url.pathname
          context.log(
            `${name} ${message.method ?? '?'} ${path} ${status} ${elapsed}ms${extra ? ` ${extra}` : ''}`,
          )
        }
      },
    )
    const run = async () => {
      // Handlers decode path segments; a path that does not decode is refused once, here.
      try {
        decodeURIComponent(url.pathname)
      } catch {
        reply.json(400, { error: 'invalid_request', error_description: 'Malformed URL path' })
        message.resume()
        return
      }
      const body = await readBody(message, REQUEST_BODY_LIMIT)
      if (body === undefined) {
        reply.json(413, { error: 'request_too_large', error_description: 'Request body too large' })
        message.resume()
        return
      }
      const request = new EmulatorRequest(message, url, body)
      const prepared = prepare(request)
      onAnswer = prepared.onAnswer
      note = prepared.note
      await prepared.handler(request, reply)
      if (!reply.answered && !context.lifecycle.stopped) {
        reply.json(500, { error: 'server_error', error_description: 'No answer produced' })
      }
    }
    run().catch((error: unknown) => {
      if (!reply.answered) {
        const label = error instanceof Error ? error.name : 'Error'
        reply.json(500, { error: 'server_error', error_description: `Emulator failure (${label})` })
      }
    })
  }
}

/** The request listener of one vendor server: faults, counters, then the vendor's handler. */
export function createVendorListener(
  service: VendorService,
  context: PipelineContext & { counters: CounterStore; faults: FaultRegistry },
): (message: IncomingMessage, response: ServerResponse) => void {
  const { counters, faults, lifecycle } = context
  return createRequestListener(service.vendor, context, (request) => {
    const target = service.targetOf(request.pathname)
    const own = counters.of(service.vendor)
    if (target === 'token') {
      own.tokenRequests += 1
      counters.grant(service.vendor, service.grantOf(request))
    }
    const fault = faults.take(`${service.vendor}.${target}`)
    if (fault) own.faultsInjected += 1
    return {
      note: () => (fault ? `fault=${fault.kind}` : undefined),
      onAnswer: (status) => {
        if (target === 'token' && (status === 'reset' || status < 200 || status >= 300)) {
          counters.of(service.vendor).tokenErrors += 1
        }
      },
      handler: async (emulatorRequest, reply) => {
        if (fault && fault.kind !== 'latency') {
          answerWithFault(reply, fault, target, service)
          return
        }
        if (fault?.kind === 'latency') {
          await lifecycle.delay(fault.ms)
          if (lifecycle.stopped) return
        }
        await service.handle(emulatorRequest, reply)
      },
    }
  })
}
