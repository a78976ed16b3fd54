import { inspect } from 'node:util'

const REDACTED = '[redacted]'

/**
 * A secret setting (client secret, password, private key, API key). `String()`,
 * `JSON.stringify`, `util.inspect` and template literals show `[redacted]`; only
 * {@link Secret.reveal} returns the value.
 *
 * @example
 * createClearCfc({ clientSecret: new Secret(process.env.MY_SECRET!) })
 */
export class Secret {
  readonly #value: string

  constructor(value: string) {
    this.#value = value
  }

  /** The secret value. Call it only where the value is sent to the host it belongs to. */
  reveal(): string {
    return this.#value
  }

  toString(): string {
    return REDACTED
  }

  toJSON(): string {
    return REDACTED
  }

  [inspect.custom](): string {
    return 'Secret [redacted]'
  }
}

/** A setting that holds a secret: a plain string or a {@link Secret}. */
export type SecretInput = string | Secret

/** Wraps a plain string in a {@link Secret}; passes a Secret through. */
export function toSecret(value: SecretInput): Secret {
  return value instanceof Secret ? value : new Secret(value)
}

/** Returns the value of a plain string or a {@link Secret}. */
export function revealSecret(value: SecretInput): string {
  return value instanceof Secret ? value.reveal() : value
}
