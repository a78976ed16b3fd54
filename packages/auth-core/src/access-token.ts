import { createHash } from 'node:crypto'
import { inspect } from 'node:util'

/**
 * An access token. `value` is the secret; `String()`, `JSON.stringify` and `util.inspect`
 * never show it.
 */
export interface AccessToken {
  /** The token itself. A secret: send it only to the API it belongs to. */
  readonly value: string
  /** `'Bearer'`, or the vendor's own scheme. */
  readonly type: string
  /** Epoch ms on the local clock after which the token must not be used; `null`: never expires. */
  readonly expiresAt: number | null
  /** Epoch ms on the local clock when the token was requested. */
  readonly issuedAt: number
  /** Granted scopes, when the vendor reports them. */
  readonly scope?: readonly string[]
  /** A short, non-secret identifier of the value (a hash prefix), for logs and comparisons. */
  readonly id: string
}

/** The fields needed to build an {@link AccessToken}. */
export interface AccessTokenInit {
  value: string
  type?: string
  expiresAt: number | null
  issuedAt: number
  scope?: readonly string[]
}

/** A short, non-secret fingerprint of a token value: the first 12 hex digits of its SHA-256. */
export function tokenId(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 12)
}

class Token implements AccessToken {
  readonly #value: string
  readonly type: string
  readonly expiresAt: number | null
  readonly issuedAt: number
  readonly scope?: readonly string[]
  #id: string | undefined

  constructor(init: AccessTokenInit) {
    this.#value = init.value
    this.type = init.type ?? 'Bearer'
    this.expiresAt = init.expiresAt
    this.issuedAt = init.issuedAt
    if (init.scope !== undefined) this.scope = Object.freeze([...init.scope])
  }

  get value(): string {
    return this.#value
  }

  get id(): string {
    this.#id ??= tokenId(this.#value)
    return this.#id
  }

  toString(): string {
    return `[AccessToken ${this.type} ${this.id}]`
  }

  toJSON(): Omit<AccessToken, 'value'> {
    return {
      type: this.type,
      expiresAt: this.expiresAt,
      issuedAt: this.issuedAt,
      ...(this.scope ? { scope: this.scope } : {}),
      id: this.id,
    }
  }

  [inspect.custom](): string {
    const expires = this.expiresAt === null ? 'never' : new Date(this.expiresAt).toISOString()
    return `AccessToken { type: '${this.type}', id: '${this.id}', expiresAt: ${expires} }`
  }
}

/** Builds an immutable {@link AccessToken} that never reveals its value when printed. */
export function createAccessToken(init: AccessTokenInit): AccessToken {
  return Object.freeze(new Token(init))
}
