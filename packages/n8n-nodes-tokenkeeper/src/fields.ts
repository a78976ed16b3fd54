/* eslint-disable @n8n/community-nodes/require-node-api-error --
 * Credential settings are read in preAuthentication and authenticate, where n8n offers no node
 * to attach a NodeOperationError to; our typed ConfigurationError names the field at fault and
 * n8n shows its message. */
import { ConfigurationError, Secret } from '@tokenkeeper/auth-core'
import type { ICredentialDataDecryptedObject } from 'n8n-workflow'

/** Value of the location selectors that reveals the custom URL fields. */
export const CUSTOM = 'custom'

/** A text field, trimmed; `undefined` when empty or absent. */
export function optionalText(
  credentials: ICredentialDataDecryptedObject,
  name: string,
): string | undefined {
  const value = credentials[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new ConfigurationError(`The field "${name}" must be text`, { setting: name })
  }
  const text = String(value).trim()
  return text.length > 0 ? text : undefined
}

/**
 * A field that must be filled in. The message names the field as the user sees it, so a
 * credential test or a failed execution says what to fix.
 */
export function requiredText(
  credentials: ICredentialDataDecryptedObject,
  name: string,
  label: string,
  vendor: string,
): string {
  const text = optionalText(credentials, name)
  if (text === undefined) {
    throw new ConfigurationError(`${vendor}: "${label}" is empty; fill it in the credential`, {
      setting: name,
    })
  }
  return text
}

/**
 * A secret field, exactly as typed except for surrounding whitespace (a pasted newline).
 * Never quoted in messages.
 */
export function requiredSecret(
  credentials: ICredentialDataDecryptedObject,
  name: string,
  label: string,
  vendor: string,
): string {
  return requiredText(credentials, name, label, vendor)
}

/** An options field; falls back to `fallback` when absent. */
export function option<T extends string>(
  credentials: ICredentialDataDecryptedObject,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = credentials[name]
  if (value === undefined || value === null || value === '') return fallback
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T
  throw new ConfigurationError(
    `The field "${name}" must be one of ${allowed.join(', ')}, got ${JSON.stringify(String(value))}`,
    { setting: name },
  )
}

/**
 * Extra headers given as a JSON object (text or already parsed), e.g.
 * `{"x-workspace-id": "..."}`. Header names and values are checked by the vendor package.
 */
export function headerObject(
  credentials: ICredentialDataDecryptedObject,
  name: string,
  label: string,
  vendor: string,
): Record<string, string> | undefined {
  const raw = credentials[name]
  if (raw === undefined || raw === null || raw === '') return undefined
  let value: unknown = raw
  if (typeof raw === 'string') {
    const text = raw.trim()
    if (text === '' || text === '{}') return undefined
    try {
      value = JSON.parse(text)
    } catch {
      throw new ConfigurationError(
        `${vendor}: "${label}" must be a JSON object such as {"x-workspace-id": "..."}`,
        { setting: name },
      )
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigurationError(
      `${vendor}: "${label}" must be a JSON object of header names to text values`,
      { setting: name },
    )
  }
  const headers: Record<string, string> = {}
  for (const [header, headerValue] of Object.entries(value)) {
    if (typeof headerValue !== 'string' && typeof headerValue !== 'number') {
      throw new ConfigurationError(`${vendor}: "${label}": the value of ${header} must be text`, {
        setting: name,
      })
    }
    headers[header] = String(headerValue)
  }
  return Object.keys(headers).length > 0 ? headers : undefined
}

/** `JSON.stringify` of a map, for expressions that pick a URL by the selected option. */
export function expressionMap(map: Readonly<Record<string, string>>): string {
  return JSON.stringify(map)
}

/** A copy of `object` without `key` (settings of ours that the vendor package does not take). */
export function omit<T extends object, K extends keyof T>(object: T, key: K): Omit<T, K> {
  const copy = { ...object }
  delete copy[key]
  return copy
}

/** A secret setting as text for hashing (a `Secret` revealed; other values as JSON). */
export function secretText(value: unknown): string {
  if (value === undefined || value === null) return ''
  if (typeof value === 'string') return value
  if (value instanceof Secret) return value.reveal()
  return JSON.stringify(value)
}
