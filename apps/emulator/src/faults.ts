import { randomBytes } from 'node:crypto'
import { EmulatorError } from './errors.ts'
import type { Reply } from './http.ts'
import { type Fault, type FaultTarget, type MalformedBody, VENDORS } from './types.ts'

const FAULT_KINDS = new Set(['latency', 'status', 'rate-limit', 'reset', 'body'])
const MALFORMED_BODIES = new Set<MalformedBody>([
  'html',
  'truncated-json',
  'empty',
  'missing-token',
  'expires-in-text',
  'huge',
])

/** Size of the `huge` body: well above any sane token answer, small enough for a test. */
export const HUGE_BODY_BYTES = 6 * 1024 * 1024

/** Whether a string names a fault target (`clearid.token`, `akamai.api`, ...). */
export function isFaultTarget(value: unknown): value is FaultTarget {
  if (typeof value !== 'string') return false
  const [vendor, kind, ...rest] = value.split('.')
  return (
    rest.length === 0 &&
    (VENDORS as readonly string[]).includes(vendor ?? '') &&
    (kind === 'token' || kind === 'api')
  )
}

function invalid(message: string): EmulatorError {
  return new EmulatorError('INVALID_OPTION', `Invalid fault: ${message}`)
}

function optionalInteger(value: unknown, name: string, min: number, max: number): void {
  if (value === undefined) return
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer from ${min} to ${max}`)
  }
}

/** Checks a fault's shape (for faults coming from the admin API or untyped callers). */
export function validateFault(fault: unknown): Fault {
  if (typeof fault !== 'object' || fault === null) throw invalid('expected an object')
  const candidate = fault as Record<string, unknown>
  if (!FAULT_KINDS.has(candidate.kind as string)) {
    throw invalid('kind must be latency, status, rate-limit, reset or body')
  }
  optionalInteger(candidate.times, 'times', 1, Number.MAX_SAFE_INTEGER)
  switch (candidate.kind) {
    case 'latency':
      if (candidate.ms === undefined) throw invalid('latency needs ms')
      optionalInteger(candidate.ms, 'ms', 0, 600_000)
      break
    case 'status':
      if (candidate.status === undefined) throw invalid('status needs status')
      optionalInteger(candidate.status, 'status', 300, 599)
      optionalInteger(candidate.retryAfter, 'retryAfter', 0, 86_400 * 7)
      if (
        candidate.body !== undefined &&
        candidate.body !== 'vendor' &&
        candidate.body !== 'html'
      ) {
        throw invalid('status body must be vendor or html')
      }
      break
    case 'rate-limit':
      optionalInteger(candidate.retryAfter, 'retryAfter', 0, 86_400 * 7)
      break
    case 'body':
      if (!MALFORMED_BODIES.has(candidate.body as MalformedBody)) {
        throw invalid(
          'body must be html, truncated-json, empty, missing-token, expires-in-text or huge',
        )
      }
      break
  }
  return structuredClone(candidate) as Fault
}

interface Entry {
  fault: Fault
  remaining: number | null
}

/** The faults in force per target; each request that meets one consumes one use. */
export class FaultRegistry {
  readonly #entries = new Map<FaultTarget, Entry>()

  set(target: FaultTarget, fault: Fault): void {
    if (!isFaultTarget(target)) {
      throw invalid(
        `unknown target ${JSON.stringify(target)}; expected <vendor>.token or <vendor>.api`,
      )
    }
    const valid = validateFault(fault)
    this.#entries.set(target, { fault: valid, remaining: valid.times ?? null })
  }

  clear(target?: FaultTarget): void {
    if (target === undefined) this.#entries.clear()
    else this.#entries.delete(target)
  }

  list(): { target: FaultTarget; fault: Fault; remaining: number | null }[] {
    return [...this.#entries].map(([target, entry]) => ({
      target,
      fault: structuredClone(entry.fault),
      remaining: entry.remaining,
    }))
  }

  /** The fault for this request, if any, consuming one use. */
  take(target: FaultTarget): Fault | undefined {
    const entry = this.#entries.get(target)
    if (!entry) return undefined
    if (entry.remaining !== null) {
      entry.remaining -= 1
      if (entry.remaining <= 0) this.#entries.delete(target)
    }
    return entry.fault
  }
}

/** What a vendor supplies so faults look like that vendor. */
export interface FaultShapes {
  /** The vendor's error JSON for a status on a target. */
  errorBody(target: 'token' | 'api', status: number): unknown
  /** A token answer in the vendor's format with a fake token, possibly damaged. */
  tokenAnswer(variant: 'normal' | 'missing-token' | 'expires-in-text'): Record<string, unknown>
}

const REASONS: Record<number, string> = {
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

/** An HTML error page like the ones load balancers and gateways serve. */
export function htmlPage(status: number): string {
  const reason = REASONS[status] ?? 'Error'
  return `<!DOCTYPE html>\n<html><head><title>${status} ${reason}</title></head>\n<body><center><h1>${status} ${reason}</h1></center><hr><center>emulated gateway</center></body></html>\n`
}

/** A token value that was never issued (for damaged answers). */
export function fakeTokenValue(): string {
  return `fault-${randomBytes(24).toString('base64url')}`
}

let hugeBody: Buffer | undefined

/** Answers a request with a fault that produces an answer (not latency). */
export function answerWithFault(
  reply: Reply,
  fault: Exclude<Fault, { kind: 'latency' }>,
  target: 'token' | 'api',
  shapes: FaultShapes,
): void {
  switch (fault.kind) {
    case 'reset':
      reply.reset()
      return
    case 'rate-limit': {
      const headers: Record<string, string> =
        fault.retryAfter === undefined ? {} : { 'Retry-After': String(fault.retryAfter) }
      reply.json(429, shapes.errorBody(target, 429), headers)
      return
    }
    case 'status': {
      const headers: Record<string, string> =
        fault.retryAfter === undefined ? {} : { 'Retry-After': String(fault.retryAfter) }
      const flavour = fault.body ?? (fault.status >= 502 ? 'html' : 'vendor')
      if (flavour === 'html') {
        reply.send(fault.status, htmlPage(fault.status), 'text/html; charset=utf-8', headers)
      } else {
        reply.json(fault.status, shapes.errorBody(target, fault.status), headers)
      }
      return
    }
    case 'body':
      answerMalformed(reply, fault.body, target, shapes)
      return
  }
}

function answerMalformed(
  reply: Reply,
  body: MalformedBody,
  target: 'token' | 'api',
  shapes: FaultShapes,
): void {
  const json = 'application/json; charset=utf-8'
  switch (body) {
    case 'html':
      reply.send(200, htmlPage(200).replace('200 Error', 'Sign in'), 'text/html; charset=utf-8')
      return
    case 'empty':
      reply.send(200, '', json)
      return
    case 'truncated-json': {
      const whole = JSON.stringify(
        target === 'token' ? shapes.tokenAnswer('normal') : { items: [{ id: 1 }, { id: 2 }] },
      )
      reply.send(200, whole.slice(0, Math.floor(whole.length / 2)), json)
      return
    }
    case 'missing-token':
    case 'expires-in-text':
      reply.send(200, JSON.stringify(target === 'token' ? shapes.tokenAnswer(body) : {}), json)
      return
    case 'huge': {
      if (!hugeBody) {
        const prefix = '{"access_token":"huge","padding":"'
        const suffix = '"}'
        hugeBody = Buffer.alloc(HUGE_BODY_BYTES, 'x')
        hugeBody.write(prefix, 0)
        hugeBody.write(suffix, HUGE_BODY_BYTES - suffix.length)
      }
      reply.send(200, hugeBody, json)
      return
    }
  }
}
