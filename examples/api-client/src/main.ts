/**
 * Buys a book through a running bookbroker server:
 *
 *   BOOKBROKER_URL=http://127.0.0.1:8080 BOOKBROKER_API_KEY=bb_cus_… pnpm start 9780306406157
 *
 * Optional: BOOKBROKER_MAX_PRICE (minor units, default 3000), BOOKBROKER_CURRENCY (EUR),
 * BOOKBROKER_PAYMENT_TOKEN (tok_approve in the sandbox), BOOKBROKER_IDEMPOTENCY_KEY. Exits 0 when
 * the book was bought, 2 when the request ended otherwise, 1 on an error.
 */
import { buy } from "./ApiClient.js"

const env = process.env
const apiKey = env["BOOKBROKER_API_KEY"]
const isbn = process.argv[2] ?? env["BOOKBROKER_ISBN"]
if (apiKey === undefined || isbn === undefined) {
  console.error("usage: BOOKBROKER_URL=… BOOKBROKER_API_KEY=… tsx src/main.ts <isbn>")
  process.exit(1)
}

try {
  const result = await buy({
    baseUrl: env["BOOKBROKER_URL"] ?? "http://127.0.0.1:8080",
    apiKey,
    isbn,
    maxPrice: { amount: Number(env["BOOKBROKER_MAX_PRICE"] ?? 3000), currency: env["BOOKBROKER_CURRENCY"] ?? "EUR" },
    paymentToken: env["BOOKBROKER_PAYMENT_TOKEN"] ?? "tok_approve",
    ...(env["BOOKBROKER_IDEMPOTENCY_KEY"] === undefined ? {} : { idempotencyKey: env["BOOKBROKER_IDEMPOTENCY_KEY"] }),
    log: (line) => console.log(line)
  })
  process.exit(result.status === "purchased" ? 0 : 2)
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error))
  process.exit(1)
}
