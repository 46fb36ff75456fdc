/**
 * The bookbroker HTTP API, defined once: the server implements it, `/openapi.json` documents
 * it, and clients are generated from that document.
 */
import { HttpApi, OpenApi } from "effect/http-api"
import { BooksApi } from "./api/Books.js"
import { CustomersApi } from "./api/Customers.js"
import { HealthApi } from "./api/Health.js"
import { InventoryApi } from "./api/Inventory.js"
import { OperatorApi } from "./api/Operator.js"
import { PurchasesApi } from "./api/Purchases.js"
import { SellersApi } from "./api/Sellers.js"
import { InputErrors } from "./InputErrors.js"
import { transform } from "./OpenApiDocument.js"

export class BookbrokerApi extends HttpApi.make("bookbroker")
  .add(PurchasesApi)
  .add(BooksApi)
  .add(CustomersApi)
  .add(SellersApi)
  .add(InventoryApi)
  .add(OperatorApi)
  .add(HealthApi)
  .middleware(InputErrors)
  // Every offending field is reported, not just the first.
  .annotate(HttpApi.ParseOptions, { errors: "all" })
  .annotateMerge(
    OpenApi.annotations({
      title: "bookbroker",
      version: "1.0.0",
      description:
        "Buy a book at the best price from hundreds of independent sellers. Money is in integer minor units; every error is RFC 9457 problem details.",
      transform
    })
  ) {}

/** The purchase request wire shapes (for tools that serve or check the same shapes, e.g. the benchmarks). */
export { AcceptedPurchase, NewPurchaseRequest, PurchaseRequest } from "./api/Purchases.js"
