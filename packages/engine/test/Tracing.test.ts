import { describe, expect, it } from "@effect/vitest"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Tracer } from "effect"
import * as Tracing from "../src/Tracing.js"

describe("Tracing", () => {
  it.live("exports spans to an OTLP/HTTP collector when an endpoint is configured", () =>
    Effect.gen(function* () {
      const received: Array<{ path: string | undefined; body: string }> = []
      const collector = createServer((req, res) => {
        let body = ""
        req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")))
        req.on("end", () => {
          received.push({ path: req.url, body })
          res.writeHead(200, { "content-type": "application/json" })
          res.end("{}")
        })
      })
      yield* Effect.promise(() => new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", () => resolve())))
      const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`

      // Closing the layer shuts the SDK down, which flushes the batch.
      yield* Effect.void.pipe(
        Effect.withSpan("Purchases.submit", { attributes: { isbn: "9780306406157" } }),
        Effect.withSpan("PurchasePipeline.process"),
        Effect.provide(Tracing.layer({ endpoint, serviceName: "bookbroker-test" }))
      )
      yield* Effect.promise(() => new Promise<void>((resolve) => collector.close(() => resolve())))
      expect(received.map((request) => request.path)).toContain("/v1/traces")
      const body = received.map((request) => request.body).join("\n")
      expect(body).toContain("Purchases.submit")
      expect(body).toContain("PurchasePipeline.process")
      expect(body).toContain("bookbroker-test")
    })
  )

  it.effect("makes no spans at all without an endpoint (nobody would see them)", () =>
    Effect.gen(function* () {
      const started: Array<string> = []
      const native = yield* Effect.tracer
      const recording = Tracer.make({
        span(options) {
          started.push(options.name)
          return native.span(options)
        }
      })
      const traced = Effect.withSpan(Effect.void, "Purchases.submit").pipe(Effect.withTracer(recording))
      yield* traced
      expect(started).toEqual(["Purchases.submit"])
      yield* Effect.provide(traced, Tracing.layer({ endpoint: undefined }))
      yield* Effect.provide(traced, Tracing.layer({ endpoint: "" }))
      expect(started).toEqual(["Purchases.submit"])
    })
  )
})
