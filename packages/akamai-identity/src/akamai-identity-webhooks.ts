import {
  ApiRequestError,
  ConfigurationError,
  excerpt,
  presentedCredentials,
  redactSecrets,
  type TokenClient,
} from '@tokenkeeper/auth-core'
import {
  type AkamaiIdentityTokenSourceSettings,
  createSettingsResolver,
  VENDOR,
} from './akamai-identity-settings.ts'

/** Identity Cloud events a subscription can watch; other strings pass through for new events. */
export type AkamaiWebhookEvent = 'entityCreated' | 'entityUpdated' | 'entityDeleted' | (string & {})

/** Body of a new Webhooks v3 subscription. */
export interface AkamaiWebhookSubscriptionInput {
  /** Unique per customer, 2 to 200 characters. */
  title: string
  /** Your listener endpoint (HTTPS URL). */
  endpoint: string
  events: AkamaiWebhookEvent[]
  /** Default `true`. A disabled subscription records events but does not deliver them. */
  enabled?: boolean
  /** Further fields the API accepts (e.g. event filters), sent as given. */
  [field: string]: unknown
}

/** A Webhooks v3 subscription as the API returns it. */
export interface AkamaiWebhookSubscription extends AkamaiWebhookSubscriptionInput {
  id: string
  enabled: boolean
  customerId?: string
  createdAt?: string
  updatedAt?: string
}

/** Fields to change; the others stay as they are (JSON merge patch, RFC 7396). */
export type AkamaiWebhookSubscriptionPatch = Partial<AkamaiWebhookSubscriptionInput>

/** Options of every {@link AkamaiWebhooks} call. */
export interface AkamaiWebhooksCallOptions {
  signal?: AbortSignal
}

/**
 * Typed calls to the Webhooks v3 subscription API (`/{customerId}/webhooks/subscriptions`),
 * made with the client's `fetch()`, so the token is attached and renewed on 401/403.
 */
export interface AkamaiWebhooks {
  /** All subscriptions (every page). */
  list(options?: AkamaiWebhooksCallOptions): Promise<AkamaiWebhookSubscription[]>
  create(
    subscription: AkamaiWebhookSubscriptionInput,
    options?: AkamaiWebhooksCallOptions,
  ): Promise<AkamaiWebhookSubscription>
  get(
    subscriptionId: string,
    options?: AkamaiWebhooksCallOptions,
  ): Promise<AkamaiWebhookSubscription>
  /** Changes the given fields only (PATCH, `application/merge-patch+json`). */
  update(
    subscriptionId: string,
    patch: AkamaiWebhookSubscriptionPatch,
    options?: AkamaiWebhooksCallOptions,
  ): Promise<AkamaiWebhookSubscription>
  delete(subscriptionId: string, options?: AkamaiWebhooksCallOptions): Promise<void>
}

/**
 * A Webhooks v3 or configuration API call failed (after the one renewal-and-retry on 401/403):
 * core's `ApiRequestError` (code `API_REQUEST_FAILED`, `status`, `retryable` for 429/5xx) with the
 * API's short error text. The message names the method, path and status, never a token: the
 * token that was sent is redacted from the quoted text.
 */
export class AkamaiIdentityApiError extends ApiRequestError {
  override name = 'AkamaiIdentityApiError'
  /**
   * The API's `errors` / `message` text, if it sent one (e.g. `Forbidden`), with the token that
   * was sent replaced by `[redacted]`.
   */
  readonly apiMessage?: string

  constructor(message: string, options: { status: number; apiMessage?: string }) {
    super(message, { status: options.status })
    if (options.apiMessage !== undefined) this.apiMessage = options.apiMessage
  }
}

type Fetch = TokenClient['fetch']
type FetchResponse = Awaited<ReturnType<Fetch>>

/**
 * What {@link createAkamaiWebhooks} needs of a token client: `fetch`, and `getAuthHeaders` to
 * learn the token it sent, so that an error answer echoing the request can be quoted without it
 * (without `getAuthHeaders`, error answers are not quoted at all).
 */
export type AkamaiWebhooksClient = Pick<TokenClient, 'fetch'> &
  Partial<Pick<TokenClient, 'getAuthHeaders'>>

function apiMessageOf(text: string, secrets: readonly string[]): string | undefined {
  // Objects in `errors` are quoted as JSON, which escapes some characters: their JSON spelling
  // is redacted too.
  const spellings = secrets.flatMap((secret) => [secret, JSON.stringify(secret).slice(1, -1)])
  // Redacted before shortening, so that a cut cannot leave a piece of the token behind.
  const quote = (value: unknown) =>
    typeof value === 'string' ? excerpt(redactSecrets(value, spellings)) : undefined
  try {
    const body: unknown = JSON.parse(text)
    if (typeof body !== 'object' || body === null) return undefined
    const fields = body as Record<string, unknown>
    const errors = Array.isArray(fields.errors)
      ? fields.errors
          .map((item) => (typeof item === 'string' ? item : JSON.stringify(item)))
          .join('; ')
      : fields.errors
    return quote(errors) ?? quote(fields.message) ?? quote(fields.error_description)
  } catch {
    return undefined
  }
}

/**
 * Creates the Webhooks v3 helper for a client. `settings` locates the API the same way as the
 * client's (pass the same object, or just `region`/`baseUrl`/`oidcUrl` and `customerId`; the
 * `AKAMAI_IDENTITY_*` variables fill the gaps). The token must carry scope `*:webhooks/**`
 * (the default).
 *
 * @example
 * const settings = { oidcUrl, clientId, clientSecret }
 * const akamai = createAkamaiIdentity(settings)
 * const webhooks = createAkamaiWebhooks(akamai, settings)
 * await webhooks.create({ title: 'CRM sync', endpoint: 'https://hooks.example.com/akamai', events: ['entityCreated'] })
 */
export function createAkamaiWebhooks(
  client: AkamaiWebhooksClient,
  settings: AkamaiIdentityTokenSourceSettings = {},
): AkamaiWebhooks {
  const resolver = createSettingsResolver(settings)
  const collection = () => `${resolver.location().customerUrl}/webhooks/subscriptions`
  const item = (subscriptionId: string) => {
    if (typeof subscriptionId !== 'string' || subscriptionId.length === 0) {
      throw new ConfigurationError(`${VENDOR}: a subscription id must be a non-empty string`, {
        setting: 'subscriptionId',
      })
    }
    return `${collection()}/${encodeURIComponent(subscriptionId)}`
  }

  async function call(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    options: AkamaiWebhooksCallOptions | undefined,
    body?: { contentType: string; value: unknown },
  ): Promise<{ status: number; body: unknown }> {
    const response: FetchResponse = await client.fetch(url, {
      method,
      headers: {
        accept: 'application/json',
        ...(body ? { 'content-type': body.contentType } : {}),
      },
      ...(body ? { body: JSON.stringify(body.value) } : {}),
      ...(options?.signal ? { signal: options.signal } : {}),
    })
    const text = await response.text()
    const path = new URL(url).pathname
    if (!response.ok) {
      const secrets = await presentedCredentials(
        client,
        options?.signal ? { signal: options.signal } : {},
      )
      const apiMessage = secrets === undefined ? undefined : apiMessageOf(text, secrets)
      throw new AkamaiIdentityApiError(
        `${VENDOR}: ${method} ${path} answered HTTP ${response.status}${apiMessage ? ` (${apiMessage})` : ''}`,
        { status: response.status, ...(apiMessage ? { apiMessage } : {}) },
      )
    }
    if (method === 'DELETE' || text.trim() === '')
      return { status: response.status, body: undefined }
    try {
      return { status: response.status, body: JSON.parse(text) as unknown }
    } catch {
      throw new AkamaiIdentityApiError(
        `${VENDOR}: ${method} ${path} answered HTTP ${response.status} with a body that is not JSON`,
        { status: response.status },
      )
    }
  }

  const subscription = (
    value: unknown,
    status: number,
    method: string,
    url: string,
  ): AkamaiWebhookSubscription => {
    if (
      typeof value !== 'object' ||
      value === null ||
      typeof (value as { id?: unknown }).id !== 'string'
    ) {
      throw new AkamaiIdentityApiError(
        `${VENDOR}: ${method} ${new URL(url).pathname} did not return a subscription with an id`,
        { status },
      )
    }
    return value as AkamaiWebhookSubscription
  }

  return {
    async list(options) {
      const url = collection()
      const { status, body } = await call('GET', url, options)
      // HAL: { _embedded: { subscriptions: [...] }, _links }. A bare list is accepted too.
      const list = Array.isArray(body)
        ? body
        : (body as { _embedded?: { subscriptions?: unknown } } | undefined)?._embedded
            ?.subscriptions
      if (!Array.isArray(list)) {
        throw new AkamaiIdentityApiError(
          `${VENDOR}: GET ${new URL(url).pathname} did not return a list of subscriptions`,
          { status },
        )
      }
      return list.map((entry) => subscription(entry, status, 'GET', url))
    },
    async create(input, options) {
      const url = collection()
      const { status, body } = await call('POST', url, options, {
        contentType: 'application/json',
        value: input,
      })
      return subscription(body, status, 'POST', url)
    },
    async get(subscriptionId, options) {
      const url = item(subscriptionId)
      const { status, body } = await call('GET', url, options)
      return subscription(body, status, 'GET', url)
    },
    async update(subscriptionId, patch, options) {
      const url = item(subscriptionId)
      const { status, body } = await call('PATCH', url, options, {
        contentType: 'application/merge-patch+json',
        value: patch,
      })
      return subscription(body, status, 'PATCH', url)
    },
    async delete(subscriptionId, options) {
      await call('DELETE', item(subscriptionId), options)
    },
  }
}
