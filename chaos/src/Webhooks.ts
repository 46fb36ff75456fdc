/**
 * A customer's webhook receiver on 127.0.0.1 for the chaos scenarios: checks every delivery's
 * Standard Webhooks signature with the shared secret, answers the first delivery of a message
 * with a 500 now and then (the dispatcher must retry: same `webhook-id`, same bytes), and keeps
 * what arrived for the checker.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Webhook } from "standardwebhooks"

export interface Delivery {
  readonly msgId: string
  readonly requestId: string
  readonly status: string
  /** The body's `timestamp`: when the event was written (receivers order one request's events by it). */
  readonly timestamp: string
}

export interface WebhookReceiver {
  readonly url: string
  /** Deliveries answered 2xx, with a valid signature. */
  readonly delivered: () => ReadonlyArray<Delivery>
  /** Deliveries whose signature did not verify (each answered 400). */
  readonly badSignatures: () => number
  /** First deliveries answered 500 on purpose. */
  readonly refused: () => number
  readonly close: () => Promise<void>
}

export const startReceiver = async (secret: string, options: { readonly failFirstRate: number; readonly random: () => number }): Promise<WebhookReceiver> => {
  const webhook = new Webhook(secret)
  const delivered: Array<Delivery> = []
  const seen = new Set<string>()
  let badSignatures = 0
  let refused = 0
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8")
      const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(",") : (value ?? "")]))
      let payload: { timestamp?: string; data?: { id?: string; status?: string } }
      try {
        payload = webhook.verify(body, headers) as typeof payload
      } catch {
        badSignatures += 1
        res.writeHead(400).end()
        return
      }
      const msgId = headers["webhook-id"] ?? ""
      if (!seen.has(msgId)) {
        seen.add(msgId)
        if (options.random() < options.failFirstRate) {
          refused += 1
          res.writeHead(500).end()
          return
        }
      }
      delivered.push({ msgId, requestId: payload.data?.id ?? "", status: payload.data?.status ?? "", timestamp: payload.timestamp ?? "" })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    delivered: () => delivered,
    badSignatures: () => badSignatures,
    refused: () => refused,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}
