/** Helpers shared by the SharedState tests: limits, seller ids and admission answers. */
import { randomUUID } from "node:crypto"
import type { Admission, AdmissionLimits } from "../../src/state/SharedState.js"

/** Generous limits unless overridden. */
export const limits = (overrides: Partial<AdmissionLimits> = {}): AdmissionLimits => ({
  requestsPerSecond: 1_000,
  burst: 1_000,
  maxConcurrency: 100,
  timeoutMillis: 1_000,
  ...overrides
})

/** A seller id no other test uses. */
export const seller = () => `seller-${randomUUID()}`

export const admitted = (admission: Admission) => {
  if (admission._tag !== "Admitted") throw new Error(`expected Admitted, got ${JSON.stringify(admission)}`)
  return admission
}

export const denied = (admission: Admission) => {
  if (admission._tag !== "Denied") throw new Error(`expected Denied, got ${JSON.stringify(admission)}`)
  return admission
}
