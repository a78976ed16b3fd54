import { ConfigurationError } from '@tokenkeeper/auth-core'

/**
 * Exit codes of the `tokenkeeper` command:
 * - `0`: success;
 * - `1`: failure (no token could be obtained, network error, a demo check failed);
 * - `2`: usage or settings error (unknown command or flag, missing or wrong setting);
 * - `3`: `request` got an HTTP error status (400 or above) from the API;
 * - `130`: interrupted (Ctrl-C).
 */
export const EXIT_CODES = {
  ok: 0,
  failure: 1,
  usage: 2,
  httpError: 3,
  interrupted: 130,
} as const

/**
 * The command line is wrong: an unknown command, flag or vendor, a missing argument, an
 * unreadable file. Exit code 2. A {@link ConfigurationError}, so `setting` names the setting at
 * fault when there is one.
 */
export class UsageError extends ConfigurationError {
  override name = 'UsageError'

  constructor(message: string, options: { setting?: string; cause?: unknown } = {}) {
    super(message, options)
  }
}
