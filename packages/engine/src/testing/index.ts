/** `@bookbroker/engine/testing`: real throw-away databases and simulated seller fleets for tests. */
export * as SimulatedSellers from "./SimulatedSellers.js"
export * as TestDatabase from "./TestDatabase.js"
export * as FakeStripe from "./FakeStripe.js"
/** Where a test kills a purchase run (`purchases/CrashPoints.ts`). */
export * as CrashPoints from "../purchases/CrashPoints.js"
export { freePort } from "./Ports.js"
