/**
 * The peer baseline for `intake.ts`: a minimal fastify server doing bookbroker's intake job —
 * bearer key, Idempotency-Key header, the same body validated by JSON schema, the same row (and
 * its `received` transition) inserted with group commit — and the status read, over plain `pg`,
 * in its own throw-away database migrated with the engine's schema. Same stdin protocol as
 * `intake-server.ts`: prints `{ url, key }`, answers `stats` (`{ rows, cpuMicros }`), stops when stdin closes.
 */
import { Database } from "@bookbroker/engine"
import { TestDatabase } from "@bookbroker/engine/testing"
import { Effect, Exit, Layer, Scope } from "effect"
import Fastify from "fastify"
import { createHash, randomBytes, randomUUID } from "node:crypto"
import { createInterface } from "node:readline"
import pg from "pg"

// A throw-away database with the engine's schema (setup only: nothing Effect on the request path).
const scope = Effect.runSync(Scope.make())
const { url } = await Effect.runPromise(
  Scope.provide(
    Effect.gen(function* () {
      const database = yield* TestDatabase.scopedDatabase("bb_bench_fastify")
      yield* Effect.orDie(Layer.buildWithScope(Database.layer({ url: database.url, maxConnections: 1 }), scope))
      return database
    }),
    scope
  )
)
const pool = new pg.Pool({ connectionString: url, max: 20 })

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex")
const customerId = randomUUID()
const key = `bb_cus_${randomBytes(32).toString("base64url")}`
const keyDigest = sha256(key)

interface Body {
  isbn: string
  max_price: { amount: number; currency: string }
  payment: { token: string }
  customer: { name: string; email: string; shipping_address: { line1: string; line2?: string; city: string; postal_code?: string; country: string } }
  notify_url?: string
}
interface Accepted {
  id: string
  status: string
}
interface Pending {
  readonly row: Record<string, unknown> & { id: string; idempotency_key: string; request_hash: string }
  readonly resolve: (accepted: Accepted) => void
  readonly reject: (error: unknown) => void
}

// Group commit: as in the engine, up to 4 statements in flight, each taking up to 256 waiting rows.
const maxBatch = 256
const writers = 4
const queue: Array<Pending> = []
let active = 0
const insert = `
  WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
      id uuid, customer_id text, idempotency_key text, request_hash text, isbn text, currency text,
      max_amount bigint, payment_token text, customer jsonb, notify_url text)
  ), created AS (
    INSERT INTO purchase_requests (id, customer_id, idempotency_key, request_hash, isbn, currency, original_max, max_amount,
                                   payment_token, customer, notify_url, status)
    SELECT id, customer_id, idempotency_key, request_hash, isbn, currency, max_amount, max_amount,
           payment_token, customer, notify_url, 'received'
    FROM input
    ON CONFLICT (customer_id, idempotency_key) DO NOTHING
    RETURNING id, idempotency_key, status
  ), transition AS (
    INSERT INTO state_transitions (request_id, from_status, to_status, actor, reason)
    SELECT id, NULL, 'received', 'intake', NULL FROM created
  )
  SELECT id FROM created`
const flush = async (batch: ReadonlyArray<Pending>) => {
  try {
    const created = await pool.query<{ id: string }>(insert, [JSON.stringify(batch.map((pending) => pending.row))])
    const ids = new Set(created.rows.map((row) => row.id))
    const replays = batch.filter((pending) => !ids.has(pending.row.id))
    const existing = new Map<string, { id: string; status: string; request_hash: string }>()
    if (replays.length > 0) {
      const found = await pool.query<{ id: string; status: string; request_hash: string; idempotency_key: string }>(
        "SELECT id, status, request_hash, idempotency_key FROM purchase_requests WHERE customer_id = $1 AND idempotency_key = ANY($2)",
        [customerId, replays.map((pending) => pending.row.idempotency_key)]
      )
      for (const row of found.rows) existing.set(row.idempotency_key, row)
    }
    for (const pending of batch) {
      if (ids.has(pending.row.id)) pending.resolve({ id: pending.row.id, status: "received" })
      else {
        const found = existing.get(pending.row.idempotency_key)
        if (found === undefined) pending.reject(new Error("neither created nor found"))
        else if (found.request_hash !== pending.row.request_hash) pending.reject(Object.assign(new Error("Idempotency-Key reused"), { statusCode: 409 }))
        else pending.resolve(found)
      }
    }
  } catch (error) {
    for (const pending of batch) pending.reject(error)
  }
}
const pump = () => {
  while (active < writers && queue.length > 0) {
    active += 1
    void flush(queue.splice(0, maxBatch)).finally(() => {
      active -= 1
      pump()
    })
  }
}
const submit = (row: Pending["row"]) =>
  new Promise<Accepted>((resolve, reject) => {
    queue.push({ row, resolve, reject })
    pump()
  })

const text = (max: number) => ({ type: "string", minLength: 1, maxLength: max })
const bodySchema = {
  type: "object",
  required: ["isbn", "max_price", "payment", "customer"],
  properties: {
    isbn: { type: "string", minLength: 10, maxLength: 17 },
    max_price: {
      type: "object",
      required: ["amount", "currency"],
      properties: { amount: { type: "integer", exclusiveMinimum: 0, maximum: 100_000_000 }, currency: { type: "string", pattern: "^[A-Z]{3}$" } }
    },
    payment: { type: "object", required: ["token"], properties: { token: text(255) } },
    customer: {
      type: "object",
      required: ["name", "email", "shipping_address"],
      properties: {
        name: text(200),
        email: { type: "string", maxLength: 254, pattern: "^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$" },
        shipping_address: {
          type: "object",
          required: ["line1", "city", "country"],
          properties: { line1: text(200), line2: text(200), city: text(100), postal_code: text(20), country: { type: "string", pattern: "^[A-Z]{2}$" } }
        }
      }
    },
    notify_url: { type: "string", maxLength: 2048, format: "uri" }
  }
} as const

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 })

const authorized = (header: string | undefined) => header !== undefined && header.startsWith("Bearer ") && sha256(header.slice(7)) === keyDigest

app.post<{ Body: Body }>(
  "/v1/purchase-requests",
  {
    schema: {
      body: bodySchema,
      headers: { type: "object", required: ["idempotency-key"], properties: { "idempotency-key": { type: "string", minLength: 1, maxLength: 255 } } },
      response: { 202: { type: "object", properties: { id: { type: "string" }, status: { type: "string" }, status_url: { type: "string" } } } }
    },
    onRequest: async (request, reply) => {
      if (!authorized(request.headers.authorization)) return reply.code(401).send({ title: "Unauthorized" })
    }
  },
  async (request, reply) => {
    const body = request.body
    const idempotencyKey = request.headers["idempotency-key"] as string
    const customer = { name: body.customer.name, email: body.customer.email, shipping_address: body.customer.shipping_address }
    const hash = sha256(JSON.stringify([body.isbn, body.max_price.amount, body.max_price.currency, body.payment.token, customer.name, customer.email, customer.shipping_address, body.notify_url ?? null]))
    const accepted = await submit({
      id: randomUUID(),
      customer_id: customerId,
      idempotency_key: idempotencyKey,
      request_hash: hash,
      isbn: body.isbn.replaceAll("-", ""),
      currency: body.max_price.currency,
      max_amount: body.max_price.amount,
      payment_token: body.payment.token,
      customer,
      notify_url: body.notify_url ?? null
    })
    return reply.code(202).send({ id: accepted.id, status: accepted.status, status_url: `/v1/purchase-requests/${accepted.id}` })
  }
)

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const money = (amount: unknown, currency: string) => (amount === null ? null : { amount: Number(amount), currency })

app.get<{ Params: { id: string } }>(
  "/v1/purchase-requests/:id",
  {
    onRequest: async (request, reply) => {
      if (!authorized(request.headers.authorization)) return reply.code(401).send({ title: "Unauthorized" })
    }
  },
  async (request, reply) => {
    const id = request.params.id
    if (!uuidPattern.test(id)) return reply.code(404).send({ title: "Not Found" })
    // The same two reads as the engine: the request, then its attempts.
    const found = await pool.query("SELECT * FROM purchase_requests WHERE id = $1", [id])
    const row = found.rows[0]
    if (row === undefined || row.customer_id !== customerId) return reply.code(404).send({ title: "Not Found" })
    const attempts = await pool.query("SELECT * FROM purchase_attempts WHERE request_id = $1 ORDER BY round, rank", [id])
    const currency = String(row.currency).trim()
    return {
      id: row.id,
      status: row.status,
      terminal: ["purchased", "price_not_met", "not_available", "sellers_busy", "failed"].includes(row.status),
      isbn: row.isbn,
      max_price: money(row.max_amount, currency),
      reason: row.reason,
      final_price: money(row.final_amount, currency),
      seller_id: row.seller_id,
      order_id: row.order_id,
      counter_offer: row.counter_offer,
      attempts: attempts.rows.map((attempt) => ({
        seller_id: attempt.seller_id,
        seller_name: attempt.seller_name,
        rank: attempt.rank,
        status: attempt.status,
        reason: attempt.reason,
        order_id: attempt.order_id,
        total: money(attempt.order_total, currency)
      })),
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
      completed_at: row.completed_at === null ? null : row.completed_at.toISOString()
    }
  }
)

const address = await app.listen({ port: 0, host: "127.0.0.1" })
process.stdout.write(`${JSON.stringify({ url: address, key })}\n`)
const lines = createInterface({ input: process.stdin })
lines.on("line", (line) => {
  if (line.trim() !== "stats") return
  const cpu = process.cpuUsage()
  pool.query<{ n: string }>("SELECT count(*)::text AS n FROM purchase_requests").then(
    (result) => process.stdout.write(`${JSON.stringify({ rows: Number(result.rows[0]!.n), cpuMicros: cpu.user + cpu.system })}\n`),
    (error: unknown) => process.stdout.write(`${JSON.stringify({ error: String(error) })}\n`)
  )
})
lines.on("close", () => {
  void (async () => {
    await app.close()
    await pool.end()
    await Effect.runPromise(Scope.close(scope, Exit.void))
    process.exit(0)
  })()
})
