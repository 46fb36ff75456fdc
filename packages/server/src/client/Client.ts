/**
 * `@bookbroker/server/client`: a typed fetch client for the bookbroker API, from the types that
 * openapi-typescript generates from `openapi.json` (`pnpm --filter @bookbroker/server openapi`),
 * over `openapi-fetch`. Paths, parameters, bodies and answers are checked by the compiler;
 * errors come back as problem details.
 *
 * ```ts
 * const api = createBookbrokerClient({ baseUrl: "http://127.0.0.1:8080", apiKey: process.env.BOOKBROKER_API_KEY })
 * const { data, error } = await api.GET("/v1/books/{isbn}/offers", { params: { path: { isbn } } })
 * ```
 */
import createClient, { type Client } from "openapi-fetch"
import type { components, operations, paths } from "./schema.generated.js"

export type { components, operations, paths }

export type BookbrokerClient = Client<paths>

/** Every error the API answers (RFC 9457 problem details; one schema per status in `components`). */
export type Problem = components["schemas"][
  | "BadRequest"
  | "Unauthorized"
  | "Forbidden"
  | "NotFound"
  | "Conflict"
  | "PayloadTooLarge"
  | "UnsupportedMediaType"
  | "Unprocessable"
  | "TooManyRequests"
  | "ServiceUnavailable"]

export interface ClientOptions {
  /** The server's root URL, e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string
  /** A customer or seller API key, or the operator token: sent as `Authorization: Bearer …`. */
  readonly apiKey?: string
  /** Another `fetch` (tests, proxies). */
  readonly fetch?: typeof globalThis.fetch
  readonly headers?: Record<string, string>
}

export const createBookbrokerClient = (options: ClientOptions): BookbrokerClient =>
  createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    headers: { ...options.headers, ...(options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` }) },
    ...(options.fetch === undefined ? {} : { fetch: options.fetch })
  })

/** A problem's one-line description, for messages. */
export const describeProblem = (problem: Pick<Problem, "status" | "title" | "detail"> | undefined): string =>
  problem === undefined ? "no answer" : `${problem.status} ${problem.title}: ${problem.detail}`
