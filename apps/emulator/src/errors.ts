/** Stable codes of {@link EmulatorError}. */
export type EmulatorErrorCode =
  | 'NON_LOOPBACK_HOST'
  | 'INVALID_OPTION'
  | 'UNKNOWN_ENTITY'
  | 'START_FAILED'

const BRAND = Symbol.for('tokenkeeper.emulator.error')

/**
 * A misuse of the emulator's programmatic or admin API (bad option, unknown client, a port
 * that cannot be bound). Messages name the option and never contain a secret.
 */
export class EmulatorError extends Error {
  override readonly name = 'EmulatorError'
  readonly code: EmulatorErrorCode

  constructor(code: EmulatorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    Object.defineProperty(this, BRAND, { value: true })
  }

  /** True for an `EmulatorError` from any copy of this package. */
  static is(value: unknown): value is EmulatorError {
    return typeof value === 'object' && value !== null && BRAND in value
  }
}

/** Throws an `INVALID_OPTION` error unless `value` is an integer in `[min, max]`. */
export function assertInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new EmulatorError('INVALID_OPTION', `${name} must be an integer from ${min} to ${max}`)
  }
  return value
}

/** Throws an `INVALID_OPTION` error unless `value` is a non-empty string. */
export function assertText(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new EmulatorError('INVALID_OPTION', `${name} must be a non-empty string`)
  }
  return value
}
