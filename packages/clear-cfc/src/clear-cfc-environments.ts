/**
 * Base URLs of the Clear environments documented for the token API. A client secret belongs to
 * exactly one of them. Other environments exist: pass their `baseUrl` instead.
 */
export const CLEAR_ENVIRONMENTS = Object.freeze({
  /** India sandbox (app-sandbox.clear.in). */
  'india-sandbox': 'https://api-sandbox.clear.in',
  /** India production (app.clear.in). */
  'india-production': 'https://api.clear.in',
  /** European Union (Belgium e-invoicing). */
  eu: 'https://api.eu.cleartax.com',
  /** Malaysia sandbox (e-invoicing). */
  'malaysia-sandbox': 'https://api-sandbox.my.cleartax.com',
} as const)

/** The name of a documented Clear environment, see {@link CLEAR_ENVIRONMENTS}. */
export type ClearCfcEnvironment = keyof typeof CLEAR_ENVIRONMENTS

/** True if `name` is one of {@link CLEAR_ENVIRONMENTS}. */
export function isClearCfcEnvironment(name: string): name is ClearCfcEnvironment {
  return Object.hasOwn(CLEAR_ENVIRONMENTS, name)
}
