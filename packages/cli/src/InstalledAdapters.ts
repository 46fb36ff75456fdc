/**
 * The seller adapters `bookbroker serve` installs: the one place a new platform's adapter is
 * added (docs/writing-an-adapter.md, the last step). A seller registers with one of their
 * `kind`s; the engine's registry refuses any other.
 */
import { abeBooksAdapter } from "@bookbroker/adapter-abebooks"
import { ebayAdapter } from "@bookbroker/adapter-ebay"
import { referenceAdapter } from "@bookbroker/adapter-reference"
import type { Adapter } from "@bookbroker/adapter-sdk"
import { shelfwiseAdapter } from "@bookbroker/adapter-shelfwise"
import { shopifyAdapter } from "@bookbroker/adapter-shopify"
import { wooCommerceAdapter } from "@bookbroker/adapter-woocommerce"

export const installedAdapters: ReadonlyArray<Adapter.AnyAdapter> = [referenceAdapter, shelfwiseAdapter, wooCommerceAdapter, shopifyAdapter, ebayAdapter, abeBooksAdapter]
