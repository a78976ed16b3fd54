export { type AkamaiIdentitySettings, createAkamaiIdentity } from './akamai-identity-provider.ts'
export {
  AKAMAI_IDENTITY_DEFAULT_SCOPE,
  AKAMAI_IDENTITY_ENVIRONMENT,
  AKAMAI_IDENTITY_REGIONS,
  AKAMAI_IDENTITY_SCOPES,
  type AkamaiIdentityLocation,
  type AkamaiIdentityTokenSourceSettings,
  akamaiIdentityBaseUrl,
  parseAkamaiIdentityOidcUrl,
} from './akamai-identity-settings.ts'
export {
  AKAMAI_IDENTITY_REJECTION_STATUSES,
  akamaiIdentityTokenSource,
} from './akamai-identity-token-source.ts'
export {
  AkamaiIdentityApiError,
  type AkamaiWebhookEvent,
  type AkamaiWebhookSubscription,
  type AkamaiWebhookSubscriptionInput,
  type AkamaiWebhookSubscriptionPatch,
  type AkamaiWebhooks,
  type AkamaiWebhooksCallOptions,
  type AkamaiWebhooksClient,
  createAkamaiWebhooks,
} from './akamai-identity-webhooks.ts'
