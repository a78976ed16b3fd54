import type { Logger } from '@tokenkeeper/auth-core'
import type { Redis } from 'ioredis'

/** Callbacks of a {@link Subscription}. */
export interface SubscriptionHandlers {
  /** A message on the channel. */
  onMessage(message: string): void
  /**
   * The subscription came up (`true`, confirmed by Redis) or went down (`false`). While it is
   * down, messages may be lost, so the local layer must not trust what it holds.
   */
  onStateChange(up: boolean, reason: string): void
}

/**
 * A dedicated connection subscribed to the store's channel. It re-subscribes itself on every
 * reconnection (rather than through ioredis's `autoResubscribe`) so that it knows exactly when
 * the subscription is confirmed and when messages may have been missed.
 */
export class Subscription {
  readonly #client: Redis
  readonly #channel: string
  readonly #handlers: SubscriptionHandlers
  readonly #logger: Logger | undefined
  #up = false
  #closed = false
  /** Counts connections, so a late SUBSCRIBE answer from a dead connection is ignored. */
  #connection = 0

  constructor(client: Redis, channel: string, handlers: SubscriptionHandlers, logger?: Logger) {
    this.#client = client
    this.#channel = channel
    this.#handlers = handlers
    this.#logger = logger
    client.on('ready', this.#onReady)
    client.on('close', this.#onClose)
    client.on('end', this.#onClose)
    client.on('error', this.#onError)
    client.on('message', this.#onMessage)
  }

  /** True while Redis has confirmed the subscription on the current connection. */
  get up(): boolean {
    return this.#up
  }

  /** Connects and subscribes in the background. */
  start(): void {
    if (this.#client.status === 'wait') this.#client.connect().catch(() => {})
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#setDown('closed')
    this.#client.off('message', this.#onMessage)
    this.#client.off('ready', this.#onReady)
    this.#client.disconnect()
    this.#client.off('close', this.#onClose)
    this.#client.off('end', this.#onClose)
    // The 'error' listener stays: ioredis may still report a late error on this connection.
  }

  readonly #onReady = () => {
    const connection = ++this.#connection
    this.#client.subscribe(this.#channel).then(
      () => {
        if (this.#closed || connection !== this.#connection || this.#up) return
        this.#up = true
        this.#handlers.onStateChange(true, 'subscribed')
      },
      () => {
        // The connection dropped while subscribing; 'close' follows and the next 'ready' retries.
      },
    )
  }

  readonly #onClose = () => {
    this.#connection++
    this.#setDown('connection lost')
  }

  readonly #onError = () => {
    // Reported by the command connection; a listener is needed so ioredis does not print it.
  }

  readonly #onMessage = (channel: string, message: string) => {
    if (channel !== this.#channel || this.#closed) return
    try {
      this.#handlers.onMessage(message)
    } catch (error) {
      try {
        this.#logger?.warn?.('Could not handle a token store message', {
          store: 'redis',
          error: error instanceof Error ? error.name : 'error',
        })
      } catch {
        // A failing logger must not break token handling.
      }
    }
  }

  #setDown(reason: string): void {
    if (!this.#up) return
    this.#up = false
    this.#handlers.onStateChange(false, reason)
  }
}
