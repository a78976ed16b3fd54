import type { Emulator } from '@tokenkeeper/emulator'
import { describe, it } from 'vitest'
import { expectGoalsMet, soakRun, warmUpProcess } from './support/soak-suite.ts'
import { apiaxRig } from './support/vendors.ts'

warmUpProcess(apiaxRig)
/** Keycloak's strictest setting: a refresh token used twice ends the session for everyone. */
const singleUseRefreshTokens = (emulator: Emulator) => {
  emulator.apiax.configure({ revokeRefreshToken: true, refreshTokenMaxReuse: 0 })
}
const exercises =
  'password login, then single-use rotating refresh tokens (reuse would end the session); JWT access tokens whose exp is whole seconds; background renewal in the last fifth'

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

  // Found by this suite and fixed in 6e81584 (Apiax counts the JWT's exp too): Keycloak sets
  // exp = whole-second iat + expires_in, so a token ended up to 1 s before sentAt + expires_in;
  // below 10 s of lifetime the mandatory window is under a second, and 158 of 726 calls went
  // out with an expired token.
  it('1 to 5 s tokens: no request is sent with an expired token', async () => {
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
    })
    expectGoalsMet(figures)
  })
})
