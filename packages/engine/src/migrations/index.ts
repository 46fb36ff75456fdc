/**
 * Every schema migration, in order. Add a file `NNNN_name.ts` and list it here; never edit one
 * that has shipped.
 */
import sellers from "./0001_sellers.js"
import purchases from "./0002_purchases.js"
import reconciliation from "./0003_reconciliation.js"
import access from "./0004_access.js"
import attention from "./0005_attention.js"
import answerBudget from "./0006_answer_budget.js"
import paymentTokens from "./0007_payment_tokens.js"
import offerIndex from "./0008_offer_index.js"
import bookSearch from "./0009_book_search.js"
import bookWords from "./0010_book_words.js"
import onixUploads from "./0011_onix_uploads.js"
import wants from "./0012_wants.js"
import onixFeeds from "./0013_onix_feeds.js"
import ingest from "./0014_ingest.js"
import exchangeRates from "./0015_exchange_rates.js"
import stripeCustomers from "./0016_stripe_customers.js"
import searchFolding from "./0017_search_folding.js"
import unfinishedUploads from "./0018_unfinished_uploads.js"
import savedCardsDetached from "./0019_saved_cards_detached.js"

export const migrations = {
  "0001_sellers": sellers,
  "0002_purchases": purchases,
  "0003_reconciliation": reconciliation,
  "0004_access": access,
  "0005_attention": attention,
  "0006_answer_budget": answerBudget,
  "0007_payment_tokens": paymentTokens,
  "0008_offer_index": offerIndex,
  "0009_book_search": bookSearch,
  "0010_book_words": bookWords,
  "0011_onix_uploads": onixUploads,
  "0012_wants": wants,
  "0013_onix_feeds": onixFeeds,
  "0014_ingest": ingest,
  "0015_exchange_rates": exchangeRates,
  "0016_stripe_customers": stripeCustomers,
  "0017_search_folding": searchFolding,
  "0018_unfinished_uploads": unfinishedUploads,
  "0019_saved_cards_detached": savedCardsDetached
}
