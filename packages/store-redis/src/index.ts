export type { EncryptionKeyInput } from './encryption.ts'
export { type RedisStoreEvent, STORE_REDIS_CHANNEL } from './events.ts'
export {
  createRedisTokenStore,
  REDIS_ENCRYPTION_KEY_ENV,
  REDIS_URL_ENV,
  type RedisTokenStore,
  type RedisTokenStoreOptions,
} from './redis-token-store.ts'
