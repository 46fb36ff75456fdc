/** Bad input gets a clear problem and changes nothing — table-driven, then a fast-check sweep. */
import type { Isbn } from "@bookbroker/adapter-sdk"
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { connect } from "node:net"
import * as TestServer from "./support/TestServer.js"

const [isbn] = generateIsbns({ size: 1, seed: 12 }) as [Isbn.Isbn13]

const valid = {
  isbn,
  max_price: { amount: 3000, currency: "EUR" },
  payment: { token: "tok_approve" },
  customer: { name: "Ada Reader", email: "ada@example.com", shipping_address: { line1: "1 Book Lane", city: "Paris", country: "FR" } }
}

const withPath = (path: ReadonlyArray<string>, value: unknown): Record<string, unknown> => {
  const copy = structuredClone(valid) as Record<string, unknown>
  let target = copy as Record<string, unknown>
  for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>
  if (value === undefined) delete target[path.at(-1)!]
  else target[path.at(-1)!] = value
  return copy
}

const cases: ReadonlyArray<{ name: string; status: number; pointer?: string; body?: unknown; raw?: string; contentType?: string }> = [
  { name: "malformed JSON", status: 400, raw: '{"isbn": "97', contentType: "application/json" },
  { name: "no content type", status: 415, raw: JSON.stringify(valid), contentType: "" },
  { name: "text/plain body", status: 415, raw: JSON.stringify(valid), contentType: "text/plain" },
  { name: "invalid ISBN checksum", status: 422, pointer: "/isbn", body: withPath(["isbn"], "9780306406158") },
  { name: "ISBN of letters", status: 422, pointer: "/isbn", body: withPath(["isbn"], "hello") },
  { name: "zero amount", status: 422, pointer: "/max_price/amount", body: withPath(["max_price", "amount"], 0) },
  { name: "negative amount", status: 422, pointer: "/max_price/amount", body: withPath(["max_price", "amount"], -5) },
  { name: "fractional amount", status: 422, pointer: "/max_price/amount", body: withPath(["max_price", "amount"], 29.99) },
  { name: "amount as a string", status: 422, pointer: "/max_price/amount", body: withPath(["max_price", "amount"], "2999") },
  { name: "unknown currency", status: 422, pointer: "/max_price/currency", body: withPath(["max_price", "currency"], "EURO") },
  { name: "missing payment token", status: 422, pointer: "/payment/token", body: withPath(["payment", "token"], undefined) },
  { name: "bad email", status: 422, pointer: "/customer/email", body: withPath(["customer", "email"], "not-an-email") },
  { name: "bad country", status: 422, pointer: "/customer/shipping_address/country", body: withPath(["customer", "shipping_address", "country"], "France") },
  { name: "notify_url not http", status: 422, pointer: "/notify_url", body: { ...valid, notify_url: "ftp://example.com/x" } },
  { name: "notify_url on loopback", status: 422, pointer: "/notify_url", body: { ...valid, notify_url: "http://127.0.0.1:6379/" } },
  { name: "notify_url on loopback, hex", status: 422, pointer: "/notify_url", body: { ...valid, notify_url: "http://0x7f.1/" } },
  { name: "notify_url at the metadata address", status: 422, pointer: "/notify_url", body: { ...valid, notify_url: "http://169.254.169.254/latest" } },
  { name: "notify_url with credentials", status: 422, pointer: "/notify_url", body: { ...valid, notify_url: "https://user:pass@hooks.example.com/" } },
  { name: "a NUL in a name", status: 422, pointer: "/customer/name", body: withPath(["customer", "name"], "Ad\u0000a") },
  { name: "a lone surrogate in a token", status: 422, pointer: "/payment/token", body: withPath(["payment", "token"], "tok_\ud800approve") },
  { name: "a control character in a city", status: 422, pointer: "/customer/shipping_address/city", body: withPath(["customer", "shipping_address", "city"], "Par\u0007is") },
  { name: "a NUL in a key", status: 422, pointer: "/customer/na\u0000me", body: { ...valid, customer: { ...valid.customer, "na\u0000me": "x" } } },
  { name: "nested 40 deep", status: 422, body: { ...valid, extra: JSON.parse("[".repeat(40) + "]".repeat(40)) } },
  { name: "nested 10,000 deep", status: 422, raw: "[".repeat(10_000) + "]".repeat(10_000), contentType: "application/json" },
  { name: "an application/*+json type", status: 415, raw: JSON.stringify(valid), contentType: "application/vnd.api+json" },
  { name: "array body", status: 422, body: [valid] },
  { name: "null body", status: 422, raw: "null", contentType: "application/json" },
  // Found by the fuzz suite: the framework answered these itself, in text/plain.
  { name: "empty body, type */*", status: 415, raw: "", contentType: "*/*" },
  { name: "empty body, type text/plain", status: 415, raw: "", contentType: "text/plain" }
]

describe("bad input on POST /v1/purchase-requests", () => {
  it.live("each bad body is a precise problem and stores nothing", () =>
    Effect.gen(function* () {
      // bookbroker's default outbound policy: public addresses only (the notify_url cases).
      const server = yield* TestServer.start({ customerRateLimit: { requestsPerSecond: 1_000, burst: 1_000 } }, { outbound: { allowNetworks: [] } })
      const ada = yield* server.customer("Ada")
      for (const testCase of cases) {
        const reply = yield* server.call("POST", "/v1/purchase-requests", {
          token: ada.key,
          headers: { "idempotency-key": `bad-${testCase.name}`, ...(testCase.contentType === undefined ? {} : testCase.contentType === "" ? {} : { "content-type": testCase.contentType }) },
          ...(testCase.raw !== undefined ? { raw: testCase.raw } : { body: testCase.body })
        })
        expect({ name: testCase.name, status: reply.status }).toEqual({ name: testCase.name, status: testCase.status })
        expect(reply.headers["content-type"]).toMatch(/^application\/problem\+json/)
        expect(reply.body.detail.length).toBeGreaterThan(0)
        if (testCase.pointer !== undefined) {
          expect(reply.body.errors.map((error: { pointer: string }) => error.pointer)).toContain(testCase.pointer)
        }
      }
      expect(yield* server.count("purchase_requests")).toBe(0)
    })
  )

  it.live("one customer's NUL never fails another customer's submission sent at the same moment", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start({ customerRateLimit: { requestsPerSecond: 1_000, burst: 1_000 } })
      const ada = yield* server.customer("Ada")
      const eve = yield* server.customer("Eve")
      const replies = yield* Effect.forEach(
        Array.from({ length: 13 }, (_, i) => i),
        (i) =>
          i === 6
            ? server.call("POST", "/v1/purchase-requests", { token: eve.key, headers: { "idempotency-key": "poison" }, body: withPath(["customer", "name"], "E\u0000ve") })
            : server.call("POST", "/v1/purchase-requests", { token: ada.key, headers: { "idempotency-key": `calm-${i}` }, body: valid }),
        { concurrency: "unbounded" }
      )
      expect(replies.map((reply) => reply.status)).toEqual(Array.from({ length: 13 }, (_, i) => (i === 6 ? 422 : 202)))
      expect(yield* server.count("purchase_requests")).toBe(12)
    })
  )

  it.live("an id in the path with a NUL or control characters is a 404 problem that does not echo them", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const ada = yield* server.customer("Ada")
      for (const path of ["/v1/purchase-requests/%00", "/v1/purchase-requests/a%1Bb/cancel", `/v1/purchase-requests/${"x".repeat(300)}`]) {
        const reply = yield* server.call(path.endsWith("/cancel") ? "POST" : "GET", path, { token: ada.key })
        expect(reply.status).toBe(404)
        expect(reply.headers["content-type"]).toMatch(/^application\/problem\+json/)
        expect(reply.text).not.toMatch(/\\u00(00|1b)/i)
        expect(reply.body.detail.length, reply.text).toBeLessThan(160)
      }
      const operator = yield* server.operator("GET", "/v1/operator/purchase-requests/%00")
      expect(operator.status).toBe(404)
      expect(operator.text).not.toMatch(/\\u0000/)
    })
  )

  it.live("query strings with a NUL or control character are a 400 problem naming the parameter", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const ada = yield* server.customer("Ada")
      const reply = yield* server.call("GET", "/v1/purchase-requests?status=purchased&cursor=%00abc", { token: ada.key })
      expect(reply.status).toBe(400)
      expect(reply.headers["content-type"]).toMatch(/^application\/problem\+json/)
      expect(reply.body.errors).toEqual([{ pointer: "query:cursor", detail: "contains a NUL character" }])
      // A cursor the API never handed out is a 400 too, not a 500.
      const forged = yield* server.call("GET", "/v1/purchase-requests?cursor=AAAAAAAAAAAA", { token: ada.key })
      expect(forged.status).toBe(400)
      expect(forged.body.errors).toEqual([{ pointer: "query:cursor", detail: "unknown cursor" }])
    })
  )

  it.live("every offending field is named at once, not just the first", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const ada = yield* server.customer("Ada")
      const reply = yield* server.call("POST", "/v1/purchase-requests", {
        token: ada.key,
        headers: { "idempotency-key": "many" },
        body: { ...valid, isbn: "123", max_price: { amount: -1, currency: "EUR" }, customer: { ...valid.customer, email: "nope" } }
      })
      expect(reply.status).toBe(422)
      expect(reply.body.errors.map((error: { pointer: string }) => error.pointer)).toEqual(expect.arrayContaining(["/isbn", "/max_price/amount", "/customer/email"]))
      const query = yield* server.call("GET", "/v1/purchase-requests?limit=abc&status=lost", { token: ada.key })
      expect(query.status).toBe(422)
      expect(query.body.errors.map((error: { pointer: string }) => error.pointer)).toEqual(expect.arrayContaining(["query:limit", "query:status"]))
    })
  )

  it.live("an oversized body is a 413 problem", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start({ maxBodyBytes: 1024 })
      const ada = yield* server.customer("Ada")
      const reply = yield* server.call("POST", "/v1/purchase-requests", {
        token: ada.key,
        headers: { "idempotency-key": "big" },
        body: { ...valid, customer: { ...valid.customer, name: "x".repeat(5_000) } }
      })
      expect(reply.status).toBe(413)
      expect(reply.body.type).toBe("urn:bookbroker:problem:payload-too-large")
      // The rest of the body is never read: the connection is not reused for another request (found by the fuzz suite).
      expect(reply.headers["connection"]).toBe("close")
      expect(yield* server.count("purchase_requests")).toBe(0)
    })
  )

  it.live("ids shaped like a uuid but not one (36 dashes) are a 404 problem, never PostgreSQL's refusal as a 500", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const ada = yield* server.customer("Ada")
      for (const id of ["-".repeat(36), "0000000000000000000000000000000000-0", "g0000000-0000-0000-0000-000000000000"]) {
        for (const [method, path] of [
          ["GET", `/v1/operator/sellers/${id}`],
          ["GET", `/v1/operator/sellers/${id}/health`],
          ["POST", `/v1/operator/sellers/${id}/activate`],
          ["GET", `/v1/operator/purchase-requests/${id}`]
        ] as const) {
          const reply = yield* server.operator(method, path)
          expect({ path, status: reply.status, type: reply.headers["content-type"] }).toMatchObject({ path, status: 404, type: expect.stringMatching(/^application\/problem\+json/) })
        }
        expect((yield* server.call("GET", `/v1/purchase-requests/${id}`, { token: ada.key })).status).toBe(404)
      }
    })
  )

  it.live("bytes that are not HTTP/1.1 get a problem+json, not node's bare 400, and the server goes on", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const { port } = new URL(server.url)
      /** Sends `raw` on a fresh connection and reads until the server closes it. */
      const send = (raw: string) =>
        Effect.promise(
          () =>
            new Promise<{ status: number; contentType: string | undefined; body: { type: string; status: number; detail: string } }>((done, failed) => {
              const socket = connect(Number(port), "127.0.0.1", () => socket.write(raw, "latin1"))
              let received = ""
              socket.on("data", (chunk: Buffer) => (received += chunk.toString("utf8")))
              socket.on("error", failed)
              socket.on("close", () => {
                const [head = "", body = ""] = received.split("\r\n\r\n")
                const lines = head.split("\r\n")
                const contentType = lines.find((line) => line.toLowerCase().startsWith("content-type:"))?.slice("content-type:".length).trim()
                try {
                  done({ status: Number(lines[0]?.split(" ")[1]), contentType, body: JSON.parse(body) })
                } catch {
                  failed(new Error(`the answer has no JSON body: ${JSON.stringify(received.slice(0, 200))}`))
                }
              })
            })
        )
      const garbage = yield* send("THIS IS NOT HTTP\r\n\r\n")
      expect(garbage).toMatchObject({ status: 400, contentType: "application/problem+json", body: { type: "urn:bookbroker:problem:malformed-http", status: 400 } })
      const badHeader = yield* send("GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n")
      expect(badHeader).toMatchObject({ status: 400, body: { type: "urn:bookbroker:problem:malformed-http" } })
      // The detail is node's words, never the bytes sent.
      expect(badHeader.body.detail).not.toContain("\x01")
      const huge = yield* send(`GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`)
      expect(huge).toMatchObject({ status: 431, contentType: "application/problem+json", body: { type: "urn:bookbroker:problem:headers-too-large", status: 431 } })
      // Found by the fuzz suite: node answered these itself, with no body.
      const noHost = yield* send("GET /v1/health HTTP/1.1\r\n\r\n")
      expect(noHost).toMatchObject({ status: 400, contentType: "application/problem+json", body: { type: "urn:bookbroker:problem:missing-host", status: 400 } })
      const expectation = yield* send("POST /v1/sellers HTTP/1.1\r\nHost: x\r\nExpect: tea\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
      expect(expectation).toMatchObject({ status: 417, contentType: "application/problem+json", body: { type: "urn:bookbroker:problem:expectation-failed", status: 417 } })
      // Still serving.
      expect((yield* server.call("GET", "/v1/nothing-here")).status).toBe(404)
    })
  )

  it.live("guessing keys: after 100 failed sign-ins from one address, a 429 for any key — a right one too — for a while", () =>
    Effect.gen(function* () {
      // The default budget; refused for 5 s (10 by default) once it is gone.
      const server = yield* TestServer.start({ signInFailureLimit: { requestsPerSecond: 2, burst: 100, blockMillis: 5_000 } })
      const ada = yield* server.customer("Ada")
      // Guess until refused: the first 100 are plain 401s; the budget refills two a second while
      // they go (more on a busy machine), so the 429 comes a few guesses later (bounded).
      const statuses: Array<number> = []
      let refused: TestServer.Reply | undefined
      for (let i = 0; i < 2_000 && refused === undefined; i++) {
        const reply = yield* server.call("GET", "/v1/purchase-requests", { token: `bb_cus_guess${i}` })
        if (reply.status === 429) refused = reply
        else statuses.push(reply.status)
      }
      expect(statuses.length).toBeGreaterThanOrEqual(100)
      expect(new Set(statuses)).toEqual(new Set([401]))
      expect(refused?.status).toBe(429)
      if (refused === undefined) return
      expect(refused.headers["content-type"]).toMatch(/^application\/problem\+json/)
      expect(refused.body.detail).toMatch(/too many failed sign-ins/)
      const wait = Number(refused.headers["retry-after"])
      expect(wait).toBeGreaterThanOrEqual(1)
      // A block tells a guesser nothing: the right key is refused the same way, the operator token too.
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: ada.key })).status).toBe(429)
      expect((yield* server.operator("GET", "/v1/operator/purchase-requests")).status).toBe(429)
      yield* Effect.sleep(wait * 1000 + 100)
      expect((yield* server.call("GET", "/v1/purchase-requests", { token: ada.key })).status).toBe(200)
    })
  )

  it.live("unknown endpoints are 404 problems", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start()
      const reply = yield* server.call("GET", "/v1/nothing-here")
      expect(reply.status).toBe(404)
      expect(reply.headers["content-type"]).toMatch(/^application\/problem\+json/)
    })
  )

  it.live("a fast-check sweep of bodies never yields a 5xx, and only a valid body is stored", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.start({ customerRateLimit: { requestsPerSecond: 100_000, burst: 100_000 } })
      const ada = yield* server.customer("Ada")
      const leaf = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(isbn), fc.constantFrom("EUR", "USD", "XXX", ""))
      const mutated = fc.tuple(
        fc.constantFrom<ReadonlyArray<string>>(["isbn"], ["max_price"], ["max_price", "amount"], ["max_price", "currency"], ["payment"], ["payment", "token"], ["customer"], ["customer", "email"], ["customer", "shipping_address"], ["customer", "shipping_address", "country"]),
        fc.oneof(leaf, fc.constant(undefined), fc.dictionary(fc.string(), leaf))
      ).map(([path, value]) => withPath(path, value))
      const bodies = fc.oneof(mutated, fc.jsonValue())
      let run = 0
      let accepted = 0
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(bodies, async (candidate) => {
            run += 1
            const reply = await Effect.runPromise(
              server.call("POST", "/v1/purchase-requests", { token: ada.key, headers: { "idempotency-key": `fc-${run}` }, body: candidate })
            )
            if (reply.status === 202) accepted += 1
            return reply.status < 500 && (reply.status === 202 || (reply.status >= 400 && reply.headers["content-type"]?.startsWith("application/problem+json") === true))
          }),
          { numRuns: 150, seed: 20261122 }
        )
      )
      expect(yield* server.count("purchase_requests")).toBe(accepted)
    })
  )
})
