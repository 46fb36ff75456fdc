/**
 * `bookbroker customers add|list|revoke-key|new-key`: operators create customers (each gets an
 * API key, shown once), take a customer's keys back (every server refuses them within 1 s) and
 * give it a new one.
 */
import { Effect } from "effect"
import type * as Api from "../Api.js"
import { fail, type CliError } from "../CliError.js"
import { ago } from "../ui/Format.js"
import type { Ui } from "../ui/Render.js"
import { detailsView, tableView } from "../ui/Table.js"

export const add = (api: Api.Api, ui: Ui, options: { readonly name: string; readonly email?: string }): Effect.Effect<Api.Customer, CliError> =>
  Effect.gen(function* () {
    if (options.name.trim() === "") return yield* Effect.fail(fail("the customer needs a name"))
    const customer = yield* api.operator.createCustomer({ name: options.name.trim(), ...(options.email === undefined ? {} : { email: options.email.trim() }) })
    ui.result(customer, detailsView, {
      title: `created customer ${customer.name}`,
      fields: [
        ["id", customer.id],
        ["email", customer.email ?? "—"],
        ...(customer.api_key === undefined ? [] : ([["API key", `${customer.api_key}   (shown only this once)`]] as const))
      ],
      ...(customer.api_key === undefined ? {} : { footer: [`use it with: BOOKBROKER_API_KEY=${customer.api_key} bookbroker buy <isbn> --max <price>`] })
    })
    return customer
  })

export const list = (api: Api.Api, ui: Ui): Effect.Effect<ReadonlyArray<Api.Customer>, CliError> =>
  Effect.gen(function* () {
    const customers = yield* api.operator.customers
    const now = Date.now()
    ui.result(customers, tableView, {
      headers: ["id", "name", "email", "created"],
      rows: customers.map((customer) => [customer.id, customer.name, customer.email ?? "—", ago(customer.created_at, now)]),
      empty: "no customers (create one with: bookbroker customers add --name …)",
      footer: [`${customers.length} customer${customers.length === 1 ? "" : "s"}`]
    })
    return customers
  })

export const revokeKey = (api: Api.Api, ui: Ui, options: { readonly id: string }): Effect.Effect<Api.RevokedKeys, CliError> =>
  Effect.gen(function* () {
    const id = options.id.trim()
    if (id === "") return yield* Effect.fail(fail("which customer? give its id", "see: bookbroker customers list"))
    const revoked = yield* api.operator.revokeCustomerKeys(id).pipe(Effect.mapError((error) => (/^no customer /.test(error.message) ? fail(error.message, "see: bookbroker customers list") : error)))
    ui.result(revoked, detailsView, {
      title: revoked.revoked === 0 ? `customer ${revoked.name} had no live API key` : `revoked ${revoked.revoked} API key${revoked.revoked === 1 ? "" : "s"} of customer ${revoked.name}`,
      fields: [
        ["id", revoked.customer_id],
        ["keys revoked", String(revoked.revoked)]
      ],
      footer: ["every bookbroker server refuses them within 1 s", `a new key: bookbroker customers new-key ${revoked.customer_id}`]
    })
    return revoked
  })

export const newKey = (api: Api.Api, ui: Ui, options: { readonly id: string }): Effect.Effect<Api.ReplacedKey, CliError> =>
  Effect.gen(function* () {
    const id = options.id.trim()
    if (id === "") return yield* Effect.fail(fail("which customer? give its id", "see: bookbroker customers list"))
    const replaced = yield* api.operator.replaceCustomerKey(id).pipe(Effect.mapError((error) => (/^no customer /.test(error.message) ? fail(error.message, "see: bookbroker customers list") : error)))
    ui.result(replaced, detailsView, {
      title: `new API key for customer ${replaced.name}`,
      fields: [
        ["id", replaced.customer_id],
        ["API key", `${replaced.api_key}   (shown only this once)`],
        ["keys revoked", String(replaced.revoked)]
      ],
      footer: [`use it with: BOOKBROKER_API_KEY=${replaced.api_key} bookbroker buy <isbn> --max <price>`]
    })
    return replaced
  })
