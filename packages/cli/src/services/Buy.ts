/**
 * `bookbroker buy`: checks the ISBN and price, submits the purchase request through the HTTP API
 * (with an Idempotency-Key, so a retried command never buys twice), then follows it — polling
 * the request every ~200 ms while asking once for the book's offers to show the sellers
 * answering — until it ends. The outcome decides the exit code.
 */
import { Clock, Duration, Effect, Fiber, Option } from "effect"
import type * as Api from "../Api.js"
import { fail, type CliError } from "../CliError.js"
import * as Input from "../Input.js"
import { acceptCommand, buyView, type BuyEvent } from "../ui/BuyView.js"
import type { Ui } from "../ui/Render.js"


/** The sellers as `offers` lists them, cheapest total first, then those without an offer in the order they were asked. */
export const cheapestFirst = (book: Api.BookOffers): ReadonlyArray<Api.SellerOutcome> => {
  const rank = new Map(book.offers.map((offer, index) => [offer.seller_id, index]))
  return book.sellers
    .map((seller, index) => ({ seller, key: rank.get(seller.seller_id) ?? book.offers.length + index }))
    .sort((a, b) => a.key - b.key)
    .map(({ seller }) => seller)
}
export interface ShippingAddress {
  readonly line1: string
  readonly line2?: string
  readonly city: string
  readonly postalCode?: string
  readonly country: string
}

export interface BuyOptions {
  readonly isbn: string
  /** Decimal string, e.g. `30.00`. */
  readonly max: string
  readonly currency: string
  readonly paymentToken: string
  readonly customer: { readonly name: string; readonly email: string; readonly shippingAddress: ShippingAddress }
  readonly idempotencyKey: string
  /** false: print the id and return. */
  readonly wait: boolean
  /** A want: watch for a copy within the maximum this long (`--wait 14d`) when none is offered now. */
  readonly waitFor?: string
  readonly notifyUrl?: string
  /** Seconds the customer will wait for a true answer while sellers are busy (`--answer-within`). */
  readonly answerWithin?: string | number
  /** How long to follow the request before giving up (it keeps going on the server). */
  readonly timeoutMillis?: number
  readonly pollMillis?: number
}

/** Exit codes by outcome (documented in `buy --help`). */
export const exitCodes: Readonly<Record<string, number>> = {
  purchased: 0,
  price_not_met: 2,
  not_available: 3,
  failed: 4,
  sellers_busy: 5,
  watching: 6,
  expired: 7,
  cancelled: 8
}

export type BuyResult =
  | { readonly _tag: "Submitted"; readonly accepted: Api.AcceptedPurchase; readonly exitCode: 0 }
  | { readonly _tag: "Finished"; readonly request: Api.PurchaseRequest; readonly sellerName: string | null; readonly exitCode: number }

/** What `--json` prints for a finished request: the API's request plus the seller's name. */
export const jsonResult = (request: Api.PurchaseRequest, sellerName: string | null) => ({
  ...request,
  seller_name: sellerName,
  ...(request.status === "price_not_met" && request.counter_offer !== null ? { accept_command: acceptCommand(request.id) } : {})
})

export const buy = (api: Api.Api, ui: Ui, options: BuyOptions): Effect.Effect<BuyResult, CliError> =>
  Effect.gen(function* () {
    // Everything typed is checked before the first call.
    const isbn = yield* Input.isbn(options.isbn)
    const maxPrice = yield* Input.price(options.max, options.currency, "--max")
    if (options.idempotencyKey.trim() === "" || options.idempotencyKey.length > 255) {
      return yield* Effect.fail(fail("the idempotency key must be 1 to 255 characters"))
    }
    const answerWithin = options.answerWithin === undefined ? undefined : yield* Input.integer(options.answerWithin, "--answer-within", 5, 86_400)
    const waitUntil = options.waitFor === undefined ? undefined : yield* Input.waitUntil(options.waitFor, yield* Clock.currentTimeMillis)
    const address = options.customer.shippingAddress
    const body: Api.NewPurchaseRequest = {
      isbn,
      max_price: { amount: maxPrice.amount, currency: maxPrice.currency },
      payment: { token: options.paymentToken },
      customer: {
        name: options.customer.name,
        email: options.customer.email,
        shipping_address: {
          line1: address.line1,
          ...(address.line2 === undefined ? {} : { line2: address.line2 }),
          city: address.city,
          ...(address.postalCode === undefined ? {} : { postal_code: address.postalCode }),
          country: address.country
        }
      },
      ...(options.notifyUrl === undefined ? {} : { notify_url: options.notifyUrl }),
      ...(answerWithin === undefined ? {} : { answer_within_seconds: answerWithin }),
      ...(waitUntil === undefined ? {} : { wait_until: waitUntil.toISOString() })
    }

    const started = yield* Clock.currentTimeMillis
    const accepted = yield* api.submitPurchase(body, options.idempotencyKey)
    if (!options.wait) {
      if (ui.json) ui.printJson(accepted)
      else {
        ui.print(accepted.id)
        ui.note(
          `${accepted.queue.depth} requests in flight${accepted.queue.eta_seconds === null ? "" : `, about ${accepted.queue.eta_seconds} s at the current pace`}; follow it with: bookbroker requests show ${accepted.id}`
        )
      }
      return { _tag: "Submitted", accepted, exitCode: 0 } as const
    }

    const events: Array<BuyEvent> = [{ _tag: "Submitted", id: accepted.id }]
    const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - started)
    const props = (elapsedMillis: number) => ({ isbn, maxPrice: { amount: maxPrice.amount, currency: maxPrice.currency }, events: [...events], elapsedMillis })
    const live = ui.live(buyView, props(0))
    const push = (event: BuyEvent) =>
      Effect.map(elapsed, (millis) => {
        events.push(event)
        live.update(props(millis))
      })

    // The sellers answering: one offers call alongside the purchase (the engine's quote cache
    // and coalescing make it nearly free). Its failure only hides that section.
    let offers: Api.BookOffers | undefined
    const offersFiber = yield* api.offers(isbn, maxPrice.currency).pipe(
      Effect.flatMap((book) => {
        offers = book
        return push({ _tag: "Sellers", sellers: cheapestFirst(book), offers: book.offers, durationMillis: book.duration_ms })
      }),
      Effect.catch((error) => push({ _tag: "SellersFailed", message: error.message })),
      Effect.forkChild
    )

    const seen = new Map<string, string>()
    let lastStatus: string | undefined
    const observe = (request: Api.PurchaseRequest) =>
      Effect.gen(function* () {
        const millis = yield* elapsed
        if (request.status !== lastStatus) {
          lastStatus = request.status
          yield* push({ _tag: "Status", status: request.status, atMillis: millis })
        }
        for (const attempt of request.attempts) {
          const key = `${attempt.rank}:${attempt.seller_id}`
          if (seen.get(key) !== attempt.status) {
            seen.set(key, attempt.status)
            yield* push({ _tag: "Attempt", attempt })
          }
        }
        live.update(props(millis))
      })

    const timeout = options.timeoutMillis ?? 120_000
    const poll = options.pollMillis ?? 200
    const follow = Effect.gen(function* () {
      for (;;) {
        const request = yield* api.purchase(accepted.id)
        yield* observe(request)
        // A want that found nothing now watches on the server: that is this command's answer.
        if (request.terminal || request.status === "watching") return request
        yield* Effect.sleep(Duration.millis(poll))
      }
    })
    const final = yield* follow.pipe(
      Effect.timeoutOrElse({
        duration: Duration.millis(timeout),
        orElse: () =>
          Effect.fail(fail(
            `request ${accepted.id} is still ${lastStatus ?? "received"} after ${Math.round(timeout / 1000)} s; it goes on on the server`,
            `follow it with: bookbroker requests show ${accepted.id}`
          ))
      }),
      Effect.tapError(() => Effect.flatMap(elapsed, (millis) => live.done(props(millis))))
    )
    // Give the offers a moment to show if the purchase was quicker.
    yield* Fiber.join(offersFiber).pipe(Effect.timeout(Duration.seconds(2)), Effect.option)
    yield* Fiber.interrupt(offersFiber)

    const sellerName = nameOf(final, offers)
    yield* push({ _tag: "Outcome", request: final, sellerName })
    yield* live.done(props(yield* elapsed))
    if (ui.json) ui.printJson(jsonResult(final, sellerName))
    return { _tag: "Finished", request: final, sellerName, exitCode: exitCodes[final.status] ?? 4 } as const
  })

const nameOf = (request: Api.PurchaseRequest, offers: Api.BookOffers | undefined): string | null => {
  if (request.seller_id === null) return request.counter_offer?.seller_name ?? null
  const fromAttempts = request.attempts.find((attempt) => attempt.seller_id === request.seller_id)?.seller_name
  const fromOffers = offers?.sellers.find((seller) => seller.seller_id === request.seller_id)?.seller_name
  return Option.getOrNull(Option.fromNullishOr(fromAttempts ?? fromOffers))
}
