/** `@bookbroker/engine/testing`: real throw-away databases and simulated seller fleets for tests. */
export * as SimulatedSellers from "./SimulatedSellers.js"
export * as TestDatabase from "./TestDatabase.js"
export * as FakeStripe from "./FakeStripe.js"
export { freePort } from "./Ports.js"
