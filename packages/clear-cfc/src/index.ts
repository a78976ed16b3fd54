export {
  CLEAR_ENVIRONMENTS,
  type ClearCfcEnvironment,
  isClearCfcEnvironment,
} from './clear-cfc-environments.ts'
export {
  type ClearErrorContext,
  type ClearErrorDetails,
  clearTokenEndpointError,
  DAILY_TOKEN_QUOTA,
  nextQuotaReset,
  readClearError,
} from './clear-cfc-error.ts'
export {
  type ClearCfcClient,
  type ClearCfcSettings,
  type ClearCfcSourceSettings,
  createClearCfc,
} from './clear-cfc-provider.ts'
export {
  CLEAR_ENVIRONMENT_VARIABLES,
  CLIENT_SECRET_HEADER,
  DEFAULT_TOKEN_HEADER,
  TOKEN_PATH,
} from './clear-cfc-settings.ts'
export {
  type ClearCfcTokenSource,
  clearCfcTokenSource,
  MINIMUM_ISSUE_INTERVAL,
  normaliseValidTill,
  type ParseClearTokenOptions,
  parseClearTokenResponse,
  REJECTED_TOKEN_MIN_AGE,
} from './clear-cfc-token-source.ts'
