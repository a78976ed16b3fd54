import { describe, it } from 'vitest'
import { FAULT_CASES, faultCell } from './support/fault-matrix.ts'
import { expectGoalsMet } from './support/soak-suite.ts'
import { clearIdRig } from './support/vendors.ts'

describe('fault matrix: ClearID token endpoint', () => {
  FAULT_CASES.forEach((fault, index) => {
    it(fault.name, async () => {
      expectGoalsMet(await faultCell(clearIdRig, fault, import.meta.url, 1000 + 10 * index))
    })
  })
})
