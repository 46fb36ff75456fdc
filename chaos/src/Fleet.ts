/**
 * The simulated seller fleet (`bench/src/fleet.ts`, msw sellers with their own order books) in a
 * child process: the benchmarks' fleet client, whose `orders` command feeds the invariant checker.
 */
export { startFleet, type Fleet, type FleetAsked, type FleetHistory, type FleetOrder, type FleetPurchaseCall, type FleetSeller } from "../../bench/src/support.js"
