import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { type ConfigurationError, Secret } from '@tokenkeeper/auth-core'
import { UsageError } from './errors.ts'
import type { Redactor } from './io.ts'
import { findVendor, type SettingSpec, VENDOR_SPECS, type VendorSpec } from './vendors.ts'

/** Environment variable naming a `--config` file used when the flag is not given. */
export const CONFIG_ENV = 'TOKENKEEPER_CONFIG'

/** What {@link buildSettings} needs. */
export interface SettingsInput {
  readonly spec: VendorSpec
  /** Parsed flag values by flag name (only the ones given). */
  readonly flags: Readonly<Record<string, unknown>>
  /** `--config` path, if given. */
  readonly configPath: string | undefined
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  /** Learns every secret value seen, to keep it out of any message. */
  readonly redactor: Redactor
}

/**
 * The vendor package's settings object from, in order of precedence: flags, the `--config`
 * file (or `TOKENKEEPER_CONFIG`), then (left to the vendor package) its environment variables.
 * Secret values are wrapped in {@link Secret} and taught to the redactor.
 */
export function buildSettings(input: SettingsInput): Record<string, unknown> {
  const { spec, redactor } = input
  for (const setting of spec.settings) {
    if (setting.secret && setting.env) redactor.add(input.env[setting.env])
  }
  const configPath =
    input.configPath ?? (input.env[CONFIG_ENV]?.trim() ? input.env[CONFIG_ENV] : undefined)
  const settings: Record<string, unknown> =
    configPath === undefined ? {} : readConfig(resolve(input.cwd, configPath), spec, redactor)
  for (const setting of spec.settings) {
    if (setting.configOnly) continue
    const raw = input.flags[setting.flag]
    if (typeof raw !== 'string') continue
    let value: unknown = raw
    if (setting.fromFile) value = readSettingFile(resolve(input.cwd, raw), setting)
    else if (setting.path) value = resolve(input.cwd, raw)
    if (setting.secret) {
      redactor.add(typeof value === 'string' ? value : undefined)
      value = new Secret(value as string)
    }
    assign(settings, setting.name, value)
  }
  return settings
}

function readSettingFile(path: string, setting: SettingSpec): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new UsageError(
      `Cannot read --${setting.flag} ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      { setting: setting.name },
    )
  }
}

/** Sets `name` (dotted for nested settings) on `target`. */
function assign(target: Record<string, unknown>, name: string, value: unknown): void {
  const [outer, inner] = name.split('.') as [string, string | undefined]
  if (inner === undefined) {
    target[outer] = value
    return
  }
  const nested = target[outer]
  target[outer] = {
    ...(typeof nested === 'object' && nested !== null ? nested : {}),
    [inner]: value,
  }
}

/**
 * Reads the vendor's settings from a JSON config file: either one object of settings, or an
 * object with a section per vendor (`{ "clear": { ... }, "apiax": { ... } }`). Setting names
 * are the vendor package's (`clientSecret`, `baseUrl`, ...). Unknown names are refused, so a
 * typo does not silently fall back to an environment variable. The file's text is never
 * quoted in errors (it holds secrets).
 */
function readConfig(path: string, spec: VendorSpec, redactor: Redactor): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new UsageError(
      `Cannot read the config file ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      { setting: 'config' },
    )
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''))
  } catch (error) {
    // The parser's message may quote the text around the mistake: keep only the position.
    const position = /position (\d+)/.exec(String((error as Error).message))?.[1]
    throw new UsageError(
      `The config file ${path} is not valid JSON${position ? ` (near character ${position})` : ''}`,
      { setting: 'config' },
    )
  }
  if (!isObject(parsed)) {
    throw new UsageError(`The config file ${path} must hold a JSON object`, { setting: 'config' })
  }
  let section: Record<string, unknown> = parsed
  const keys = Object.keys(parsed)
  if (keys.some((key) => findVendor(key) !== undefined)) {
    const unknown = keys.find((key) => findVendor(key) === undefined)
    if (unknown !== undefined) {
      throw new UsageError(
        `The config file ${path} has sections per vendor, but ${JSON.stringify(unknown)} is not a vendor (use ${VENDOR_SPECS.map((vendor) => vendor.id).join(', ')})`,
        { setting: 'config' },
      )
    }
    const own = keys.filter((key) => findVendor(key)?.id === spec.id)
    if (own.length > 1) {
      throw new UsageError(`The config file ${path} has ${own.join(' and ')} for the same vendor`, {
        setting: 'config',
      })
    }
    const value = own[0] === undefined ? {} : parsed[own[0]]
    if (!isObject(value)) {
      throw new UsageError(
        `The config file ${path}: the ${JSON.stringify(own[0])} section must be an object`,
        { setting: 'config' },
      )
    }
    section = value
  }
  return checkConfigSettings(section, spec, path, redactor)
}

function checkConfigSettings(
  section: Record<string, unknown>,
  spec: VendorSpec,
  path: string,
  redactor: Redactor,
): Record<string, unknown> {
  const settings: Record<string, unknown> = {}
  const known = new Map(spec.settings.map((setting) => [setting.name, setting]))
  const nestedNames = new Set(
    spec.settings.filter((setting) => setting.name.includes('.')).map((s) => s.name.split('.')[0]),
  )
  const refuse = (name: string): never => {
    const names = [
      ...new Set(spec.settings.map((setting) => setting.name.split('.')[0] ?? setting.name)),
    ]
    throw new UsageError(
      `The config file ${path}: ${JSON.stringify(name)} is not a ${spec.title} setting (known: ${names.join(', ')})`,
      { setting: 'config' },
    )
  }
  for (const [name, value] of Object.entries(section)) {
    if (nestedNames.has(name)) {
      if (!isObject(value)) refuse(name)
      for (const [inner, innerValue] of Object.entries(value as Record<string, unknown>)) {
        const setting = known.get(`${name}.${inner}`)
        if (setting === undefined) refuse(`${name}.${inner}`)
        assign(settings, `${name}.${inner}`, prepare(setting as SettingSpec, innerValue))
      }
      continue
    }
    const setting = known.get(name)
    if (setting === undefined) refuse(name)
    let prepared = prepare(setting as SettingSpec, value)
    if ((setting as SettingSpec).path && typeof prepared === 'string') {
      prepared = resolve(dirname(path), prepared)
    }
    settings[name] = prepared
  }
  return settings

  function prepare(setting: SettingSpec, value: unknown): unknown {
    if (setting.secret && typeof value === 'string') {
      redactor.add(value)
      return new Secret(value)
    }
    return value
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Extra settings the command itself adds (not the vendor's), by setting name. */
const COMMAND_SETTINGS: Record<string, { flag: string; env?: string }> = {
  origins: { flag: 'origin' },
  config: { flag: 'config', env: CONFIG_ENV },
  cacheKey: { flag: 'cache', env: 'TOKENKEEPER_CACHE_KEY' },
}

/**
 * One line for a settings error: the vendor's message with its code-style hints
 * (`pass { clientSecret }`) turned into flags (`pass --client-secret`), and the flag and
 * environment variable of the setting at fault added when the message does not name them.
 */
export function formatConfigurationError(
  error: ConfigurationError,
  spec: VendorSpec | undefined,
): string {
  let message = error.message.replace(/\s+/g, ' ').trim()
  const flagOf = (name: string): string | undefined => {
    const setting = spec?.settings.find((candidate) => candidate.name === name)
    if (setting) return setting.configOnly ? `"${name}" in --config` : `--${setting.flag}`
    const extra = COMMAND_SETTINGS[name]
    return extra ? `--${extra.flag}` : undefined
  }
  message = message.replace(
    /\{ ([A-Za-z]+)(?:: \{ ([A-Za-z]+) \})? \}/g,
    (match, outer: string, inner: string | undefined) =>
      flagOf(inner === undefined ? outer : `${outer}.${inner}`) ?? match,
  )
  // Bare names after "pass" or "a" ("pass baseUrl", "a keyFile that holds it") are hints too.
  for (const setting of spec?.settings ?? []) {
    if (setting.configOnly || setting.name.includes('.')) continue
    message = message.replace(
      new RegExp(`\\b(pass|a) ${setting.name}\\b`, 'g'),
      (_match, word: string) => `${word} --${setting.flag}`,
    )
  }
  if (error.setting !== undefined) {
    const setting = spec?.settings.find((candidate) => candidate.name === error.setting)
    const flag = flagOf(error.setting)
    const env = setting?.env ?? COMMAND_SETTINGS[error.setting]?.env
    const missing: string[] = []
    if (flag !== undefined && !message.includes(flag)) missing.push(`flag ${flag}`)
    if (env !== undefined && !message.includes(env)) missing.push(`variable ${env}`)
    if (missing.length > 0) message += ` (${missing.join(', ')})`
  }
  return message
}
