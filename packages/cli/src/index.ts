/**
 * `@bookbroker/cli` as a library: the command services (each takes an `Api` and a `Ui`), the API
 * client and the render facade. The `bookbroker` binary is `src/bin.ts`.
 */
export * as Api from "./Api.js"
export { CliError } from "./CliError.js"
export * as Render from "./ui/Render.js"
export * as Buy from "./services/Buy.js"
export * as Customers from "./services/Customers.js"
export * as Dashboard from "./services/Dashboard.js"
export * as Doctor from "./services/Doctor.js"
export * as Migrate from "./services/Migrate.js"
export * as Offers from "./services/Offers.js"
export * as Requests from "./services/Requests.js"
export * as Sellers from "./services/Sellers.js"
export * as Serve from "./services/Serve.js"
export * as Simulate from "./services/Simulate.js"
