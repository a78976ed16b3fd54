import { CACHE_KEY_ENV } from '../cache/cache-key.ts'
import { CACHE_FILE_ENV } from '../cache/cache-path.ts'
import type { ResolvedIo } from '../io.ts'
import { CONFIG_ENV } from '../settings.ts'
import { VENDOR_SPECS, type VendorSpec } from '../vendors.ts'

/** One vendor as `tokenkeeper vendors --json` describes it. */
export interface VendorDescription {
  id: string
  title: string
  package: string
  aliases: readonly string[]
  requirements: readonly string[]
  cacheByDefault: boolean
  settings: {
    name: string
    flag: string | null
    env: string | null
    secret: boolean
    description: string
  }[]
}

/** The settings listing of one vendor, as lines of text. */
export function describeVendor(spec: VendorSpec): string[] {
  const rows = spec.settings.map((setting) => [
    setting.configOnly ? `(config) ${setting.name}` : `--${setting.flag} ${setting.placeholder}`,
    setting.env ?? '',
    setting.description,
  ])
  const first = Math.max(...rows.map((row) => row[0]?.length ?? 0))
  const second = Math.max(...rows.map((row) => row[1]?.length ?? 0))
  const others = spec.aliases.filter((alias) => alias !== spec.packageName)
  return [
    `${spec.id}  ${spec.title} (${spec.packageName}${others.length > 0 ? `; also ${others.join(', ')}` : ''})`,
    ...spec.requirements.map((line, index) => `  ${index === 0 ? 'needs' : '     '}  ${line}`),
    `  cache  ${spec.cacheByDefault ? 'on by default (--no-cache to skip)' : 'off unless --cache (ClearID asks that tokens not be stored)'}`,
    ...rows.map(
      ([flag, env, description]) =>
        `    ${(flag ?? '').padEnd(first)}  ${(env ?? '').padEnd(second)}  ${description}`,
    ),
  ]
}

/** `tokenkeeper vendors [vendor]`: what each vendor needs, as flags and environment variables. */
export function vendorsCommand(
  specs: readonly VendorSpec[],
  json: boolean,
  io: ResolvedIo,
): number {
  if (json) {
    const described: VendorDescription[] = specs.map((spec) => ({
      id: spec.id,
      title: spec.title,
      package: spec.packageName,
      aliases: spec.aliases,
      requirements: spec.requirements,
      cacheByDefault: spec.cacheByDefault,
      settings: spec.settings.map((setting) => ({
        name: setting.name,
        flag: setting.configOnly ? null : `--${setting.flag}`,
        env: setting.env ?? null,
        secret: setting.secret === true,
        description: setting.description,
      })),
    }))
    io.stdout.write(`${JSON.stringify(described, null, 2)}\n`)
    return 0
  }
  const lines: string[] = []
  for (const spec of specs) lines.push(...describeVendor(spec), '')
  if (specs.length === VENDOR_SPECS.length) {
    lines.push(
      `Every setting can also come from a JSON --config file (or ${CONFIG_ENV}) using the`,
      'package setting names, e.g. {"clear": {"clientSecret": "...", "environment": "india-sandbox"}}.',
      'Precedence: flags, then the config file, then environment variables.',
      `Token cache: ${CACHE_FILE_ENV} (file), ${CACHE_KEY_ENV} (32-byte key, base64 or hex).`,
      '',
    )
  }
  io.stdout.write(lines.join('\n'))
  return 0
}
