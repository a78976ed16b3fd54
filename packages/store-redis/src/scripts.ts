/**
 * The Lua scripts. Each runs atomically in Redis, so a check and the write it guards cannot be
 * split by another process. They are sent with EVAL every time (Redis caches the compiled
 * script): writes are rare, and unlike EVALSHA this needs no reload after a Redis restart, which
 * would reorder a script behind commands sent after it.
 */

/**
 * The fingerprint of the entry at KEYS[1] if the entry is of any use at `now` (its token is
 * neither rejected nor expired, or its state is still useful), else false. Mirrors the core's
 * `isSpent`, so a spent entry counts as empty, as it does for `MemoryTokenStore`.
 */
const USEFUL_FINGERPRINT = `
local function usefulFingerprint(key, now)
  local fields = redis.call('HMGET', key, 'fp', 'rej', 'exp', 'sexp')
  if not fields[1] then return false end
  local tokenUseful = fields[2] ~= '1' and (fields[3] == '' or (tonumber(fields[3]) or 0) > now)
  local stateUseful = fields[4] ~= 'none' and (fields[4] == '' or (tonumber(fields[4]) or 0) > now)
  if tokenUseful or stateUseful then return fields[1] end
  return false
end
`

/**
 * Compare-and-set. ARGV: mode ('always' | 'empty' | 'match'), expected fingerprint, now,
 * fp, data, fmt, rej, exp, sexp, px (-1: no expiry, 0: already spent, delete), channel,
 * message. Returns 1 if written, 0 if a different entry is there.
 */
export const SET_ENTRY = `${USEFUL_FINGERPRINT}
local mode = ARGV[1]
if mode ~= 'always' then
  local current = usefulFingerprint(KEYS[1], tonumber(ARGV[3]))
  if current and (mode == 'empty' or current ~= ARGV[2]) then return 0 end
end
redis.call('DEL', KEYS[1])
local px = tonumber(ARGV[10])
if px ~= 0 then
  redis.call('HSET', KEYS[1], 'fp', ARGV[4], 'data', ARGV[5], 'fmt', ARGV[6], 'rej', ARGV[7],
    'exp', ARGV[8], 'sexp', ARGV[9])
  if px > 0 then redis.call('PEXPIRE', KEYS[1], px) end
end
redis.call('PUBLISH', ARGV[11], ARGV[12])
return 1
`

/**
 * Compare-and-invalidate: marks the entry rejected if its fingerprint is ARGV[1] and it is not
 * rejected yet, keeping its state; the entry then lives only as long as its state. ARGV: fp,
 * now, channel, message. Returns 1 if it was current.
 */
export const INVALIDATE_ENTRY = `
local fields = redis.call('HMGET', KEYS[1], 'fp', 'rej', 'sexp')
if fields[1] ~= ARGV[1] or fields[2] == '1' then return 0 end
local stateUntil = fields[3]
if stateUntil == 'none' or not stateUntil then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'rej', '1')
  if stateUntil == '' then
    redis.call('PERSIST', KEYS[1])
  else
    local px = (tonumber(stateUntil) or 0) - tonumber(ARGV[2])
    if px > 0 then redis.call('PEXPIRE', KEYS[1], math.floor(px)) else redis.call('DEL', KEYS[1]) end
  end
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`

/** Deletes the entry and announces it. ARGV: channel, message. */
export const DELETE_ENTRY = `
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
`

/** Fenced release: deletes the lease only if ARGV[1] still owns it. ARGV: owner, channel, message. */
export const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
`

/** Extends the lease to ARGV[2] ms if ARGV[1] still owns it. Returns 1 if extended. */
export const RENEW_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`
