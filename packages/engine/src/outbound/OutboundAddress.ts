/**
 * Where bookbroker may send requests on someone else's say-so (a customer's `notify_url`, a
 * seller's base URL — every URL in a seller's adapter config —, later a feed URL): only to public
 * addresses, unless the operator allowed a network (the demo and the tests allow 127.0.0.1).
 * Checked twice: when the URL is given (`checkUrl`, `checkConfigUrls`: scheme, no credentials in
 * it, an IP literal in a private range — in any of the spellings the URL parser normalises,
 * `0x7f.1`, `[::ffff:127.0.0.1]`, …) and when connecting (`guardedConnector`: an IP literal, and
 * every address a name resolves to, so a name that resolves — or later re-resolves — to a
 * private address is refused: no DNS rebinding).
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions, type LookupOptions } from "node:dns"
import { Context, Layer } from "effect"
import ipaddr from "ipaddr.js"
import { buildConnector } from "undici"

export interface OutboundPolicyService {
  /** CIDR ranges the operator allows besides public addresses, e.g. `["127.0.0.0/8", "::1/128"]`. */
  readonly allowNetworks: ReadonlyArray<string>
}

/** The operator's outbound policy; by default only public addresses. */
export const OutboundPolicy = Context.Reference<OutboundPolicyService>("@bookbroker/engine/OutboundPolicy", {
  defaultValue: () => ({ allowNetworks: [] })
})

/** Loopback only: what the demo and the tests allow (their sellers and receivers run on this machine). */
export const loopback: OutboundPolicyService = { allowNetworks: ["127.0.0.0/8", "::1/128"] }

/** The `loopback` policy as a layer, for tests and benches whose sellers run on this machine. */
export const layerLoopback: Layer.Layer<never> = Layer.succeed(OutboundPolicy, loopback)

type Parsed = ipaddr.IPv4 | ipaddr.IPv6

const parseNetworks = (networks: ReadonlyArray<string>): ReadonlyArray<[Parsed, number]> =>
  networks.map((network) => {
    try {
      return ipaddr.parseCIDR(network)
    } catch {
      throw new Error(`outbound policy: "${network}" is not a CIDR range (e.g. 10.0.0.0/8)`)
    }
  })

/** True for a CIDR range such as `10.0.0.0/8` or `::1/128`. */
export const isNetwork = (network: string): boolean => {
  try {
    ipaddr.parseCIDR(network)
    return true
  } catch {
    return false
  }
}

/** An IPv4-mapped IPv6 address is judged as the IPv4 address it carries. */
const normalise = (address: Parsed): Parsed => (address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address)

/** True for an address anyone on the internet could reach: not loopback, private, link-local, reserved, … */
export const isPublic = (address: string): boolean => {
  if (!ipaddr.isValid(address)) return false
  return normalise(ipaddr.parse(address)).range() === "unicast"
}

/** True when the policy lets bookbroker connect to `address` (an IP address). */
export const allowsAddress = (policy: OutboundPolicyService, address: string): boolean => {
  if (!ipaddr.isValid(address)) return false
  const parsed = normalise(ipaddr.parse(address))
  if (parsed.range() === "unicast") return true
  return parseNetworks(policy.allowNetworks).some(([network, bits]) => network.kind() === parsed.kind() && parsed.match(network, bits))
}

export type UrlCheck = { readonly _tag: "Allowed"; readonly url: URL } | { readonly _tag: "Refused"; readonly reason: string }

/**
 * The URL as given: absolute http(s), no `user:pass@`, and a host that is a name or an allowed
 * address. A name is checked again when it is resolved (`guardedLookup`).
 */
export const checkUrl = (raw: string, policy: OutboundPolicyService): UrlCheck => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return { _tag: "Refused", reason: "is not an absolute URL" }
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { _tag: "Refused", reason: `uses "${url.protocol}": only http and https are allowed` }
  if (url.username !== "" || url.password !== "") return { _tag: "Refused", reason: "carries credentials (user:password@): put secrets elsewhere" }
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
  if (host === "") return { _tag: "Refused", reason: "has no host" }
  if (ipaddr.isValid(host)) {
    return allowsAddress(policy, host) ? { _tag: "Allowed", url } : { _tag: "Refused", reason: `points at ${host}, which is not a public address` }
  }
  if (host === "localhost" || host.endsWith(".localhost")) {
    return allowsAddress(policy, "127.0.0.1") ? { _tag: "Allowed", url } : { _tag: "Refused", reason: `points at ${host}, which is not a public address` }
  }
  return { _tag: "Allowed", url }
}

/** Raised by `guardedLookup` when a name resolves to an address the policy does not allow. */
export class AddressNotAllowed extends Error {
  readonly code = "EADDRNOTALLOWED"
  constructor(readonly hostname: string, readonly address: string) {
    super(`${hostname === address ? address : `${hostname} resolves to ${address}, which`} is not a public address; not connecting`)
  }
}

/** A URL-looking string in a config: `scheme://…`, or a scheme that names no network at all. */
const urlLike = /^(?:[a-z][a-z0-9+.-]*:\/\/|(?:file|data|javascript|jar|unix):)/i

export interface ConfigUrlProblem {
  /** JSON pointer into the config, e.g. `/baseUrl`. */
  readonly pointer: string
  readonly url: string
  readonly reason: string
}

/**
 * Every URL in an adapter config (any string value, at any depth, that looks like one), checked
 * as `checkUrl` checks a notify_url. An adapter's config is its own shape, so the check does not
 * guess field names: a URL anywhere in it is where the adapter will send requests.
 */
export const checkConfigUrls = (config: unknown, policy: OutboundPolicyService): ReadonlyArray<ConfigUrlProblem> => {
  const problems: Array<ConfigUrlProblem> = []
  const pending: Array<{ readonly value: unknown; readonly pointer: string }> = [{ value: config, pointer: "" }]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value, pointer } = next
    if (typeof value === "string") {
      if (!urlLike.test(value.trim())) continue
      const checked = checkUrl(value.trim(), policy)
      // The URL is repeated in the refusal without any `user:password@` in it (never echo a secret).
      if (checked._tag === "Refused") problems.push({ pointer: pointer === "" ? "/" : pointer, url: value.trim().replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1***@").slice(0, 200), reason: checked.reason })
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => pending.push({ value: item, pointer: `${pointer}/${index}` }))
    } else if (typeof value === "object" && value !== null) {
      for (const [key, item] of Object.entries(value)) pending.push({ value: item, pointer: `${pointer}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}` })
    }
  }
  return problems.sort((a, b) => a.pointer.localeCompare(b.pointer))
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | Array<LookupAddress>, family?: number) => void

/**
 * A `dns.lookup` for `net.connect` (undici's `connect.lookup`) that refuses to connect when any
 * address of the name is not allowed.
 */
export const guardedLookup =
  (policy: OutboundPolicyService) =>
  (hostname: string, options: LookupOptions | LookupOneOptions | LookupAllOptions | number, callback: LookupCallback): void => {
    const opts: LookupOptions = typeof options === "number" ? { family: options } : options
    dnsLookup(hostname, { ...opts, all: true }, (error, addresses) => {
      if (error !== null) return callback(error, [])
      const refused = addresses.find((entry) => !allowsAddress(policy, entry.address))
      if (refused !== undefined) return callback(new AddressNotAllowed(hostname, refused.address) as unknown as NodeJS.ErrnoException, [])
      if (opts.all === true) return callback(null, addresses)
      const first = addresses[0]!
      callback(null, first.address, first.family)
    })
  }

const bare = (hostname: string) => (hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname)

/**
 * An undici `connect` that refuses, before any byte is sent, a host the policy does not allow: an
 * IP literal at once (the OS never looks those up), a name once it resolves (`guardedLookup`).
 * The refusal is an `AddressNotAllowed` (code `EADDRNOTALLOWED`): nothing was sent.
 */
export const guardedConnector = (policy: OutboundPolicyService, options: buildConnector.BuildOptions = {}): buildConnector.connector => {
  const connect = buildConnector({ ...options, lookup: guardedLookup(policy) } as buildConnector.BuildOptions)
  return (target, callback) => {
    const host = bare(target.hostname)
    if (ipaddr.isValid(host) && !allowsAddress(policy, host)) {
      callback(new AddressNotAllowed(host, host), null)
      return
    }
    connect(target, callback)
  }
}
