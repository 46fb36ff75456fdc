/**
 * A seller's inventory feed: upload the inventory file (the AbeBooks / Biblio tab-separated
 * layout, JSON Lines, or an ONIX for Books 3.0 message), follow the upload as a job, read and set the feed's settings. What it
 * feeds is the offer index (the engine's `inventory/`): customers' requests ask only the sellers
 * whose feed lists the book.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { Money } from "@bookbroker/adapter-sdk"
import { SellerAuth } from "../Auth.js"
import * as Problem from "../Problem.js"

/** The content types an inventory file may come as, and the format each means. */
export const inventoryContentTypes = {
  "text/tab-separated-values": "tsv",
  "text/plain": "tsv",
  "application/jsonl": "jsonl",
  "application/x-ndjson": "jsonl",
  "application/xml": "onix",
  "text/xml": "onix"
} as const

/** Where inventory files are sent: a streamed body, which the edge leaves to the endpoint (`Edge.ts`). */
export const uploadPath = "/v1/sellers/me/inventory/uploads"

/** Largest inventory file: a million listings with long titles fit with room to spare. */
export const maxInventoryBytes = 2 * 1024 * 1024 * 1024
/** The refusal of a file past `maxInventoryBytes`: by the handler mid-stream, or by the edge when its length says so up front. */
export const tooLargeDetail = `inventory files are limited to ${maxInventoryBytes} bytes; nothing of this one was applied`

export const UploadMode = Schema.Literals(["snapshot", "delta"])

export const UploadQuery = Schema.Struct({
  mode: Schema.optionalKey(
    UploadMode.annotate({
      description:
        "snapshot: the file is the whole inventory (listings missing from it are retired); delta (default): only the listings in the file change. Quantity 0 retires a listing either way."
    })
  ),
  currency: Schema.optionalKey(Money.CurrencyCode.annotate({ description: "The prices' currency for this file, when rows do not say (default: the feed's currency)" }))
})

export const RowError = Schema.Struct({
  line: Schema.Int,
  field: Schema.NullOr(Schema.String),
  reason: Schema.String
})

export const Upload = Schema.Struct({
  id: Schema.String,
  mode: UploadMode,
  format: Schema.Literals(["tsv", "jsonl", "onix"]),
  source: Schema.Literals(["upload", "url", "adapter"]).annotate({ description: "Sent by the seller, fetched from its feed URL, or read through its adapter" }),
  status: Schema.Literals(["receiving", "applying", "applied", "refused"]).annotate({
    description: "receiving (rows being read), applying, applied (the index has it), refused (nothing of the file was applied: see refusal)"
  }),
  rows_read: Schema.Int,
  rows_rejected: Schema.Int,
  rows_applied: Schema.NullOr(Schema.Int),
  listings_retired: Schema.NullOr(Schema.Int),
  errors: Schema.Array(RowError).annotate({ description: "The first rejected rows (at most 100); rows_rejected counts them all" }),
  refusal: Schema.NullOr(Schema.String),
  created_at: Schema.String,
  finished_at: Schema.NullOr(Schema.String)
})

export const Uploads = Schema.Struct({ uploads: Schema.Array(Upload) })

const EverySeconds = Schema.Int.check(
  Schema.isBetween({ minimum: 900, maximum: 604_800 }, { message: "must be between 900 seconds (15 minutes) and 604800 (7 days)" })
).annotate({ description: "How often bookbroker fetches the feed; default 3600" })

export const PullSetting = Schema.Union([
  Schema.Struct({
    url: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(2048)).annotate({
      description: "Where the inventory file is (http or https, a public address): fetched with a conditional GET and applied as a snapshot"
    }),
    format: Schema.optionalKey(
      Schema.Literals(["tsv", "jsonl", "onix"]).annotate({
        description:
          "tsv, jsonl, or onix (an ONIX for Books 3.0 message). Default: from the answer's Content-Type: JSON Lines (application/jsonl, application/x-ndjson), ONIX (application/xml, text/xml, any +xml such as application/onix+xml), else TSV"
      })
    ),
    every_seconds: Schema.optionalKey(EverySeconds)
  }),
  Schema.Struct({
    adapter: Schema.Literal(true).annotate({ description: "Read the inventory through the seller's adapter (adapters whose platform can list products)" }),
    every_seconds: Schema.optionalKey(EverySeconds)
  })
])

export const Pull = Schema.NullOr(
  Schema.Struct({
    url: Schema.NullOr(Schema.String),
    adapter: Schema.Boolean,
    format: Schema.NullOr(Schema.String),
    every_seconds: Schema.Int,
    last_at: Schema.NullOr(Schema.String),
    next_at: Schema.NullOr(Schema.String),
    last_result: Schema.NullOr(Schema.String).annotate({ description: "What the last fetch came to: applied …, not modified, failed: …" })
  })
).annotate({ description: "The feed bookbroker fetches itself; null when the seller uploads" })

export const Inventory = Schema.Struct({
  listings: Schema.Int.annotate({ description: "Listings with stock in the index" }),
  trust_seconds: Schema.Int.annotate({ description: "How long the feed is believed after an upload" }),
  currency: Schema.NullOr(Schema.String),
  shipping: Schema.Struct({ amount: Schema.Int }).annotate({ description: "Shipping when a row does not say, in minor units of the row's currency" }),
  last_snapshot_at: Schema.NullOr(Schema.String),
  last_upload_at: Schema.NullOr(Schema.String),
  fresh_until: Schema.NullOr(Schema.String),
  complete: Schema.Boolean.annotate({
    description: "A whole inventory (snapshot) was sent and the feed is fresh: bookbroker does not ask this seller for books its feed does not list"
  }),
  pull: Pull
})

export const InventorySettings = Schema.Struct({
  trust_seconds: Schema.optionalKey(
    Schema.Int.check(Schema.isBetween({ minimum: 60, maximum: 2_592_000 }, { message: "must be between 60 seconds and 30 days" })).annotate({
      description: "How long the feed is believed after an upload; default 86400 (24 h)"
    })
  ),
  currency: Schema.optionalKey(Money.CurrencyCode.annotate({ message: "must be an ISO 4217 currency code such as EUR" })),
  shipping: Schema.optionalKey(
    Schema.Struct({
      amount: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0, { message: "must be zero or a positive whole number of minor units" }), Schema.isLessThanOrEqualTo(100_000_000))
    })
  ),
  pull: Schema.optionalKey(Schema.NullOr(PullSetting).annotate({ description: "Have bookbroker fetch the inventory (a URL, or the adapter); null: back to uploads" }))
})

export class InventoryApi extends HttpApiGroup.make("inventory").add(
  HttpApiEndpoint.post("upload", uploadPath, {
    query: UploadQuery,
    payload: HttpApiSchema.StreamUint8Array({ contentType: Object.keys(inventoryContentTypes), maxBytes: maxInventoryBytes }),
    success: Upload.pipe(HttpApiSchema.status(201)),
    error: [Problem.Forbidden, Problem.Unprocessable, Problem.PayloadTooLarge, Problem.UnsupportedMediaType]
  })
    .middleware(SellerAuth)
    .annotate(
      OpenApi.Description,
      "Uploads the seller's inventory file, streamed: text/tab-separated-values (a header row of AbeBooks field names: listingid, isbn, price, quantity, bookcondition required; title, author, publishername, yearpublished, bindingtext, shipping, currency optional; other columns ignored) or application/jsonl (one object per line, the same names), or application/xml / text/xml: an ONIX for Books 3.0 message, reference or short tags (each Product a listing: RecordReference, ISBN-13, a consumer Price, ProductAvailability and Stock/OnHand; NotificationType 05 retires it). Rows (Products) that are wrong are reported (errors) and skipped; the rest is applied in one go once the whole file is read. A file that cannot be read (wrong header, not UTF-8, not tab-separated; XML not well-formed or not ONIX 3) is refused with 422 and changes nothing. Answers when the upload is applied; GET …/uploads/{id} shows it while it runs."
    ),
  HttpApiEndpoint.get("uploads", "/v1/sellers/me/inventory/uploads", { success: Uploads }).middleware(SellerAuth),
  HttpApiEndpoint.get("uploadStatus", "/v1/sellers/me/inventory/uploads/:id", {
    params: { id: Schema.String },
    success: Upload,
    error: [Problem.NotFound]
  }).middleware(SellerAuth),
  HttpApiEndpoint.get("inventory", "/v1/sellers/me/inventory", { success: Inventory }).middleware(SellerAuth),
  HttpApiEndpoint.patch("configure", "/v1/sellers/me/inventory", { payload: InventorySettings, success: Inventory, error: [Problem.Unprocessable] })
    .middleware(SellerAuth)
    .annotate(
      OpenApi.Description,
      "Sets the feed's settings: how long it is believed, the prices' currency, the default shipping, and whether bookbroker fetches the inventory itself (from a URL, or through the adapter)."
    )
) {}
