export { AkamaiIdentityCloudApi } from '../credentials/AkamaiIdentityCloudApi.credentials.ts'
export { ApiaxApi } from '../credentials/ApiaxApi.credentials.ts'
export { ClearCfcApi } from '../credentials/ClearCfcApi.credentials.ts'
export { ClearIdApi } from '../credentials/ClearIdApi.credentials.ts'
