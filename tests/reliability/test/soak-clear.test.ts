import { describe, it } from 'vitest'
import { expectGoalsMet, soakRun, warmUpProcess } from './support/soak-suite.ts'
import { clearRig } from './support/vendors.ts'

warmUpProcess(clearRig)
const exercises =
  'header secret; valid_till (absolute, corrected by the Date header); reissue revokes the previous token, so no renewal ahead: callers wait inside the mandatory window (no races by design); daily quota lifted'

describe('soak: Clear', () => {
  it('one simulated hour, the Clear clock 5 minutes ahead', async () => {
    const figures = await soakRun({
      rig: clearRig,
      skew: 300_000,
      lifetimes: [2, 5, 10, 20, 30, 60],
      seed: 201,
      exercises,
      file: import.meta.url,
    })
    expectGoalsMet(figures)
  })

  it('one simulated hour, the Clear clock 5 minutes behind', async () => {
    const figures = await soakRun({
      rig: clearRig,
      skew: -300_000,
      lifetimes: [3, 7, 15, 25, 45, 60],
      seed: 202,
      exercises,
      file: import.meta.url,
    })
    expectGoalsMet(figures)
  })

  // Without skew the Date header costs nothing, so 1 s tokens are usable.
  it('one simulated hour without skew, from 1 s tokens', async () => {
    const figures = await soakRun({
      rig: clearRig,
      skew: 0,
      lifetimes: [1, 2, 5, 10, 30, 60],
      seed: 203,
      exercises,
      file: import.meta.url,
    })
    expectGoalsMet(figures)
  })
})
