import { describe, it } from 'vitest'
import { expectGoalsMet, soakRun, warmUpProcess } from './support/soak-suite.ts'
import { akamaiRig } from './support/vendors.ts'

warmUpProcess(akamaiRig)
// Akamai token policies (and the emulator) grant 60 to 3600 s, so 60 s is the shortest here.
const exercises =
  'HTTP Basic; opaque tokens (expires_in only, so skew cannot matter); 403 for a dead token; background renewal in the last fifth'

describe('soak: Akamai Identity Cloud', () => {
  it('one simulated hour, the Akamai clock 5 minutes ahead', async () => {
    const figures = await soakRun({
      rig: akamaiRig,
      skew: 300_000,
      lifetimes: [60, 60, 60, 60, 60, 60],
      seed: 301,
      exercises,
      file: import.meta.url,
    })
    expectGoalsMet(figures)
  })

  it('one simulated hour, the Akamai clock 5 minutes behind', async () => {
    const figures = await soakRun({
      rig: akamaiRig,
      skew: -300_000,
      lifetimes: [60, 60, 60, 60, 60, 60],
      seed: 302,
      exercises,
      file: import.meta.url,
    })
    expectGoalsMet(figures)
  })
})
