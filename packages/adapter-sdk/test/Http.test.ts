import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@effect/vitest"
import { createHash, createHmac } from "node:crypto"
import { createServer } from "node:net"
import { Effect, Redacted } from "effect"
import { http, HttpResponse } from "msw"
import * as Http from "../src/Http.js"
import { MalformedSellerResponse, SellerRejected, SellerUnavailable } from "../src/SellerError.js"
import { serveHandlers, type HandlerServer } from "../src/testing/HandlerServer.js"

/** sha256("") in hex, written out so the canonical string is checked independently. */
const emptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

const signable = (overrides: Partial<Http.SignableRequest> = {}): Http.SignableRequest => ({
  method: "POST",
  pathAndQuery: "/api/v1/orders?dry=1",
  body: '{"a":1}',
  headers: {},
  ...overrides
})

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-03-01T12:00:00.000Z")

  it("reads delay-seconds as milliseconds", () => {
    expect(Http.parseRetryAfter("0", now)).toBe(0)
    expect(Http.parseRetryAfter("7", now)).toBe(7000)
    expect(Http.parseRetryAfter(" 120 ", now)).toBe(120_000)
  })

  it("reads an HTTP-date relative to the given now, never negative", () => {
    expect(Http.parseRetryAfter("Sat, 01 Mar 2025 12:00:30 GMT", now)).toBe(30_000)
    expect(Http.parseRetryAfter("Sat, 01 Mar 2025 12:02:00 GMT", now)).toBe(120_000)
    // The same header is read against another clock.
    expect(Http.parseRetryAfter("Sat, 01 Mar 2025 12:02:00 GMT", now + 60_000)).toBe(60_000)
    expect(Http.parseRetryAfter("Sat, 01 Mar 2025 11:59:00 GMT", now)).toBe(0)
  })

  it("is undefined when absent, empty or unreadable", () => {
    expect(Http.parseRetryAfter(undefined, now)).toBeUndefined()
    expect(Http.parseRetryAfter("", now)).toBeUndefined()
    expect(Http.parseRetryAfter("   ", now)).toBeUndefined()
    expect(Http.parseRetryAfter("garbage", now)).toBeUndefined()
    expect(Http.parseRetryAfter("5s", now)).toBeUndefined()
    // Neither delay-seconds nor an HTTP-date, though a lenient date parser reads them as dates in 2001.
    expect(Http.parseRetryAfter("1.5", now)).toBeUndefined()
    expect(Http.parseRetryAfter("-1", now)).toBeUndefined()
    expect(Http.parseRetryAfter("soon 5", now)).toBeUndefined()
  })
})

describe("parseRateLimitHeaders and waitHint", () => {
  const now = Date.parse("2025-03-01T12:00:00.000Z")

  it("reads the IETF draft combined RateLimit header, with reset relative to the given now", () => {
    const headers = { ratelimit: "limit=10, remaining=0, reset=5" }
    expect(Http.parseRateLimitHeaders(headers, now)).toEqual({ limit: 10, remaining: 0, resetMillis: 5000 })
    expect(Http.waitHint(headers, now)).toBe(5000)
  })

  it("reads the combined header case-insensitively by header name", () => {
    expect(Http.parseRateLimitHeaders({ RateLimit: "limit=100, remaining=42, reset=30" }, now)).toEqual({
      limit: 100,
      remaining: 42,
      resetMillis: 30_000
    })
  })

  it("reads split RateLimit-Limit / -Remaining / -Reset headers", () => {
    const headers = { "RateLimit-Limit": "60", "RateLimit-Remaining": "0", "RateLimit-Reset": "12" }
    expect(Http.parseRateLimitHeaders(headers, now)).toEqual({ limit: 60, remaining: 0, resetMillis: 12_000 })
    expect(Http.waitHint(headers, now)).toBe(12_000)
  })

  it("reads X-RateLimit-* headers, with a Unix-time reset taken relative to now", () => {
    const reset = String(Math.floor(now / 1000) + 20)
    const headers = { "x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset }
    expect(Http.parseRateLimitHeaders(headers, now)).toEqual({ limit: 5000, remaining: 0, resetMillis: 20_000 })
    expect(Http.waitHint(headers, now)).toBe(20_000)
    const dated = { "x-rate-limit-remaining": "0", "x-rate-limit-reset": "Sat, 01 Mar 2025 12:00:45 GMT" }
    expect(Http.parseRateLimitHeaders(dated, now)).toEqual({ remaining: 0, resetMillis: 45_000 })
  })

  it("gives no wait while the window still has requests left", () => {
    const headers = { ratelimit: "limit=10, remaining=3, reset=5" }
    expect(Http.parseRateLimitHeaders(headers, now)?.remaining).toBe(3)
    expect(Http.waitHint(headers, now)).toBeUndefined()
  })

  it("is undefined without rate-limit headers", () => {
    expect(Http.parseRateLimitHeaders({ "content-type": "application/json", "retry-after": undefined }, now)).toBeUndefined()
    expect(Http.waitHint({ "content-type": "application/json" }, now)).toBeUndefined()
  })

  it("leaves out a reset the seller did not send, instead of inventing one", () => {
    const info = Http.parseRateLimitHeaders({ ratelimit: "limit=10, remaining=0" }, now)
    expect(info).toEqual({ limit: 10, remaining: 0 })
    expect(Http.waitHint({ ratelimit: "limit=10, remaining=0" }, now)).toBeUndefined()
  })

  it("prefers Retry-After over the RateLimit window", () => {
    const headers = { "retry-after": "2", ratelimit: "limit=10, remaining=0, reset=50" }
    expect(Http.waitHint(headers, now)).toBe(2000)
    expect(Http.waitHint({ "retry-after": "Sat, 01 Mar 2025 12:00:09 GMT", "ratelimit-remaining": "0", "ratelimit-reset": "50" }, now)).toBe(9000)
  })
})

describe("auth schemes", () => {
  it("apiKeyHeader sets the (lowercased) header to the revealed key", () => {
    const secret = Redacted.make("key-123")
    const request = signable()
    Http.apiKeyHeader("X-Api-Key", secret).apply(request)
    expect(request.headers).toEqual({ "x-api-key": "key-123" })
    expect(String(secret)).not.toContain("key-123")
    const plain = signable()
    Http.apiKeyHeader("Api-Token", "plain-key").apply(plain)
    expect(plain.headers["api-token"]).toBe("plain-key")
  })

  it("bearer sets Authorization: Bearer <token>", () => {
    const request = signable()
    Http.bearer(Redacted.make("tok.en")).apply(request)
    expect(request.headers["authorization"]).toBe("Bearer tok.en")
  })

  it("basic sets Authorization: Basic base64(user:password)", () => {
    const request = signable()
    Http.basic("shop", Redacted.make("pa:ss")).apply(request)
    expect(request.headers["authorization"]).toBe(`Basic ${Buffer.from("shop:pa:ss").toString("base64")}`)
    expect(Buffer.from(request.headers["authorization"]!.slice("Basic ".length), "base64").toString()).toBe("shop:pa:ss")
  })

  it("hmacCanonicalString is METHOD, path and query, timestamp and the body's sha256, one per line", () => {
    expect(Http.hmacCanonicalString("get", "/x?y=1", "1700000000", undefined)).toBe(`GET\n/x?y=1\n1700000000\n${emptySha256}`)
    expect(Http.hmacCanonicalString("POST", "/o", "1", "")).toBe(`POST\n/o\n1\n${emptySha256}`)
    const body = '{"quote_id":"q-1"}'
    expect(Http.hmacCanonicalString("POST", "/o", "1", body)).toBe(`POST\n/o\n1\n${createHash("sha256").update(body).digest("hex")}`)
  })

  it("hmac signs with the secret over the canonical string, timestamp in whole seconds", () => {
    const secret = Redacted.make("hmac-secret")
    const request = signable()
    Http.hmac({ keyId: "key-7", secret, now: () => 1_700_000_000_999 }).apply(request)
    expect(request.headers["x-timestamp"]).toBe("1700000000")
    const canonical = `POST\n/api/v1/orders?dry=1\n1700000000\n${createHash("sha256").update('{"a":1}').digest("hex")}`
    const expected = createHmac("sha256", "hmac-secret").update(canonical).digest("hex")
    expect(request.headers["x-signature"]).toBe(`keyId=key-7,signature=${expected}`)
    expect(String(secret)).not.toContain("hmac-secret")
  })

  it("hmac signatures change with the body and the clock, and use custom header names", () => {
    const sign = (body: string | undefined, now: number) => {
      const request = signable({ body })
      Http.hmac({ keyId: "k", secret: "s", now: () => now, signatureHeader: "X-Sig", timestampHeader: "X-Time" }).apply(request)
      return request.headers
    }
    const a = sign("one", 1_000_000)
    expect(Object.keys(a).sort()).toEqual(["x-sig", "x-time"])
    expect(a["x-time"]).toBe("1000")
    expect(sign("two", 1_000_000)["x-sig"]).not.toBe(a["x-sig"])
    expect(sign("one", 2_000_000)["x-sig"]).not.toBe(a["x-sig"])
    expect(sign("one", 1_000_000)["x-sig"]).toBe(a["x-sig"])
  })
})

interface Recorded {
  readonly method: string
  readonly pathname: string
  readonly search: URLSearchParams
  readonly headers: Headers
  readonly body: string
}

describe("createSellerHttp over a real HTTP server", () => {
  const recorded: Array<Recorded> = []
  const hung: Array<() => void> = []
  let server: HandlerServer

  const record = async (request: Request) => {
    const url = new URL(request.url)
    recorded.push({ method: request.method, pathname: url.pathname, search: url.searchParams, headers: request.headers, body: await request.text() })
  }

  beforeAll(async () => {
    server = await serveHandlers([
      http.all("*/api/echo", async ({ request }) => {
        await record(request)
        return HttpResponse.json({ ok: true, n: 1 })
      }),
      http.all("*/api/status/:code", async ({ request, params }) => {
        await record(request)
        const status = Number(params["code"])
        const url = new URL(request.url)
        const headers: Record<string, string> = {}
        const retryAfter = url.searchParams.get("retryAfter")
        if (retryAfter !== null) headers["retry-after"] = retryAfter
        const rateLimit = url.searchParams.get("rateLimit")
        if (rateLimit !== null) headers["ratelimit"] = rateLimit
        if (status === 302) headers["location"] = "/api/echo"
        return HttpResponse.json({ error: "nope", status }, { status, headers })
      }),
      http.get("*/api/empty", () => new HttpResponse(null, { status: 204 })),
      http.get("*/api/html", () => HttpResponse.text("<html>oops</html>", { status: 200 })),
      http.all("*/api/drop", async ({ request }) => {
        await record(request)
        return HttpResponse.error()
      }),
      http.get("*/api/hang", async ({ request }) => {
        await record(request)
        await new Promise<void>((resolve) => hung.push(resolve))
        return HttpResponse.json({ late: true })
      })
    ])
  })

  afterAll(async () => {
    for (const release of hung) release()
    await server.close()
  })

  beforeEach(() => {
    recorded.length = 0
  })

  const api = (options: Partial<Http.SellerHttpOptions> = {}) => Http.createSellerHttp({ baseUrl: `${server.url}/api`, ...options })

  const rejection = async (call: Promise<unknown>): Promise<unknown> => {
    try {
      await call
    } catch (error) {
      return error
    }
    throw new Error("expected the call to reject")
  }

  it("sends query parameters (skipping undefined ones) under the base URL's path", async () => {
    const response = await api().request({
      operation: "quote",
      method: "GET",
      path: "/echo",
      query: { isbn: "9780306406157", page: 2, missing: undefined, q: "a b&c" }
    })
    expect(response.status).toBe(200)
    expect(response.body).toEqual({ ok: true, n: 1 })
    expect(recorded).toHaveLength(1)
    const [request] = recorded
    expect(request!.method).toBe("GET")
    expect(request!.pathname).toBe("/api/echo")
    expect(Object.fromEntries(request!.search)).toEqual({ isbn: "9780306406157", page: "2", q: "a b&c" })
    expect(request!.headers.get("accept")).toBe("application/json")
    expect(request!.headers.get("content-type")).toBeNull()
    expect(request!.headers.get("idempotency-key")).toBeNull()
  })

  it("resolves a path under the base URL as the URL parser does, plain or not", async () => {
    const paths = ["/echo", "echo", "/x/../echo", "./echo", "/a b/../echo", "/echo?from=path"]
    for (const path of paths) await api().request({ operation: "quote", method: "GET", path, query: { n: 1 } })
    expect(recorded.map((request) => request.pathname)).toEqual(paths.map(() => "/api/echo"))
    expect(recorded.map((request) => request.search.toString())).toEqual([...paths.slice(0, -1).map(() => "n=1"), "from=path&n=1"])
  })

  it("sends a JSON body with its content type, the Idempotency-Key and extra headers", async () => {
    await api({ headers: { "X-Client": "bookbroker" } }).request({
      operation: "purchase",
      method: "POST",
      path: "echo",
      json: { hold_id: "h-1", buyer_reference: "req-1" },
      idempotencyKey: "req-1:seller-1",
      headers: { "X-Trace": "t-1" }
    })
    const [request] = recorded
    expect(request!.method).toBe("POST")
    expect(request!.headers.get("content-type")).toBe("application/json")
    expect(JSON.parse(request!.body)).toEqual({ hold_id: "h-1", buyer_reference: "req-1" })
    expect(request!.headers.get("idempotency-key")).toBe("req-1:seller-1")
    expect(request!.headers.get("x-client")).toBe("bookbroker")
    expect(request!.headers.get("x-trace")).toBe("t-1")
  })

  it("returns an empty body as undefined", async () => {
    const response = await api().request({ operation: "release", method: "GET", path: "/empty" })
    expect(response).toMatchObject({ status: 204, body: undefined })
  })

  it("reveals Redacted secrets only on the wire", async () => {
    const key = Redacted.make("wire-key-1")
    await api({ auth: Http.apiKeyHeader("X-Api-Key", key) }).request({ operation: "quote", method: "GET", path: "/echo" })
    expect(recorded[0]!.headers.get("x-api-key")).toBe("wire-key-1")
    expect(String(key)).not.toContain("wire-key-1")
    expect(JSON.stringify(key)).not.toContain("wire-key-1")

    const token = Redacted.make("bearer-token-1")
    await api({ auth: Http.bearer(token) }).request({ operation: "quote", method: "GET", path: "/echo" })
    expect(recorded[1]!.headers.get("authorization")).toBe("Bearer bearer-token-1")
    expect(String(token)).not.toContain("bearer-token-1")
  })

  it("signs with HMAC over exactly what the seller receives", async () => {
    const now = 1_750_000_000_000
    await api({ auth: Http.hmac({ keyId: "kid", secret: Redacted.make("shh"), now: () => now }) }).request({
      operation: "purchase",
      method: "POST",
      path: "/echo",
      query: { x: "1" },
      json: { a: [1, 2] }
    })
    const [request] = recorded
    const timestamp = request!.headers.get("x-timestamp")!
    expect(timestamp).toBe(String(now / 1000))
    const canonical = Http.hmacCanonicalString(request!.method, `${request!.pathname}?${request!.search.toString()}`, timestamp, request!.body)
    expect(request!.headers.get("x-signature")).toBe(`keyId=kid,signature=${createHmac("sha256", "shh").update(canonical).digest("hex")}`)
  })

  it("returns expected non-2xx statuses instead of throwing", async () => {
    const response = await api().request({ operation: "quote", method: "GET", path: "/status/404", expect: [404, 409] })
    expect(response.status).toBe(404)
    expect(response.body).toEqual({ error: "nope", status: 404 })
  })

  const statusCall = (code: number, query: Record<string, string> = {}, operation: "quote" | "purchase" = "quote") =>
    rejection(api().request({ operation, method: "GET", path: `/status/${code}`, query }))

  it.each([401, 403])("maps %i to SellerRejected(auth_failed)", async (code) => {
    const error = await statusCall(code)
    expect(error).toBeInstanceOf(SellerRejected)
    expect(error).toMatchObject({ operation: "quote", reason: "auth_failed", status: code })
    expect((error as SellerRejected).message).toMatch(/credentials/)
  })

  it.each([400, 404, 422])("maps %i to SellerRejected(invalid_request)", async (code) => {
    const error = await statusCall(code)
    expect(error).toBeInstanceOf(SellerRejected)
    expect(error).toMatchObject({ reason: "invalid_request", status: code })
    expect((error as SellerRejected).detail).toContain(String(code))
  })

  it("maps 408 to SellerUnavailable(timeout) that may have been processed", async () => {
    const error = await statusCall(408, {}, "purchase")
    expect(error).toBeInstanceOf(SellerUnavailable)
    expect(error).toMatchObject({ operation: "purchase", reason: "timeout", status: 408, mayHaveBeenProcessed: true })
  })

  it("maps 409 to SellerUnavailable(conflict)", async () => {
    const error = await statusCall(409)
    expect(error).toBeInstanceOf(SellerUnavailable)
    expect(error).toMatchObject({ reason: "conflict", status: 409, mayHaveBeenProcessed: false })
  })

  it("maps 429 to SellerUnavailable(rate_limited) with the wait from Retry-After", async () => {
    const error = await statusCall(429, { retryAfter: "7" })
    expect(error).toBeInstanceOf(SellerUnavailable)
    expect(error).toMatchObject({ reason: "rate_limited", status: 429, retryAfterMillis: 7000, mayHaveBeenProcessed: false })
    expect((error as SellerUnavailable).retryable).toBe(true)
  })

  it("maps 429 with a RateLimit header to rate_limited with the window's reset", async () => {
    const error = await statusCall(429, { rateLimit: "limit=10, remaining=0, reset=3" })
    expect(error).toMatchObject({ _tag: "SellerUnavailable", reason: "rate_limited" })
    expect((error as SellerUnavailable).retryAfterMillis).toBe(3000)
  })

  it("maps 429 with an unreadable rate-limit wait to rate_limited without a wait", async () => {
    const error = await statusCall(429, { rateLimit: "limit=10, remaining=0" })
    expect(error).toBeInstanceOf(SellerUnavailable)
    expect(error).toMatchObject({ reason: "rate_limited", status: 429 })
    expect((error as SellerUnavailable).retryAfterMillis).toBeUndefined()
  })

  it.each([500, 503])("maps %i to SellerUnavailable(server_error) that may have been processed", async (code) => {
    const error = await statusCall(code, { retryAfter: "3" }, "purchase")
    expect(error).toBeInstanceOf(SellerUnavailable)
    expect(error).toMatchObject({ reason: "server_error", status: code, mayHaveBeenProcessed: true, retryAfterMillis: 3000 })
  })

  it.each([302, 418])("maps an unexpected %i to MalformedSellerResponse", async (code) => {
    const error = await statusCall(code)
    expect(error).toBeInstanceOf(MalformedSellerResponse)
    expect((error as MalformedSellerResponse).detail).toContain(String(code))
    // A redirect is not followed.
    expect(recorded).toHaveLength(1)
  })

  it("maps a 200 whose body is not JSON to MalformedSellerResponse", async () => {
    const error = await rejection(api().request({ operation: "quote", method: "GET", path: "/html" }))
    expect(error).toBeInstanceOf(MalformedSellerResponse)
    expect((error as MalformedSellerResponse).detail).toContain("not JSON")
  })

  it("maps a refused connection to SellerUnavailable(transport) that was not processed", async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve))
    const { port } = closed.address() as { port: number }
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const error = await rejection(
      Http.createSellerHttp({ baseUrl: `http://127.0.0.1:${port}` }).request({ operation: "purchase", method: "POST", path: "/orders", json: {} })
    )
    expect(error).toBeInstanceOf(SellerUnavailable)
    expect(error).toMatchObject({ operation: "purchase", reason: "transport", mayHaveBeenProcessed: false })
    expect((error as SellerUnavailable).detail).toContain("ECONNREFUSED")
  })

  it("maps a connection dropped after the request to SellerUnavailable(transport) that may have been processed", async () => {
    const error = await rejection(
      api().request({ operation: "purchase", method: "POST", path: "/drop", json: { hold_id: "h-1" }, idempotencyKey: "k-1" })
    )
    expect(recorded).toHaveLength(1)
    expect(recorded[0]!.headers.get("idempotency-key")).toBe("k-1")
    expect(error).toBeInstanceOf(SellerUnavailable)
    expect(error).toMatchObject({ operation: "purchase", reason: "transport", mayHaveBeenProcessed: true })
  })

  it("maps an aborted signal to SellerUnavailable(timeout)", async () => {
    const controller = new AbortController()
    const call = api().request({ operation: "quote", method: "GET", path: "/hang", signal: controller.signal })
    const settled = rejection(call)
    await expect.poll(() => recorded.length).toBe(1)
    controller.abort()
    const error = await settled
    expect(error).toBeInstanceOf(SellerUnavailable)
    expect(error).toMatchObject({ operation: "quote", reason: "timeout", mayHaveBeenProcessed: true })
  })

  it("maps an already aborted signal to SellerUnavailable(timeout)", async () => {
    const error = await rejection(api().request({ operation: "quote", method: "GET", path: "/echo", signal: AbortSignal.abort() }))
    expect(error).toBeInstanceOf(SellerUnavailable)
    expect(error).toMatchObject({ reason: "timeout" })
  })
})

describe("pathSegment and the Effect form", () => {
  it("encodes values and refuses segments that would change the path", () => {
    expect(Http.pathSegment("req-42:shelfwise/eu 1")).toBe("req-42%3Ashelfwise%2Feu%201")
    for (const bad of ["", ".", ".."]) expect(() => Http.pathSegment(bad)).toThrow(/cannot be a path segment/)
  })

  it.live("Http.effect fails with seller errors and aborts the call on interruption", () =>
    Effect.gen(function* () {
      const api = Http.effect(Http.createSellerHttp({ baseUrl: "http://127.0.0.1:1" }))
      const error = yield* Effect.flip(api.request({ operation: "quote", method: "GET", path: "/x" }))
      expect(error).toMatchObject({ _tag: "SellerUnavailable", reason: "transport", mayHaveBeenProcessed: false })
    })
  )
})
