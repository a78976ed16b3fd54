export { CLIENT_ASSERTION_LIFETIME, CLIENT_ASSERTION_TYPE } from './apiax-client-assertion.ts'
export {
  ApiaxApiError,
  type ApiaxApiErrorOptions,
  type ApiaxErrorContext,
  type ApiaxGrant,
  apiaxTokenError,
  isLoginRefused,
  isRefreshTokenRejected,
} from './apiax-error.ts'
export {
  APIAX_API_URL,
  APIAX_CLIENT_ID,
  APIAX_REFRESH_TOKEN_MAX_AGE,
  APIAX_TOKEN_URL,
  type ApiaxClientAssertion,
  type ApiaxSettings,
  createApiax,
} from './apiax-provider.ts'
export {
  type ApiaxAttribute,
  type ApiaxCallOptions,
  type ApiaxEvaluationRequest,
  type ApiaxInspectionRequest,
  type ApiaxProduct,
  type ApiaxRules,
  type ApiaxRulesOptions,
  apiaxRules,
} from './apiax-rules.ts'
export { APIAX_ENVIRONMENT } from './apiax-settings.ts'
export {
  APIAX_VENDOR,
  type ApiaxRefreshState,
  type ApiaxTokenSource,
  apiaxTokenSource,
} from './apiax-token-source.ts'
