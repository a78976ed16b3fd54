import { homedir } from 'node:os'
import { join } from 'node:path'

/** Environment variable naming the cache file used when `--cache` gives none. */
export const CACHE_FILE_ENV = 'TOKENKEEPER_CACHE_FILE'

/**
 * The default token cache file: `TOKENKEEPER_CACHE_FILE`, else the user's cache directory
 * (`$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on
 * Windows) + `tokenkeeper/tokens.cache`.
 */
export function defaultCachePath(
  env: Readonly<Record<string, string | undefined>>,
  platform: NodeJS.Platform = process.platform,
): string {
  const configured = env[CACHE_FILE_ENV]
  if (configured !== undefined && configured.trim() !== '') return configured
  const home = env.HOME || env.USERPROFILE || homedir()
  let base: string
  if (platform === 'win32') base = env.LOCALAPPDATA || join(home, 'AppData', 'Local')
  else if (platform === 'darwin') base = join(home, 'Library', 'Caches')
  else base = env.XDG_CACHE_HOME || join(home, '.cache')
  return join(base, 'tokenkeeper', 'tokens.cache')
}
