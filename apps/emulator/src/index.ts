export { ADMIN_PREFIX } from './admin.ts'
export { type CommandIo, runEmulatorCommand } from './command.ts'
export { DEMO, startEmulator } from './emulator.ts'
export { EmulatorError, type EmulatorErrorCode } from './errors.ts'
export { HUGE_BODY_BYTES } from './faults.ts'
export {
  type AkamaiClientRegistration,
  type AkamaiControl,
  type AkamaiCounters,
  type ApiaxClientRegistration,
  type ApiaxConfiguration,
  type ApiaxControl,
  type ApiaxCounters,
  type ApiaxUserRegistration,
  type ClearControl,
  type ClearCounters,
  type ClearIdClientRegistration,
  type ClearIdControl,
  type ClearIdCounters,
  type ClearIdKeyFile,
  type ClearIdKeyFileResult,
  type ClearSecretRegistration,
  type Counters,
  type DemoCredentials,
  type Emulator,
  type EmulatorClock,
  type EmulatorOptions,
  type EmulatorUrls,
  type Fault,
  type FaultControl,
  type FaultTarget,
  type MalformedBody,
  type PublicKeyInput,
  type RejectionReason,
  VENDORS,
  type Vendor,
  type VendorCounters,
} from './types.ts'
export { AKAMAI_WEBHOOKS_SCOPE } from './vendors/akamai.ts'
export {
  APIAX_CLIENT_ID,
  APIAX_DEFAULT_CONFIGURATION,
  APIAX_TOKEN_PATH,
} from './vendors/apiax.ts'
export { CLEAR_DAILY_QUOTA, CLEAR_DEFAULT_VALIDITY } from './vendors/clear.ts'
export { CLEARID_ASSERTION_AUDIENCE, CLEARID_SCOPES } from './vendors/clearid.ts'
