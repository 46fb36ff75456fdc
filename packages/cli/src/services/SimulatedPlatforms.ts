/**
 * Simulated sellers on each platform bookbroker has an adapter for — the reference seller API,
 * a WooCommerce shop, a Shopify shop — as `serve --demo` and `simulate` start them: the msw
 * handlers to serve over HTTP on 127.0.0.1, and the adapter kind, config and credentials to
 * register the seller with.
 */
import { referenceSellerHandlers, type SellerSimulator } from "@bookbroker/adapter-sdk/testing"
import { shopifyShopHandlers } from "@bookbroker/adapter-shopify/testing"
import { wooCommerceShopHandlers } from "@bookbroker/adapter-woocommerce/testing"

export type Platform = "reference" | "woocommerce" | "shopify"

export interface SimulatedShop {
  readonly kind: string
  readonly handlers: ReturnType<typeof referenceSellerHandlers>
  readonly config: (baseUrl: string) => Record<string, unknown>
  readonly credentials: Record<string, string>
}

/** The shop for `simulator` on `platform`; `key` is the seller's secret (the simulator's `apiKey`). */
export const shop = (
  platform: Platform,
  simulator: SellerSimulator,
  options: { readonly name: string; readonly key: string; readonly mode: "hold" | "atomic"; readonly batch: boolean }
): SimulatedShop => {
  switch (platform) {
    case "woocommerce":
      return {
        kind: "woocommerce",
        handlers: wooCommerceShopHandlers(simulator, { consumerKey: `ck_${options.name}` }),
        // The simulated shop's quotes live 60 s: the adapter's quote window is no longer.
        config: (baseUrl) => ({ baseUrl, quoteTtlSeconds: 60 }),
        credentials: { consumerKey: `ck_${options.name}`, consumerSecret: options.key }
      }
    case "shopify":
      return {
        kind: "shopify",
        handlers: shopifyShopHandlers(simulator),
        config: (baseUrl) => ({ shopUrl: baseUrl, quoteTtlSeconds: 60 }),
        credentials: { accessToken: options.key }
      }
    case "reference":
      return {
        kind: "reference",
        handlers: referenceSellerHandlers(simulator, { mode: options.mode, batch: options.batch }),
        config: (baseUrl) => ({ baseUrl, currency: "EUR", mode: options.mode, batch: options.batch }),
        credentials: { apiKey: options.key }
      }
  }
}
