/**
 * The wire side of a simulated seller: one function every msw handler of a simulated seller
 * runs its work through. It counts the call, applies the rate limit, latency and faults of the
 * {@link SellerSimulator}, and renders business rejections in the seller's own error format
 * (given by a {@link WireErrors}). A new simulated seller is then just its routes and formats.
 */
import { delay, HttpResponse } from "msw"
import { type FaultKind, SimulatedRejection, type SellerSimulator, type SimulatedOperation } from "./SellerSimulator.js"

/** How a seller's API spells its errors. */
export interface WireErrors {
  /** A business rejection or auth failure. */
  readonly rejection: (rejection: SimulatedRejection) => Response
  /** 429 with the seller's headers; `retryAfterSeconds` is what its Retry-After says. */
  readonly rateLimited: (retryAfterSeconds: number) => Response
  readonly serverError: () => Response
  /** A 200 whose body breaks the seller's own format. */
  readonly malformed: () => Response
  /** "A request with this idempotency key is still in progress" (default: 409 `{ error: "in_progress" }`). */
  readonly inProgress?: () => Response
}

/** A JSON-API default: `{ error, message }` bodies, 404 for unknown things, 409 for conflicts. */
export const jsonErrors: WireErrors = {
  rejection: (rejection) => {
    const status =
      rejection.code === "unauthorized"
        ? 401
        : rejection.code === "invalid_request"
          ? 400
          : rejection.code === "unknown_book" || rejection.code === "unknown_quote" || rejection.code === "unknown_hold"
            ? 404
            : 409
    return HttpResponse.json(
      { error: rejection.code, message: rejection.message, ...(rejection.currentPrice === undefined ? {} : { current_price: rejection.currentPrice }) },
      { status }
    )
  },
  rateLimited: (seconds) =>
    HttpResponse.json({ error: "rate_limited", message: "slow down" }, { status: 429, headers: { "Retry-After": String(seconds) } }),
  serverError: () => HttpResponse.json({ error: "server_error", message: "something broke" }, { status: 500 }),
  malformed: () => HttpResponse.text("<html>definitely not json", { status: 200, headers: { "content-type": "application/json" } }),
  inProgress: () => HttpResponse.json({ error: "in_progress", message: "a request with this idempotency key is in progress" }, { status: 409 })
}

/** The seller's answer to a replay it refuses to process now (see `SellerSimulator.takeReplayRefusal`). */
export const replayRefused = (errors: WireErrors, refusal: "rate_limited" | "in_progress"): Response =>
  refusal === "rate_limited" ? errors.rateLimited(1) : (errors.inProgress ?? jsonErrors.inProgress!)()

/** Where a call's fault comes from and which operation it counts as. */
export interface CallPlan {
  /** The simulator operation the call counts as (none: not counted, e.g. a token request). */
  readonly count?: SimulatedOperation
  /** The fault this call gets (e.g. `seller.takeFault("quote")`, or a per-order queue). */
  readonly fault: () => FaultKind | undefined
}

/** A seller's error format, plus how it renders its own error class (`rescue`: `undefined` for errors it does not know). */
export interface WireFormat extends WireErrors {
  readonly rescue?: (error: unknown) => Response | undefined
}

/**
 * Runs one simulated call. `work` does the business part and builds the success response;
 * it may throw {@link SimulatedRejection}. `fault` is handed to `work` for faults that are
 * business outcomes (out of stock, price changed).
 */
export const simulate = (
  seller: SellerSimulator,
  operation: SimulatedOperation,
  errors: WireErrors,
  work: (fault: "out_of_stock" | "price_changed" | "overcharge" | "lost_response" | "commit_then_hang" | undefined) => Response | Promise<Response>
): Promise<Response> =>
  simulateCall(seller, { count: operation, fault: () => seller.takeFault(operation) }, errors, work as (fault: FaultKind | undefined) => Response | Promise<Response>)

/**
 * `simulate` for a seller whose calls do not map one to one onto the simulator's operations
 * (a platform's token endpoint, a search that counts as a quote, an order's own fault queue),
 * and whose handlers throw the platform's own error class (`format.rescue` renders it).
 */
export const simulateCall = async (
  seller: SellerSimulator,
  plan: CallPlan,
  format: WireFormat,
  work: (fault: FaultKind | undefined) => Response | Promise<Response>
): Promise<Response> => {
  if (plan.count !== undefined) seller.calls[plan.count] += 1
  const done = seller.enter()
  const run = async (fault: FaultKind | undefined) => {
    try {
      return await work(fault)
    } catch (error) {
      const rescued = format.rescue?.(error)
      if (rescued !== undefined) return rescued
      if (error instanceof SimulatedRejection) return format.rejection(error)
      throw error
    }
  }
  try {
    const wait = seller.admit()
    if (wait !== undefined) return format.rateLimited(wait)
    const fault = plan.fault()
    const latency = seller.sampleLatency()
    if (latency > 0) await delay(latency)
    switch (fault) {
      case "hang":
        await seller.hang()
        return HttpResponse.error()
      case "server_error":
        return format.serverError()
      case "rate_limited":
        return format.rateLimited(1)
      case "malformed":
        return format.malformed()
      case "in_progress":
        return (format.inProgress ?? jsonErrors.inProgress!)()
      case "lost_response":
        // The seller does the work, then the connection drops before the answer leaves. A
        // rejection lost on the wire is as ambiguous to the caller as a lost order.
        await run(fault).catch(() => undefined)
        return HttpResponse.error()
      case "commit_then_hang":
        // The seller places the order, then never answers: the caller only sees its own timeout.
        await run(fault).catch(() => undefined)
        await seller.hang()
        return HttpResponse.error()
    }
    return await run(fault)
  } finally {
    done()
  }
}
