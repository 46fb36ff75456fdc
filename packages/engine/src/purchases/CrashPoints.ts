/**
 * Where a test kills a purchase run, to prove that every step is safe to re-run after a crash
 * (each persists its intent before its external call). A test-only service: production never
 * provides it, and its default never crashes. A test provides `layer(at)`: `at` says, at each
 * point a run reaches, whether the worker dies there (with `SimulatedCrash`, its lease left to
 * expire, as a killed process leaves it).
 *
 * | point | reached |
 * | --- | --- |
 * | authorize | right after the payment provider answered the authorization |
 * | quote | after the quotes, before they are written |
 * | hold | right after a seller answered a hold |
 * | purchase | right after a seller answered a purchase |
 * | capture | right after the payment provider answered the capture |
 * | void | right after the payment provider answered a void |
 */
import { Context, Effect, Layer, Schema } from "effect"

export type CrashPoint = "authorize" | "quote" | "hold" | "purchase" | "capture" | "void"

/** How a crash point kills the worker fiber. */
export class SimulatedCrash extends Schema.TaggedError<SimulatedCrash>()("SimulatedCrash", { point: Schema.String, requestId: Schema.String }) {}

/** Does the run of `requestId` die at `point`? */
export type CrashAt = (point: CrashPoint, requestId: string) => boolean

export const CrashPoints = Context.Reference<CrashAt>("@bookbroker/engine/CrashPoints", { defaultValue: () => () => false })

/** Runs reaching a point die where `at` says so. */
export const layer = (at: CrashAt): Layer.Layer<never> => Layer.succeed(CrashPoints, at)

/** The crash, if `at` says the run of `requestId` dies at `point`. */
export const reached = (at: CrashAt, point: CrashPoint, requestId: string): Effect.Effect<void> =>
  at(point, requestId) ? Effect.die(new SimulatedCrash({ point, requestId })) : Effect.void
