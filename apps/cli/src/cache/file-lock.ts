import { randomBytes } from 'node:crypto'
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs'
import { hostname } from 'node:os'
import { TokenTimeoutError } from '@tokenkeeper/auth-core'

/** What a lock file holds: who took it, so others can tell a dead holder from a busy one. */
interface LockOwner {
  pid: number
  host: string
  nonce: string
}

/** Options of {@link acquireFileLock}. */
export interface FileLockOptions {
  /**
   * A lock whose file was not touched for this long (ms) is stale: its holder died or hangs.
   * Holders touch it every third of this while they hold it.
   */
  staleAfter: number
  /** How long to wait for another holder before failing with `TIMEOUT`, ms. */
  waitTimeout: number
  /** Gives up waiting (rejects with the signal's reason). */
  signal?: AbortSignal
  /**
   * `'wait'` (a mutex): wait until the lock is ours. `'lease'`: if another process holds it,
   * wait for it and resolve `null` once it is released, so the caller re-reads what the holder
   * wrote instead of redoing its work. A stale lock is taken over in both modes.
   */
  mode: 'wait' | 'lease'
}

/** A held lock. */
export interface HeldFileLock {
  /** Removes the lock file if it is still ours (a holder that hung past `staleAfter` lost it). */
  release(): void
}

/** Polling starts fast (a CLI's token request takes tens of ms) and backs off to this. */
const MAX_POLL_INTERVAL = 100

/**
 * A lock between processes, as a file created with `O_EXCL` next to the data it protects.
 *
 * Stale-lock recovery: a lock file older than `staleAfter` (holders refresh its time), or one
 * whose holder is a process of this machine that no longer exists, is moved aside with
 * `rename` (atomic: of several processes that notice at once, only one moves it) and then
 * deleted; the lock is then contended for as usual. If the file moved aside turns out not to be
 * the stale one (it was replaced in between), it is put back with `link`, which never
 * overwrites.
 *
 * Times are real time (`Date.now()` and file times), whatever clock the token client uses:
 * the lock coordinates real processes.
 */
export async function acquireFileLock(
  path: string,
  options: FileLockOptions,
): Promise<HeldFileLock | null> {
  const deadline = Date.now() + options.waitTimeout
  let waited = false
  let interval = 5
  for (;;) {
    options.signal?.throwIfAborted()
    const held = tryCreate(path, options.staleAfter)
    if (held) return held
    const holder = inspect(path)
    if (holder === 'gone') {
      // Released between our attempt and our look: in lease mode the holder's work is done.
      if (waited && options.mode === 'lease') return null
      continue
    }
    if (isStale(holder, options.staleAfter)) {
      removeStale(path, holder.ino)
      continue
    }
    if (Date.now() >= deadline) {
      throw new TokenTimeoutError(
        `Timed out after ${options.waitTimeout} ms waiting for another tokenkeeper process holding ${path}`,
      )
    }
    waited = true
    await sleep(Math.min(interval, Math.max(1, deadline - Date.now())), options.signal)
    interval = Math.min(MAX_POLL_INTERVAL, interval * 2)
    if (options.mode === 'lease' && inspect(path) === 'gone') return null
  }
}

interface Holder {
  ino: number
  mtimeMs: number
  owner: LockOwner | undefined
}

/** Creates the lock file if nobody holds it. */
function tryCreate(path: string, staleAfter: number): HeldFileLock | undefined {
  const owner: LockOwner = { pid: process.pid, host: hostname(), nonce: nonce() }
  let descriptor: number
  try {
    descriptor = openSync(path, 'wx', 0o600)
  } catch (error) {
    if (isCode(error, 'EEXIST')) return undefined
    throw error
  }
  try {
    writeSync(descriptor, JSON.stringify(owner))
  } finally {
    closeSync(descriptor)
  }
  return holdLock(path, owner, staleAfter)
}

function holdLock(path: string, owner: LockOwner, staleAfter: number): HeldFileLock {
  let released = false
  // Keep the file young while we hold it, so a long token request is not mistaken for a
  // dead holder.
  const keepAlive = setInterval(
    () => {
      if (ownedBy(path, owner)) {
        const now = new Date()
        try {
          utimesSync(path, now, now)
        } catch {
          // Gone: nothing to keep alive.
        }
      }
    },
    Math.max(10, Math.floor(staleAfter / 3)),
  )
  keepAlive.unref()
  return {
    release() {
      if (released) return
      released = true
      clearInterval(keepAlive)
      if (!ownedBy(path, owner)) return
      try {
        unlinkSync(path)
      } catch (error) {
        if (!isCode(error, 'ENOENT')) throw error
      }
    },
  }
}

/** The current holder of a lock file, or `'gone'`. */
function inspect(path: string): Holder | 'gone' {
  try {
    const stat = statSync(path)
    return { ino: stat.ino, mtimeMs: stat.mtimeMs, owner: readOwner(path) }
  } catch (error) {
    if (isCode(error, 'ENOENT')) return 'gone'
    throw error
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'))
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      typeof (parsed as LockOwner).pid === 'number' &&
      typeof (parsed as LockOwner).host === 'string' &&
      typeof (parsed as LockOwner).nonce === 'string'
    ) {
      return parsed as LockOwner
    }
  } catch {
    // Empty (being written right now), unreadable or gone: judged by its age alone.
  }
  return undefined
}

function ownedBy(path: string, owner: LockOwner): boolean {
  return readOwner(path)?.nonce === owner.nonce
}

/** Dead holder on this machine, or a file nobody touched for `staleAfter`. */
function isStale(holder: Holder, staleAfter: number): boolean {
  if (Date.now() - holder.mtimeMs > staleAfter) return true
  const owner = holder.owner
  if (owner === undefined || owner.host !== hostname()) return false
  if (owner.pid === process.pid) return false
  return !isAlive(owner.pid)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, it just belongs to someone else.
    return isCode(error, 'EPERM')
  }
}

/** Moves a stale lock aside and deletes it; puts back a lock that replaced it meanwhile. */
function removeStale(path: string, staleIno: number): void {
  const aside = `${path}.stale-${nonce()}`
  try {
    renameSync(path, aside)
  } catch (error) {
    if (isCode(error, 'ENOENT')) return // someone else removed it first
    throw error
  }
  let movedIno: number | undefined
  try {
    movedIno = statSync(aside).ino
  } catch {
    movedIno = undefined
  }
  if (movedIno !== undefined && movedIno !== staleIno) {
    // We moved a fresh lock taken in the instant after our look: restore it, unless a third
    // process holds the lock by now.
    try {
      linkSync(aside, path)
    } catch {
      // EEXIST: the lock is held again; the displaced holder finds its lock gone on release.
    }
  }
  try {
    unlinkSync(aside)
  } catch {
    // Already gone.
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

function nonce(): string {
  return randomBytes(8).toString('hex')
}

/** Whether an error is a Node system error with this code. */
export function isCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code
}
