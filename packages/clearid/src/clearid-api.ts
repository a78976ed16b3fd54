import {
  ApiRequestError,
  ConfigurationError,
  excerpt,
  presentedCredentials,
  redactSecrets,
  type TokenClient,
} from '@tokenkeeper/auth-core'
import {
  type ClearIdEnvironment,
  clearIdServiceUrl,
  parseClearIdEnvironment,
  VENDOR,
} from './clearid-environments.ts'
import {
  type ClearIdLocationSettings,
  type ClearIdTokenSourceSettings,
  checkAccountId,
  resolveClearIdLocation,
} from './clearid-settings.ts'

/** Where the API is: an environment name, or settings (the same ones the client was made with). */
export type ClearIdApiLocation = ClearIdEnvironment | ClearIdApiSettings

/** The settings that say where the Identity API is and which account to use. */
export interface ClearIdApiSettings extends ClearIdLocationSettings {
  clientId?: string
  accountId?: string
  keyFile?: string | object
  /** Where the `CLEARID_*` fallbacks are read; default `process.env`, `{}` for none. */
  env?: Readonly<Record<string, string | undefined>>
}

/**
 * The Identity service base URL, e.g. `https://identityservice-demo.clearid.io`. Given
 * settings, it follows the token source's rules (an `apiUrl`, else the environment, read from
 * code, the key file or the `CLEARID_*` variables).
 *
 * @example
 * clearIdApiUrl('eu') // 'https://identityservice.eu.clearid.io'
 */
export function clearIdApiUrl(location: ClearIdApiLocation = {}): string {
  if (typeof location === 'string') {
    return clearIdServiceUrl('identityservice', parseClearIdEnvironment(location, 'environment'))
  }
  return resolveApi(location).apiUrl
}

/**
 * `GET` URL of the identities of an account:
 * `{apiUrl}/api/v2/accounts/{accountId}/identities`.
 *
 * @example
 * await clearId.fetch(identitiesUrl('my-account', 'demo'))
 */
export function identitiesUrl(accountId: string, location: ClearIdApiLocation = {}): string {
  return `${clearIdApiUrl(location)}/api/v2/accounts/${checkAccountId(accountId, 'accountId')}/identities`
}

/** One identity as the Identity API returns it; only `id` is relied upon. */
export interface ClearIdIdentity {
  id?: string
  [field: string]: unknown
}

/** The answer of {@link listIdentities}. */
export interface ClearIdIdentityList {
  /** The identities found in the answer (a JSON array, or the array inside an envelope). */
  identities: ClearIdIdentity[]
  /** The whole parsed JSON body, for paging fields and anything else the API returns. */
  body: unknown
}

/** Options of {@link listIdentities}. */
export interface ListClearIdIdentitiesOptions extends ClearIdApiSettings {
  /** Query parameters passed as they are (paging, filters; see the service's Swagger). */
  query?: Record<string, string | number | boolean | undefined>
  signal?: AbortSignal
}

/**
 * An Identity API call answered with an error status (after the one renewal-and-retry on 401),
 * or a 2xx without a list: core's `ApiRequestError` (code `API_REQUEST_FAILED`, `status`,
 * `retryable` for 429 and 5xx) with the service's trace id. The message never quotes a body; it
 * quotes the answer's `title` and `traceId` only with the token that was sent redacted from them.
 */
export class ClearIdApiError extends ApiRequestError {
  override name = 'ClearIdApiError'
  /** The service's trace id (ProblemDetails `traceId`), for ClearID support. */
  readonly traceId?: string

  constructor(message: string, options: { status: number; traceId?: string }) {
    super(message, { status: options.status })
    if (options.traceId !== undefined) this.traceId = options.traceId
  }
}

/**
 * What {@link listIdentities} needs of a token client: `fetch`, and `getAuthHeaders` to learn
 * the token it sent, so that an error answer echoing the request can be quoted without it
 * (without `getAuthHeaders`, error answers are not quoted at all).
 */
export type ClearIdApiClient = Pick<TokenClient, 'fetch'> &
  Partial<Pick<TokenClient, 'getAuthHeaders'>>

/**
 * Lists the identities of the account (`GET /api/v2/accounts/{accountId}/identities`) through
 * `client.fetch`, which attaches the token and renews and retries once on 401. The account id
 * comes from `accountId`, else from `clientId` (the part after `:`), else from the key file or
 * `CLEARID_ACCOUNT_ID` / `CLEARID_CLIENT_ID`.
 *
 * @throws {ClearIdApiError} on an error status or a body that holds no list;
 * {@link ConfigurationError} when no account id can be found.
 *
 * @example
 * const { identities } = await listIdentities(clearId, { environment: 'demo', query: { take: 50 } })
 */
export async function listIdentities(
  client: ClearIdApiClient,
  options: ListClearIdIdentitiesOptions = {},
): Promise<ClearIdIdentityList> {
  const { query, signal, ...settings } = options
  const location = resolveApi(settings)
  if (location.accountId === undefined) {
    throw new ConfigurationError(
      `${VENDOR}: accountId is missing; pass { accountId } or a clientId of the form <guid>:<accountId>, or set CLEARID_ACCOUNT_ID`,
      { setting: 'accountId' },
    )
  }
  const url = new URL(`${location.apiUrl}/api/v2/accounts/${location.accountId}/identities`)
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined) url.searchParams.set(name, String(value))
  }
  const response = await client.fetch(url, {
    headers: { accept: 'application/json' },
    ...(signal ? { signal } : {}),
  })
  const text = await response.text()
  let body: unknown
  try {
    body = text.length === 0 ? undefined : JSON.parse(text)
  } catch {
    body = undefined
  }
  if (!response.ok) {
    throw apiError(
      response.status,
      body,
      url,
      await presentedCredentials(client, signal ? { signal } : {}),
    )
  }
  const identities = Array.isArray(body) ? body : findList(body)
  if (identities === undefined) {
    throw new ClearIdApiError(
      `${VENDOR}: the Identity API answered HTTP ${response.status} without a list of identities`,
      { status: response.status },
    )
  }
  return { identities: identities as ClearIdIdentity[], body }
}

function resolveApi(settings: ClearIdApiSettings) {
  // Credentials are not needed to locate the API; leaving them out skips parsing a private key.
  const { clientSecret, privateKey, ...location } = settings as ClearIdTokenSourceSettings
  return resolveClearIdLocation(location)
}

/** The array in a paging envelope such as `{ items: [...] }`. */
function findList(body: unknown): unknown[] | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const record = body as Record<string, unknown>
  for (const name of ['identities', 'items', 'data', 'results', 'value']) {
    if (Array.isArray(record[name])) return record[name] as unknown[]
  }
  return undefined
}

function apiError(
  status: number,
  body: unknown,
  url: URL,
  secrets: readonly string[] | undefined,
): ClearIdApiError {
  const problem =
    secrets !== undefined && typeof body === 'object' && body !== null
      ? (body as Record<string, unknown>)
      : {}
  // Redacted before shortening, so that a cut cannot leave a piece of the token behind.
  const quote = (value: unknown, max?: number) =>
    typeof value === 'string' ? excerpt(redactSecrets(value, secrets ?? []), max) : undefined
  const title = quote(problem.title) ?? quote(problem.message)
  const traceId = quote(problem.traceId, 100)
  const hint =
    status === 401
      ? 'the token was rejected even after renewal; check that the STS and the API are in the same environment'
      : status === 403
        ? 'the API integration lacks the permission for this call; check its roles in the ClearID portal'
        : status === 404
          ? 'check accountId and apiUrl (or environment)'
          : status === 429 || status >= 500
            ? 'try again later'
            : undefined
  const message = [
    `${VENDOR}: GET ${url.origin}${url.pathname} answered HTTP ${status}`,
    title ? ` (${title})` : '',
    traceId ? ` [traceId ${traceId}]` : '',
    hint ? `; ${hint}` : '',
  ].join('')
  return new ClearIdApiError(message, { status, ...(traceId ? { traceId } : {}) })
}
