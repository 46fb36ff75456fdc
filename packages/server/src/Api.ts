/**
 * The bookbroker HTTP API, defined once: the server implements it, `/openapi.json` documents
 * it, and clients are generated from that document.
 */
import { HttpApi, OpenApi } from "@effect/platform"
import { BooksApi } from "./api/Books.js"
import { HealthApi } from "./api/Health.js"
import { OperatorApi } from "./api/Operator.js"
import { PurchasesApi } from "./api/Purchases.js"
import { SellersApi } from "./api/Sellers.js"
import { transform } from "./OpenApiDocument.js"
import * as Problem from "./Problem.js"

export class BookbrokerApi extends HttpApi.make("bookbroker")
  .add(PurchasesApi)
  .add(BooksApi)
  .add(SellersApi)
  .add(OperatorApi)
  .add(HealthApi)
  .addError(Problem.BadRequest, { status: 400 })
  .addError(Problem.Unauthorized, { status: 401 })
  .addError(Problem.PayloadTooLarge, { status: 413 })
  .addError(Problem.UnsupportedMediaType, { status: 415 })
  .annotate(OpenApi.Transform, transform)
  .annotate(OpenApi.Title, "bookbroker")
  .annotate(OpenApi.Version, "1.0.0")
  .annotate(OpenApi.Description, "Buy a book at the best price from hundreds of independent sellers. Money is in integer minor units; every error is RFC 9457 problem details.") {}

/** The purchase request wire shapes (for tools that serve or check the same shapes, e.g. the benchmarks). */
export { AcceptedPurchase, NewPurchaseRequest, PurchaseRequest } from "./api/Purchases.js"
