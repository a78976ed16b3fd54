import { basename } from 'node:path'
import { performance } from 'node:perf_hooks'
import { TokenKeeperError } from '@tokenkeeper/auth-core'
import fc from 'fast-check'
import { atMost, type Figure, plain, record } from './figures.ts'

/** Fixed seed: the same inputs on every run, so the figures are stable. */
const SEED = 20_260_101
/** Real time after which one input counts as a hang. */
const HANG_MS = 5_000

/** How one generated input ended. */
type Outcome =
  | { kind: 'accepted' }
  | { kind: 'typed' }
  /** Another exception, an accepted value that breaks the contract, or a hang. */
  | { kind: 'untyped'; detail: string }

/** Options of {@link checkProperty}. */
export interface PropertyOptions<T> {
  readonly id: string
  /** The function or factory under test, e.g. `parseOAuthTokenResponse`. */
  readonly title: string
  /** What the generated inputs are. */
  readonly exercises: string
  readonly arbitrary: fc.Arbitrary<T>
  /** Runs one input: returns (or resolves) a value, or throws. */
  readonly run: (input: T) => unknown
  /** Checks an accepted value; returns what is wrong with it, if anything. */
  readonly check?: (result: unknown, input: T) => string | undefined
  /** Inputs to try. Default 300. */
  readonly numRuns?: number
  readonly knownDefect?: string
  /** The test file (its `import.meta.url`). */
  readonly file: string
}

/** What {@link checkProperty} found. */
export interface PropertyResult {
  readonly figures: Record<string, Figure>
  /** The smallest failing input fast-check found, and what went wrong; `undefined` if none. */
  readonly counterexample: string | undefined
}

const TIMED_OUT = Symbol('timed out')

async function outcomeOf<T>(options: PropertyOptions<T>, input: T): Promise<Outcome> {
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  try {
    const result = await Promise.race([
      Promise.resolve().then(() => options.run(input)),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), HANG_MS)
        timer.unref()
      }),
    ])
    if (result === TIMED_OUT || performance.now() - started > HANG_MS) {
      return { kind: 'untyped', detail: `no answer within ${HANG_MS} ms` }
    }
    const problem = options.check?.(result, input)
    return problem === undefined ? { kind: 'accepted' } : { kind: 'untyped', detail: problem }
  } catch (error) {
    if (TokenKeeperError.is(error)) {
      if (typeof error.message !== 'string' || error.message.length === 0) {
        return { kind: 'untyped', detail: `${error.code} without a message` }
      }
      return { kind: 'typed' }
    }
    const name = error instanceof Error ? error.name : typeof error
    const message = error instanceof Error ? error.message : String(error)
    return { kind: 'untyped', detail: `${name}: ${message}` }
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Runs a property over generated inputs: every input must give a value (that passes `check`) or
 * a `TokenKeeperError`. Records the row and returns the figures plus a shrunk counterexample.
 */
export async function checkProperty<T>(options: PropertyOptions<T>): Promise<PropertyResult> {
  const numRuns = options.numRuns ?? 300
  const inputs = fc.sample(options.arbitrary, { seed: SEED, numRuns })
  let accepted = 0
  let typed = 0
  let untyped = 0
  for (const input of inputs) {
    const outcome = await outcomeOf(options, input)
    if (outcome.kind === 'accepted') accepted++
    else if (outcome.kind === 'typed') typed++
    else untyped++
  }
  let counterexample: string | undefined
  if (untyped > 0) {
    let detail = ''
    const details = await fc.check(
      fc.asyncProperty(options.arbitrary, async (input) => {
        const outcome = await outcomeOf(options, input)
        if (outcome.kind === 'untyped') detail = outcome.detail
        return outcome.kind !== 'untyped'
      }),
      { seed: SEED, numRuns },
    )
    counterexample = details.failed
      ? `${detail} for ${fc.stringify(details.counterexample)}`
      : `${untyped} inputs failed (not reproduced while shrinking)`
  }
  const figures: Record<string, Figure> = {
    runs: plain(inputs.length),
    accepted: plain(accepted),
    typed: plain(typed),
    untyped: atMost(untyped, 0),
  }
  record({
    id: `generated/${options.id}`,
    section: 'generated',
    title: options.title,
    exercises: options.exercises,
    figures,
    file: basename(new URL(options.file).pathname),
    ...(options.knownDefect ? { knownDefect: options.knownDefect } : {}),
  })
  return { figures, counterexample }
}
