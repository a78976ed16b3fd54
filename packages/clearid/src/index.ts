/** Re-exported so a key or secret can be wrapped without importing the core. */
export { Secret } from '@tokenkeeper/auth-core'
export {
  type ClearIdApiClient,
  ClearIdApiError,
  type ClearIdApiLocation,
  type ClearIdApiSettings,
  type ClearIdIdentity,
  type ClearIdIdentityList,
  clearIdApiUrl,
  identitiesUrl,
  type ListClearIdIdentitiesOptions,
  listIdentities,
} from './clearid-api.ts'
export {
  CLEARID_ASSERTION_ALGORITHM,
  CLEARID_ASSERTION_AUDIENCE,
  type ClearIdPrivateKeyInput,
} from './clearid-assertion.ts'
export {
  CLEARID_DEFAULT_ENVIRONMENT,
  CLEARID_ENVIRONMENTS,
  CLEARID_SERVICES,
  type ClearIdEnvironment,
  clearIdServiceUrl,
  clearIdStsUrl,
} from './clearid-environments.ts'
export {
  type ClearIdKeyFile,
  loadClearIdKeyFile,
  parseClearIdKeyFile,
} from './clearid-key-file.ts'
export { type ClearIdSettings, createClearId } from './clearid-provider.ts'
export {
  CLEARID_ENVIRONMENT_VARIABLES,
  type ClearIdGrant,
  type ClearIdLocation,
  type ClearIdLocationSettings,
  type ClearIdTokenSourceSettings,
  resolveClearIdLocation,
} from './clearid-settings.ts'
export {
  CLEARID_REFRESH_WINDOW_RATIO,
  clearIdTokenSource,
} from './clearid-token-source.ts'
