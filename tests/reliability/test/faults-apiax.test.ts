import { describe, it } from 'vitest'
import { FAULT_CASES, faultCell } from './support/fault-matrix.ts'
import { expectGoalsMet } from './support/soak-suite.ts'
import { apiaxRig } from './support/vendors.ts'

describe('fault matrix: Apiax token endpoint', () => {
  FAULT_CASES.forEach((fault, index) => {
    it(fault.name, async () => {
      expectGoalsMet(await faultCell(apiaxRig, fault, import.meta.url, 4000 + 10 * index))
    })
  })
})
