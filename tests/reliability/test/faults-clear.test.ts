import { describe, it } from 'vitest'
import { FAULT_CASES, faultCell } from './support/fault-matrix.ts'
import { expectGoalsMet } from './support/soak-suite.ts'
import { clearRig } from './support/vendors.ts'

describe('fault matrix: Clear token endpoint', () => {
  FAULT_CASES.forEach((fault, index) => {
    it(fault.name, async () => {
      expectGoalsMet(await faultCell(clearRig, fault, import.meta.url, 2000 + 10 * index))
    })
  })
})
