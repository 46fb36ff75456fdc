/** What the fan-out's parts work with: the engine's services, its tuning, and a fan-out's working records. */
import type { Contract, SellerClient } from "@bookbroker/adapter-sdk"
import type { IndexedListing, OfferIndexService } from "../inventory/OfferIndex.js"
import type { SellerStats } from "../sellers/SellerStats.js"
import type { Seller, SellerDirectoryService } from "../sellers/SellerDirectory.js"
import type { SellerPoolService } from "../sellers/SellerPool.js"
import type * as SellerSelection from "../sellers/SellerSelection.js"
import type { SharedStateService } from "../state/SharedState.js"
import type * as SellerQueue from "./SellerQueue.js"
import type { StragglerOptions } from "./QuoteTypes.js"

/** A seller to ask, with its client. */
export interface Entry {
  readonly seller: Seller
  readonly client: SellerClient.SellerClient
}

export interface Answer {
  readonly answer: Contract.QuoteResult
  readonly cached: boolean
  readonly latencyMillis: number
  /** From the offer index (absent: the seller's own answer, fresh or cached). */
  readonly indexed?: IndexedListing
}

export interface QuoteContext {
  readonly directory: SellerDirectoryService
  readonly pool: SellerPoolService
  readonly state: SharedStateService
  /** The offer index, when the engine has one. */
  readonly index: OfferIndexService | undefined
  /** What this process has seen of each seller. */
  readonly stats: SellerStats
  /** Each seller's queue within its limits. */
  readonly queues: ReturnType<typeof SellerQueue.make>
  readonly deadlineDefault: number
  readonly useCache: boolean
  readonly coalesce: boolean
  readonly cacheTtl: number
  readonly unavailableTtl: number
  /** More sellers to ask than this and only a selection is asked. */
  readonly threshold: number
  readonly waveInterval: number
  readonly stragglers: Required<StragglerOptions> | undefined
  readonly selectionOptions: SellerSelection.SelectionOptions
  readonly confirmMargin: number
}
