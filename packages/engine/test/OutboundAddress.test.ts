/**
 * Where bookbroker may send requests on a customer's say-so: public addresses only, unless the
 * operator allowed a network; every spelling of a private address refused; names checked again
 * when they are resolved.
 */
import { describe, expect, it } from "@effect/vitest"
import * as OutboundAddress from "../src/outbound/OutboundAddress.js"

const none: OutboundAddress.OutboundPolicyService = { allowNetworks: [] }
const verdict = (url: string, policy = none) => {
  const checked = OutboundAddress.checkUrl(url, policy)
  return checked._tag === "Allowed" ? "allowed" : checked.reason
}

describe("OutboundAddress.checkUrl", () => {
  it("allows public http(s) URLs by name or by public address", () => {
    expect(verdict("https://hooks.example.com/bookbroker")).toBe("allowed")
    expect(verdict("http://93.184.215.14:8080/x")).toBe("allowed")
    expect(verdict("https://[2606:4700:4700::1111]/x")).toBe("allowed")
  })

  it.each([
    ["http://127.0.0.1:6379/", "127.0.0.1"],
    ["http://0x7f.1/", "127.0.0.1"],
    ["http://2130706433/", "127.0.0.1"],
    ["http://0177.0.0.1/", "127.0.0.1"],
    ["http://[::1]:5432/", "::1"],
    ["http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"],
    ["http://10.0.0.7/", "10.0.0.7"],
    ["http://192.168.1.1/", "192.168.1.1"],
    ["http://169.254.169.254/latest/meta-data/", "169.254.169.254"],
    ["http://[fe80::1]/", "fe80::1"],
    ["http://[fd00::1]/", "fd00::1"],
    ["http://0.0.0.0/", "0.0.0.0"],
    ["http://100.64.0.1/", "100.64.0.1"]
  ])("refuses %s: not a public address", (url, host) => {
    expect(verdict(url)).toBe(`points at ${host}, which is not a public address`)
  })

  it("refuses localhost names, other schemes, credentials and nonsense", () => {
    expect(verdict("http://localhost:8080/")).toBe("points at localhost, which is not a public address")
    expect(verdict("http://api.localhost/")).toBe("points at api.localhost, which is not a public address")
    expect(verdict("file:///etc/passwd")).toBe('uses "file:": only http and https are allowed')
    expect(verdict("gopher://example.com/")).toBe('uses "gopher:": only http and https are allowed')
    expect(verdict("https://user:pass@example.com/")).toBe("carries credentials (user:password@): put secrets elsewhere")
    expect(verdict("not a url")).toBe("is not an absolute URL")
  })

  it("allows exactly the networks the operator listed", () => {
    expect(verdict("http://127.0.0.1:9000/", OutboundAddress.loopback)).toBe("allowed")
    expect(verdict("http://[::1]:9000/", OutboundAddress.loopback)).toBe("allowed")
    expect(verdict("http://localhost:9000/", OutboundAddress.loopback)).toBe("allowed")
    expect(verdict("http://10.0.0.7/", OutboundAddress.loopback)).toBe("points at 10.0.0.7, which is not a public address")
    expect(verdict("http://10.1.2.3/", { allowNetworks: ["10.0.0.0/8"] })).toBe("allowed")
    expect(() => verdict("http://10.1.2.3/", { allowNetworks: ["ten"] })).toThrow(/"ten" is not a CIDR range/)
  })
})

describe("OutboundAddress.guardedLookup", () => {
  const resolve = (hostname: string, policy: OutboundAddress.OutboundPolicyService) =>
    new Promise<string>((done) =>
      OutboundAddress.guardedLookup(policy)(hostname, {}, (error, address) => done(error === null ? String(address) : error.message))
    )

  it("refuses to connect when a name resolves to an address the policy does not allow (no DNS rebinding)", async () => {
    expect(await resolve("localhost", none)).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), which is not a public address; not connecting$/)
  })

  it("connects when every address of the name is allowed", async () => {
    expect(await resolve("localhost", OutboundAddress.loopback)).toMatch(/^(127\.0\.0\.1|::1)$/)
  })
})

describe("OutboundAddress.checkConfigUrls", () => {
  it("checks every URL-looking string of an adapter config, at any depth, and points at each refused one", () => {
    const config = {
      baseUrl: "http://127.0.0.1:6379",
      currency: "EUR",
      nested: { feeds: ["https://feeds.example.com/a.tsv", "file:///etc/passwd"], metadata: "http://169.254.169.254/latest" },
      "odd/key": "http://user:secret@shop.example.com/",
      note: "no URL here: just text"
    }
    expect(OutboundAddress.checkConfigUrls(config, none)).toEqual([
      { pointer: "/baseUrl", url: "http://127.0.0.1:6379", reason: "points at 127.0.0.1, which is not a public address" },
      { pointer: "/nested/feeds/1", url: "file:///etc/passwd", reason: 'uses "file:": only http and https are allowed' },
      { pointer: "/nested/metadata", url: "http://169.254.169.254/latest", reason: "points at 169.254.169.254, which is not a public address" },
      // The password is not repeated in the refusal.
      { pointer: "/odd~1key", url: "http://***@shop.example.com/", reason: "carries credentials (user:password@): put secrets elsewhere" }
    ])
  })

  it("finds nothing to refuse in a public config, or where the operator allowed the network", () => {
    expect(OutboundAddress.checkConfigUrls({ baseUrl: "https://api.seller.example", shop: "books.myshopify.com" }, none)).toEqual([])
    expect(OutboundAddress.checkConfigUrls({ baseUrl: "http://127.0.0.1:4010" }, OutboundAddress.loopback)).toEqual([])
  })
})

describe("OutboundAddress.guardedConnector", () => {
  /** A TCP listener on 127.0.0.1 that counts the connections it accepted. */
  const listener = async () => {
    const { createServer } = await import("node:net")
    let accepted = 0
    const server = createServer((socket) => {
      accepted += 1
      socket.destroy()
    })
    await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready))
    const port = (server.address() as { port: number }).port
    return { port, accepted: () => accepted, close: () => new Promise<void>((done) => server.close(() => done())) }
  }
  const connect = (policy: OutboundAddress.OutboundPolicyService, hostname: string, port: number) =>
    new Promise<string>((done) =>
      OutboundAddress.guardedConnector(policy, { timeout: 5_000 })({ hostname, protocol: "http:", port: String(port) }, (error, socket) => {
        if (error !== null) return done(`${(error as { code?: string }).code}: ${error.message}`)
        socket!.destroy()
        done("connected")
      })
    )

  it("refuses an IP literal the policy does not allow before opening a connection (the OS never looks literals up)", async () => {
    const server = await listener()
    try {
      expect(await connect(none, "127.0.0.1", server.port)).toBe("EADDRNOTALLOWED: 127.0.0.1 is not a public address; not connecting")
      expect(await connect(none, "[::ffff:127.0.0.1]", server.port)).toMatch(/^EADDRNOTALLOWED: /)
      expect(await connect(none, "localhost", server.port)).toMatch(/^EADDRNOTALLOWED: localhost resolves to/)
      expect(server.accepted()).toBe(0)
      expect(await connect(OutboundAddress.loopback, "127.0.0.1", server.port)).toBe("connected")
    } finally {
      await server.close()
    }
  })
})
