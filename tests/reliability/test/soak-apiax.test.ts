import type { Emulator } from '@tokenkeeper/emulator'
import { describe, expect, it } from 'vitest'
import { expectGoalsMet, soakRun, warmUpProcess } from './support/soak-suite.ts'
import { apiaxRig } from './support/vendors.ts'

warmUpProcess(apiaxRig)
/** Keycloak's strictest setting: a refresh token used twice ends the session for everyone. */
const singleUseRefreshTokens = (emulator: Emulator) => {
  emulator.apiax.configure({ revokeRefreshToken: true, refreshTokenMaxReuse: 0 })
}
const exercises =
  'password login, then single-use rotating refresh tokens (reuse would end the session); expires_in only; background renewal in the last fifth'

describe('soak: Apiax', () => {
  it('one simulated hour, the Keycloak clock 5 minutes ahead', async () => {
    const figures = await soakRun({
      rig: apiaxRig,
      skew: 300_000,
      lifetimes: [10, 15, 20, 30, 45, 60],
      seed: 401,
      exercises,
      file: import.meta.url,
      prepare: singleUseRefreshTokens,
    })
    expectGoalsMet(figures)
  })

  it('one simulated hour, the Keycloak clock 5 minutes behind', async () => {
    const figures = await soakRun({
      rig: apiaxRig,
      skew: -300_000,
      lifetimes: [12, 18, 25, 35, 50, 60],
      seed: 402,
      exercises,
      file: import.meta.url,
      prepare: singleUseRefreshTokens,
    })
    expectGoalsMet(figures)
  })

  // Known defect, see /tmp/tokenkeeper-core-notes.md ("expires_in and whole seconds"): Keycloak
  // (and the emulator) set exp = whole-second iat + expires_in, so a token can end up to 1 s
  // before sentAt + expires_in, which is what the client believes. The mandatory window is a
  // tenth of the lifetime, under 1 s for tokens shorter than 10 s, so such tokens are sent after
  // they expired (the API's 401 is then recovered by one renewal, but the goal is none at all).
  // Flip to `it` once expiry from expires_in allows for the 1 s resolution (core), or the Apiax
  // source also reads the access token's exp (it is a JWT).
  it.fails('1 to 5 s tokens: no request is sent with an expired token', async () => {
    const figures = await soakRun({
      rig: apiaxRig,
      skew: 0,
      lifetimes: [1, 2, 5],
      segmentMs: 120_000,
      warmUp: 5_000,
      meanCallInterval: 1_000,
      seed: 403,
      exercises: 'expiry from expires_in when the server counts whole seconds',
      file: import.meta.url,
      id: 'soak/apiax/short-lifetimes',
      title: '@tokenkeeper/apiax, 1 to 5 s tokens, 2 simulated minutes each',
      knownDefect: 'tokens sent in their last second (core notes, expires_in resolution)',
    })
    expect(figures.expired?.met).toBe(true)
  })
})
