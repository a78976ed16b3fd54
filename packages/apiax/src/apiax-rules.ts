import { presentedCredentials, type TokenClient, urlSetting } from '@tokenkeeper/auth-core'
import { ApiaxApiError, apiaxApiError } from './apiax-error.ts'
import { apiUrlOf } from './apiax-provider.ts'
import { resolveApiUrl, VENDOR } from './apiax-settings.ts'

/** A product whose rules are evaluated or inspected. */
export interface ApiaxProduct {
  productId: string
  familyId: string
}

/** An input attribute of a rule evaluation. */
export interface ApiaxAttribute {
  name: string
  value: unknown
}

/** Body of `POST /api/v3/rules/eval`. Fields Apiax adds later can be passed through. */
export interface ApiaxEvaluationRequest {
  products: ApiaxProduct[]
  /** Regulatory regimes, e.g. country codes. */
  regimes?: string[]
  /** Which rule versions to use; Apiax's examples use `latest`. */
  versionFilter?: 'latest' | (string & {})
  attributes?: ApiaxAttribute[]
  [field: string]: unknown
}

/** Body of `POST /api/v3/rules/inspect`: which rules exist and what attributes they need. */
export interface ApiaxInspectionRequest {
  products: ApiaxProduct[]
  regimes?: string[]
  versionFilter?: 'latest' | (string & {})
  [field: string]: unknown
}

/** Options of one rule engine call. */
export interface ApiaxCallOptions {
  signal?: AbortSignal
}

/** Typed calls of the Apiax rule engine, authenticated by a token client. */
export interface ApiaxRules {
  /** `POST /api/v3/rules/eval`; resolves to the parsed JSON answer. */
  evaluate<Result = unknown>(
    request: ApiaxEvaluationRequest,
    options?: ApiaxCallOptions,
  ): Promise<Result>
  /** `POST /api/v3/rules/inspect`; resolves to the parsed JSON answer. */
  inspect<Result = unknown>(
    request: ApiaxInspectionRequest,
    options?: ApiaxCallOptions,
  ): Promise<Result>
}

/** Options of {@link apiaxRules}. */
export interface ApiaxRulesOptions {
  /** Rule engine base URL. Default: the client's `apiUrl`, else `APIAX_API_URL`, else Apiax's. */
  apiUrl?: string
  /** Where `APIAX_API_URL` is read when neither is given; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>
}

/**
 * A thin helper for the rule engine: JSON in, JSON out, through `client.fetch` (bearer token and
 * `Apikey` attached, one retry with a renewed token after a 401). Error answers become an
 * {@link ApiaxApiError}, with the token and API key redacted wherever the answer echoes them.
 *
 * @example
 * const rules = apiaxRules(createApiax())
 * const result = await rules.evaluate({
 *   products: [{ productId: 'P-1', familyId: 'F-1' }],
 *   regimes: ['CH'],
 *   versionFilter: 'latest',
 *   attributes: [{ name: 'clientDomicile', value: 'DE' }],
 * })
 */
export function apiaxRules(client: TokenClient, options: ApiaxRulesOptions = {}): ApiaxRules {
  const explicit = options.apiUrl ? urlSetting(options.apiUrl, 'apiUrl', VENDOR) : undefined
  const baseUrl = () =>
    explicit ??
    apiUrlOf(client)?.() ??
    resolveApiUrl({ ...(options.env ? { env: options.env } : {}) })

  async function post<Result>(
    path: string,
    request: object,
    callOptions: ApiaxCallOptions | undefined,
  ): Promise<Result> {
    const response = await client.fetch(`${baseUrl()}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(request),
      ...(callOptions?.signal ? { signal: callOptions.signal } : {}),
    })
    const body = await response.text()
    if (!response.ok) {
      throw apiaxApiError(
        response.status,
        path,
        body,
        await presentedCredentials(
          client,
          callOptions?.signal ? { signal: callOptions.signal } : {},
        ),
      )
    }
    try {
      return JSON.parse(body) as Result
    } catch {
      throw new ApiaxApiError(
        `${VENDOR}: POST ${path} answered HTTP ${response.status} with a body that is not JSON`,
        { status: response.status, path },
      )
    }
  }

  return {
    evaluate: (request, callOptions) => post('/api/v3/rules/eval', request, callOptions),
    inspect: (request, callOptions) => post('/api/v3/rules/inspect', request, callOptions),
  }
}
