/** `bookbroker customers add|list`: operators create customers (each gets an API key, shown once). */
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
