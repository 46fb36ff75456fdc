/**
 * What one eBay seller entry in bookbroker is configured with: which marketplace it buys on,
 * which listings count (condition, seller feedback, sellers), and — only when eBay approved the
 * keyset for the Order API's guest checkout — the buyer details a guest order is placed with.
 * Approval is a config fact because nothing in eBay's API reports it before an order is tried.
 */
import { Effect, Schema } from "effect"

/** Marketplaces the adapter knows the currency and country of (eBay's MarketplaceIdEnum, case-sensitive). */
export const marketplaces = {
  EBAY_US: { currency: "USD", country: "US" },
  EBAY_GB: { currency: "GBP", country: "GB" },
  EBAY_DE: { currency: "EUR", country: "DE" },
  EBAY_AU: { currency: "AUD", country: "AU" },
  EBAY_CA: { currency: "CAD", country: "CA" },
  EBAY_FR: { currency: "EUR", country: "FR" },
  EBAY_IT: { currency: "EUR", country: "IT" },
  EBAY_ES: { currency: "EUR", country: "ES" }
} as const
export type MarketplaceId = keyof typeof marketplaces

const Url = Schema.String.check(Schema.makeFilter((url: string) => URL.canParse(url) || `"${url}" is not an absolute URL`))
const Country = Schema.String.check(Schema.makeFilter((code: string) => /^[A-Z]{2}$/.test(code) || `"${code}" is not a two-letter country code`))
const Condition = Schema.Literals(["new", "like_new", "very_good", "good", "acceptable"])

/** Where eBay ships a guest order (v1_beta `ShippingAddress`): bookbroker's own receiving address. */
export const ShippingAddress = Schema.Struct({
  recipient: Schema.String.check(Schema.isNonEmpty()),
  addressLine1: Schema.String.check(Schema.isNonEmpty()),
  addressLine2: Schema.optional(Schema.String),
  city: Schema.String.check(Schema.isNonEmpty()),
  stateOrProvince: Schema.optional(Schema.String),
  postalCode: Schema.String.check(Schema.isNonEmpty()),
  country: Country,
  phoneNumber: Schema.String.check(Schema.isNonEmpty())
})

export const BillingAddress = Schema.Struct({
  firstName: Schema.String,
  lastName: Schema.String,
  addressLine1: Schema.String,
  addressLine2: Schema.optional(Schema.String),
  city: Schema.String,
  stateOrProvince: Schema.optional(Schema.String),
  postalCode: Schema.String,
  country: Country
})

/** The card's non-secret parts; its number (and security code) are credentials. */
export const Card = Schema.Struct({
  accountHolderName: Schema.String.check(Schema.isNonEmpty()),
  brand: Schema.String.check(Schema.isNonEmpty()),
  expireMonth: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 12 })),
  expireYear: Schema.Int.check(Schema.isBetween({ minimum: 2000, maximum: 2100 })),
  billingAddress: BillingAddress
})

/** The guest buyer a v1_beta guest checkout session is initiated with. */
export const Checkout = Schema.Struct({
  /** eBay sends order confirmations here. */
  contactEmail: Schema.String.check(Schema.makeFilter((email: string) => /^[^@\s+]+@[^@\s]+$/.test(email) || `"${email}" is not a plain email address (no "+" tag: the adapter adds one)`)),
  contactFirstName: Schema.String.check(Schema.isNonEmpty()),
  contactLastName: Schema.String.check(Schema.isNonEmpty()),
  /** Send `local+{buyerReference}@domain`, so each confirmation email names its purchase request. */
  tagContactEmail: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
  shippingAddress: ShippingAddress,
  card: Card
})
export type Checkout = typeof Checkout.Type

export const EbayConfig = Schema.Struct({
  marketplaceId: Schema.Literals(Object.keys(marketplaces) as Array<MarketplaceId>),
  environment: Schema.Literals(["production", "sandbox"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("production" as const))),
  /** Overrides `https://api.ebay.com` (Browse, OAuth) — a proxy or a simulated eBay. */
  apiBaseUrl: Schema.optional(Url),
  /** Overrides `https://apix.ebay.com` (Order API). */
  apixBaseUrl: Schema.optional(Url),
  /**
   * eBay approved this keyset for the Order API (a Limited Release) with the guest scope
   * `buy.guest.order`. Without it the adapter quotes and refuses every purchase.
   */
  guestCheckoutApproved: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false))),
  checkout: Schema.optional(Checkout),
  /** How long a quote is honoured, by eBay's clock (eBay has no quotes). */
  quoteTtlSeconds: Schema.Int.check(Schema.isBetween({ minimum: 5, maximum: 3_600 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(120))),
  /** Listings read per search (`limit`). */
  searchLimit: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 200 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(20))),
  /** Cheapest listings re-read with getItem per quote before giving up on an ISBN. */
  itemChecks: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(3))),
  minFeedbackPercentage: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 100 })).pipe(Schema.withDecodingDefaultKey(Effect.succeed(98))),
  minFeedbackScore: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(10))),
  /** Conditions bookbroker buys; default all. */
  conditions: Schema.Array(Condition).pipe(Schema.withDecodingDefaultKey(Effect.succeed(["new", "like_new", "very_good", "good", "acceptable"] as const))),
  /** Only these eBay sellers (usernames), when set. */
  sellers: Schema.optional(Schema.Array(Schema.String.check(Schema.isNonEmpty())))
}).check(
  Schema.makeFilter((config) => !config.guestCheckoutApproved || config.checkout !== undefined || "guestCheckoutApproved needs `checkout` (contact, shipping address, card)")
)
export type EbayConfig = typeof EbayConfig.Type

export const hostsOf = (config: EbayConfig) => ({
  api: config.apiBaseUrl ?? (config.environment === "sandbox" ? "https://api.sandbox.ebay.com" : "https://api.ebay.com"),
  apix: config.apixBaseUrl ?? (config.environment === "sandbox" ? "https://apix.sandbox.ebay.com" : "https://apix.ebay.com")
})

/** OAuth scopes (the same URIs in sandbox): Browse always, the guest order scope only when approved (eBay refuses an unapproved scope). */
export const browseScope = "https://api.ebay.com/oauth/api_scope"
export const guestOrderScope = "https://api.ebay.com/oauth/api_scope/buy.guest.order"
export const scopesOf = (config: EbayConfig): ReadonlyArray<string> => (config.guestCheckoutApproved ? [browseScope, guestOrderScope] : [browseScope])
