import { describe, it } from 'vitest'
import { FAULT_CASES, faultCell } from './support/fault-matrix.ts'
import { expectGoalsMet } from './support/soak-suite.ts'
import { akamaiRig } from './support/vendors.ts'

describe('fault matrix: Akamai token endpoint', () => {
  FAULT_CASES.forEach((fault, index) => {
    it(fault.name, async () => {
      expectGoalsMet(await faultCell(akamaiRig, fault, import.meta.url, 3000 + 10 * index))
    })
  })
})
