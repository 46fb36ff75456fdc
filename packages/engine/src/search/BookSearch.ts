/**
 * Finding a book without its ISBN: title, author, publisher or ISBN, in PostgreSQL, over the
 * books the sellers' inventory feeds describe (`books`, kept by `inventory/InventoryUploads.ts`).
 *
 * - **What matches**: an ISBN (ISBN-10 or -13, hyphens and spaces allowed) finds that book; other
 *   words match by full-text search (every word, title above author above publisher), accents
 *   folded both ways (`simple_unaccent`, migration 0017: "garcia marquez" finds "García
 *   Márquez"); only when that finds less than a page, each word is corrected against the
 *   catalog's own words (`book_words`, trigram similarity, `pg_trgm`) and the corrected words are
 *   searched the same way — typos.
 * - **What comes first**: a book whose title is the query (found by its own index,
 *   `books_by_title`, however common its words), then one whose title has the query's words
 *   side by side in order, then books with more of the query's neighbouring words side by side
 *   ("history of the world barnes": "A History of the World…" before "The World of History"),
 *   then full-text rank.
 * - **Common words**: a search scores at most `maxRanked` of its matches, the first the index
 *   gives, in one pass over them (measured: "the" matches 400,000 of 1,000,000 books, and each
 *   match scored is a heap page read; `pnpm bench:search`). The exact title is looked up apart,
 *   so it is never lost to that cut.
 * - **What each hit shows**: its best current offer from the offer index (fresh listings only:
 *   `fresh_listings`) and how many there are. With the operator's exchange rates, offers in other
 *   currencies are compared converted as a purchase would price them (`exchange/ConversionSql.ts`
 *   to choose, `Conversion` for the total shown): the offer keeps its own price and shipping, its
 *   total is in the asked currency. Without rates only offers in the asked currency count. The
 *   index is a lead, as everywhere: buying confirms the price with the seller.
 * - **Filters**: a minimum condition (`very_good` = very good or better), in stock (a fresh
 *   offer exists), a maximum total (best offer at most that). **Sort**: relevance (then ISBN) or
 *   price (best total, then ISBN; only books with an offer).
 * - **Pages**: a cursor (the last hit's sort key), so a page never repeats or skips a book when
 *   nothing changed in between. A search ranks at most `maxCandidates` matches (the best by
 *   relevance): past them it ends.
 */
import { Contract, Isbn } from "@bookbroker/adapter-sdk"
import { SqlClient, type Statement } from "effect/sql"
import { Context, Effect, Layer, Option, Schema } from "effect"
import * as Conversion from "../exchange/Conversion.js"
import * as ConversionSql from "../exchange/ConversionSql.js"
import { ExchangeRates } from "../exchange/ExchangeRates.js"
import * as RateTable from "../exchange/RateTable.js"
import { textArray, uninterruptibleSql } from "../internal/sql.js"

export type SearchSort = "relevance" | "price"

export interface SearchQuery {
  /** Words or an ISBN; 1–200 characters. */
  readonly q: string
  /** Offers are compared, and their totals shown, in this currency (others converted with the operator's rates, if any). */
  readonly currency: string
  /** This condition or better. */
  readonly condition?: Contract.Condition
  /** Only books with a current offer. */
  readonly inStock?: boolean
  /** Only books whose best offer costs at most this (minor units of `currency`). */
  readonly maxTotal?: number
  readonly sort?: SearchSort
  /** 1–50; default 20. */
  readonly limit?: number
  readonly cursor?: string
}

export interface BestOffer {
  readonly sellerId: string
  readonly sellerName: string
  /** The seller's own price and shipping, in its currency. */
  readonly price: { readonly amount: number; readonly currency: string }
  readonly shipping: { readonly amount: number; readonly currency: string }
  /** Price + shipping in the asked currency: converted (with the margin) when the seller's is another. */
  readonly total: { readonly amount: number; readonly currency: string }
  readonly condition: Contract.Condition
  readonly source: "feed" | "push"
  /** When the feed or push last stated it. */
  readonly asOf: Date
}

export interface SearchHit {
  readonly isbn: Isbn.Isbn13
  readonly title: string | null
  readonly author: string | null
  readonly publisher: string | null
  readonly year: number | null
  /** Cheapest current offer, compared in the asked currency (within the condition filter), if any. */
  readonly bestOffer: BestOffer | null
  /** Current offers in the asked currency or convertible to it (within the condition filter). */
  readonly offers: number
  /**
   * Currencies the book has current offers in that could not be compared with the asked one (no
   * exchange rate for them), sorted: a book offered only in those is not "without offers".
   */
  readonly otherCurrencies: ReadonlyArray<string>
  /** Relevance, higher is better (0 for an ISBN search). */
  readonly score: number
}

export interface SearchPage {
  readonly hits: ReadonlyArray<SearchHit>
  /** Pass it back for the next page; null on the last one. */
  readonly nextCursor: string | null
  /** The query read as an ISBN (normalised to ISBN-13), when it was one. */
  readonly isbn: Isbn.Isbn13 | null
}

/** A cursor that was not made by this search (or for another sort). */
export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()("InvalidCursor", { reason: Schema.String }) {}

export interface BookSearchService {
  readonly search: (query: SearchQuery) => Effect.Effect<SearchPage, InvalidCursor>
}

export class BookSearch extends Context.Service<BookSearch, BookSearchService>()("@bookbroker/engine/BookSearch") {}

export interface BookSearchOptions {
  /** The most matches one search ranks; default 1,000. */
  readonly maxCandidates?: number
  /**
   * The most matches one search scores (the first found, unordered): a word in two fifths of all
   * titles must not rank 400,000 books to show 20. Default 2,000 (each costs a heap page read: 20,000
   * took 0.6 s alone at 1,000,000 books; a query this common says little about which of its
   * matches the customer wants beyond an exact title, which is looked up apart).
   */
  readonly maxRanked?: number
  /** How alike a query word and a catalog word must be to count as a typo of it (trigram similarity, 0–1); default 0.3 (`herbret` → `herbert` is 0.33). */
  readonly typoSimilarity?: number
}

/** A typo query's corrections, as `tsquery` text ('' when no word is like any of the catalog's). */
interface Corrections {
  /** Each word or its look-alikes: `( 'herbert' | 'herbet' ) & 'dune'`. */
  readonly query: string
  /** Each word's most alike alone: `'herbert' & 'dune'`. */
  readonly best: string
}

/** The longest title `books_by_title` indexes (migration 0017). */
const titleIndexedUpTo = 300

/**
 * Each two neighbouring words of a query ("history of the world" → "history of", "of the",
 * "the world"): a book that has more of them side by side has more of the query's word order.
 */
export const adjacentPairs = (words: string): ReadonlyArray<string> => {
  const list = words.split(/\s+/).filter((word) => /[\p{L}\p{N}]/u.test(word))
  return list.slice(1).map((word, i) => `${list[i]} ${word}`)
}

/** Conditions from best to worst: a minimum condition admits itself and the ones before it. */
const conditionsFrom = (minimum: Contract.Condition): ReadonlyArray<Contract.Condition> => {
  const order = Contract.Condition.literals
  return order.slice(0, order.indexOf(minimum) + 1)
}

/** The sort key of the last hit a page showed. */
const Cursor = Schema.Struct({ sort: Schema.Literals(["relevance", "price"]), key: Schema.Finite, isbn: Schema.String, typos: Schema.Boolean })
const encodeCursor = (cursor: typeof Cursor.Type) => Buffer.from(JSON.stringify(cursor)).toString("base64url")
const decodeCursor = (text: string, sort: SearchSort): Effect.Effect<typeof Cursor.Type, InvalidCursor> =>
  Effect.try({
    try: () => JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as unknown,
    catch: () => new InvalidCursor({ reason: "not a cursor this search made" })
  }).pipe(
    Effect.flatMap((json) => Effect.mapError(Schema.decodeUnknownEffect(Cursor)(json), () => new InvalidCursor({ reason: "not a cursor this search made" }))),
    Effect.filterOrFail(
      (cursor) => cursor.sort === sort,
      () => new InvalidCursor({ reason: `the cursor is for sort=${sort === "price" ? "relevance" : "price"}` })
    )
  )

interface HitRow {
  readonly isbn: string
  readonly title: string | null
  readonly author: string | null
  readonly publisher: string | null
  readonly year: number | null
  readonly score: number
  readonly offers: string | number | null
  readonly seller_id: string | null
  readonly seller_name: string | null
  readonly price: string | null
  readonly shipping: string | null
  readonly currency: string | null
  readonly total: string | null
  readonly condition: Contract.Condition | null
  readonly source: "feed" | "push" | null
  readonly seen_at: Date | null
  readonly other_currencies: ReadonlyArray<string> | null
}

/** A best offer's total in the asked currency: the listing's own, or converted at the current rates. */
const totalIn = (currency: string, pricing: Conversion.Pricing | undefined, row: HitRow): number => {
  if (row.currency === currency || pricing === undefined) return Number(row.total)
  const rate = RateTable.rate(pricing.table, row.currency!, currency)
  return rate === undefined ? Number(row.total) : Conversion.convertAmount(Number(row.price) + Number(row.shipping), row.currency!, currency, rate, pricing.marginBasisPoints)
}

/**
 * A hit as shown: its best offer's total in the asked currency, exactly as `Conversion` prices it
 * when the seller's currency is another (the SQL's total only chose and ordered it).
 */
const toHit = (currency: string, pricing: Conversion.Pricing | undefined) => (row: HitRow): SearchHit => ({
  isbn: row.isbn as Isbn.Isbn13,
  title: row.title,
  author: row.author,
  publisher: row.publisher,
  year: row.year,
  offers: Number(row.offers ?? 0),
  otherCurrencies: row.other_currencies ?? [],
  score: Number(row.score),
  bestOffer:
    row.seller_id === null
      ? null
      : {
          sellerId: row.seller_id,
          sellerName: row.seller_name!,
          price: { amount: Number(row.price), currency: row.currency! },
          shipping: { amount: Number(row.shipping), currency: row.currency! },
          total: { amount: totalIn(currency, pricing, row), currency },
          condition: row.condition!,
          source: row.source!,
          asOf: row.seen_at!
        }
})

export const make = (options: BookSearchOptions = {}) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const maxCandidates = options.maxCandidates ?? 1_000
    const typoSimilarity = options.typoSimilarity ?? 0.3

    const maxRanked = options.maxRanked ?? 2_000
    // Optional: with the operator's rates, offers in other currencies are compared converted.
    const exchangeRates = Option.getOrUndefined(yield* Effect.serviceOption(ExchangeRates))
    const currentPricing = exchangeRates === undefined ? Effect.succeed(undefined) : exchangeRates.pricing

    /** How many books the words match, counting up to `enough`. */
    const wordMatches = (words: string, enough: number) =>
      Effect.map(
        uninterruptibleSql(sql<{ n: number }>`SELECT count(*)::int AS n FROM (SELECT 1 FROM books WHERE search @@ plainto_tsquery('simple_unaccent', ${words}) LIMIT ${enough}) AS found`),
        (rows) => rows[0]?.n ?? 0
      )

    /**
     * The query with each word replaced by the words of the catalog most like it (`book_words`:
     * itself when a book has it, then the most alike, at most 3): `(dune) & (herbert | herbet)`,
     * and with the most alike alone (`best`: `dune & herbert`). A word no book has anything like
     * is left out, so one stray word does not empty the result.
     */
    const corrected = (words: string) =>
      Effect.map(
        sql<Corrections>`
      SELECT coalesce(to_tsquery('simple_unaccent', coalesce(string_agg(alternatives, ' & '), ''))::text, '') AS query,
        coalesce(to_tsquery('simple_unaccent', coalesce(string_agg(best, ' & '), ''))::text, '') AS best
      FROM (
        SELECT '(' || string_agg(quote_literal(x.word), ' | ' ORDER BY x.rank) || ')' AS alternatives,
          (array_agg(quote_literal(x.word) ORDER BY x.rank))[1] AS best
        FROM (SELECT DISTINCT lexeme AS word FROM unnest(to_tsvector('simple_unaccent', ${words}))) AS q
        CROSS JOIN LATERAL (
          SELECT w.word, row_number() OVER (ORDER BY w.word = q.word DESC, similarity(w.word, q.word) DESC, w.books DESC) AS rank
          FROM book_words w
          WHERE w.word = q.word OR w.word % q.word
          ORDER BY rank
          LIMIT 3
        ) AS x
        GROUP BY q.word
      ) AS per_word`,
        (rows): Corrections => rows[0] ?? { query: "", best: "" }
      )

    /**
     * The matches of a word query, scored (see the module header for the order). Each kind of
     * match is read in one pass over its first `maxRanked` (not a semi-join back into `books`,
     * which the planner ran as a scan of the whole table), plus the books titled exactly so
     * (`books_by_title`; the length bound is its partial index's, written as a literal so the
     * planner sees it implied). With `corrections` (typos), the books with the words as typed
     * come first, then those with the most alike corrections ("frankenstein" before "frank" for
     * "frankenstien"), then the other look-alikes; each kind gets its own first `maxRanked`, so a
     * common look-alike does not crowd out the book the typo meant.
     */
    const ranked = (words: string, corrections: Corrections | null) => {
      const pairs = adjacentPairs(words)
      // Written out, not in a CTE: the planner then knows the words and how common they are, and
      // reads a very common word's matches with a scan that stops at `maxRanked` instead of
      // building the bitmap of its whole posting list (400,000 books for "the": 48 ms).
      const typed = sql`plainto_tsquery('simple_unaccent', ${words})`
      const asTitle = sql`to_tsvector('simple_unaccent', ${words})`
      const columns = sql.literal("b.isbn, b.title, b.author, b.publisher, b.year, b.search")
      const first = (query: Statement.Fragment) => sql`(SELECT ${columns} FROM books b WHERE b.search @@ ${query} LIMIT ${maxRanked})`
      // Bounded too: 1,622 of the million bench books are titled just "House".
      const exactTitle = sql`(SELECT ${columns} FROM books b
        WHERE to_tsvector('simple_unaccent', coalesce(b.title, '')) = ${asTitle} AND ${sql.literal(`length(b.title) <= ${titleIndexedUpTo}`)}
        LIMIT ${maxRanked})`
      // The corrections as constants too (`'history'::tsquery`), for the same reason.
      const any = corrections === null || corrections.query === "" ? null : sql`${corrections.query}::tsquery`
      const best = corrections === null || corrections.best === "" ? null : sql`${corrections.best}::tsquery`
      const kinds = [first(typed), ...(best === null ? [] : [first(best)]), ...(any === null || corrections?.query === corrections?.best ? [] : [first(any)]), exactTitle]
      return sql`
        SELECT c.isbn, c.title, c.author, c.publisher, c.year,
          (ts_rank(c.search, ${any ?? typed})
            ${corrections === null ? sql.literal("") : sql`+ CASE WHEN c.search @@ ${typed} THEN 4 ELSE 0 END`}
            ${best === null ? sql.literal("") : sql`+ CASE WHEN c.search @@ ${best} THEN 1 ELSE 0 END`}
            + CASE WHEN t.words = ${asTitle} THEN 2 ELSE 0 END
            ${
              pairs.length === 0
                ? sql.literal("")
                : sql`+ CASE WHEN t.words @@ phraseto_tsquery('simple_unaccent', ${words}) THEN 1 ELSE 0 END
                      + 0.5 * (SELECT count(*) FROM unnest(ARRAY(SELECT phraseto_tsquery('simple_unaccent', p) FROM unnest(${textArray(pairs)}::text[]) AS p)) AS pair WHERE c.search @@ pair) / ${pairs.length}::float8`
            }
          )::float8 AS score
        FROM (${sql.join(" UNION ", false)(kinds)}) AS c, LATERAL (SELECT to_tsvector('simple_unaccent', coalesce(c.title, '')) AS words) AS t
        ORDER BY score DESC, c.isbn
        LIMIT ${maxCandidates}`
    }

    const search = (query: SearchQuery): Effect.Effect<SearchPage, InvalidCursor> =>
      Effect.gen(function* () {
        const sort = query.sort ?? "relevance"
        const limit = Math.min(50, Math.max(1, query.limit ?? 20))
        const cursor = query.cursor === undefined ? undefined : yield* decodeCursor(query.cursor, sort)
        const isbn = Option.getOrNull(Isbn.parse(query.q.replace(/\s+/g, "")))
        const words = query.q.trim().toLowerCase()
        const conditions = query.condition === undefined ? null : conditionsFrom(query.condition)
        const pricing = yield* currentPricing
        // Which listings count, and their total in the asked currency.
        const convertible = pricing === undefined ? [] : ConversionSql.currencies(pricing).filter((code) => code !== query.currency)
        const inCurrency =
          convertible.length === 0 || !ConversionSql.currencies(pricing!).includes(query.currency)
            ? sql`l.currency = ${query.currency}`
            : sql`l.currency = ANY(${textArray([query.currency, ...convertible])}::text[])`
        const total =
          convertible.length === 0 || !ConversionSql.currencies(pricing!).includes(query.currency)
            ? sql`l.price + l.shipping`
            : ConversionSql.convertedSql(sql, pricing!, sql`(l.price + l.shipping)`, sql`l.currency`, sql`${query.currency}::text`)

        // The matches, best first (at most maxCandidates): an ISBN finds its book (known or not).
        // Words first; look-alikes (typos) only when the words find less than a page — a query of
        // common words must not score the catalog for look-alikes. The mode travels in the cursor,
        // so every page of one search matches the same way.
        const typos = isbn !== null ? false : (cursor?.typos ?? (yield* wordMatches(words, limit)) < limit)
        const matchesWith = (corrections: Corrections | null) =>
          isbn !== null
            ? sql`SELECT ${isbn}::text AS isbn, b.title, b.author, b.publisher, b.year, 0::float8 AS score
                FROM (SELECT 1) AS one LEFT JOIN books b ON b.isbn = ${isbn}`
            : ranked(words, corrections)
        const after = cursor === undefined
          ? sql`true`
          : sort === "price"
            ? sql`(o.total, m.isbn) > (${cursor.key}::bigint, ${cursor.isbn})`
            : sql`(m.score < ${cursor.key}::float8 OR (m.score = ${cursor.key}::float8 AND m.isbn > ${cursor.isbn}))`
        const offered = query.inStock === true || sort === "price" || query.maxTotal !== undefined ? sql`o.seller_id IS NOT NULL` : sql`true`
        const cheapEnough = query.maxTotal === undefined ? sql`true` : sql`o.total <= ${query.maxTotal}::bigint`
        const inCondition = conditions === null ? sql`true` : sql`l.condition = ANY(${textArray(conditions)}::text[])`
        const statement = (matches: Statement.Fragment) => sql<HitRow>`
          WITH m AS (${matches}), page AS (
            SELECT m.*, o.offers, o.seller_id, o.seller_name, o.price, o.shipping, o.currency, o.total, o.condition, o.source, o.seen_at
            FROM m LEFT JOIN LATERAL (
              SELECT count(*) OVER () AS offers, l.seller_id, s.name AS seller_name, l.price, l.shipping, l.currency, ${total} AS total, l.condition, l.source, l.seen_at
              FROM fresh_listings l JOIN sellers s ON s.id = l.seller_id AND s.status = 'active'
              WHERE l.isbn = m.isbn AND ${inCurrency} AND l.quantity > 0 AND ${inCondition}
              ORDER BY total, l.seen_at DESC
              LIMIT 1
            ) o ON true
            WHERE ${after} AND ${offered} AND ${cheapEnough}
            ORDER BY ${sort === "price" ? sql`o.total, m.isbn` : sql`m.score DESC, m.isbn`}
            LIMIT ${limit + 1}
          )
          -- The currencies it could not compare, looked up for the page's books only.
          SELECT page.*,
                 (SELECT array_agg(DISTINCT l.currency ORDER BY l.currency)
                  FROM fresh_listings l JOIN sellers s ON s.id = l.seller_id AND s.status = 'active'
                  WHERE l.isbn = page.isbn AND NOT (${inCurrency}) AND l.quantity > 0 AND ${inCondition}) AS other_currencies
          FROM page
          ORDER BY ${sort === "price" ? sql`page.total, page.isbn` : sql`page.score DESC, page.isbn`}`
        // A typo is a run of words this alike (for this transaction only); the corrections are
        // looked up first, so the search is planned knowing them. Scans start at the table's first
        // page (not where a concurrent scan is), so the first `maxRanked` matches are the same for
        // every page of a search. Run to the end even when the caller hangs up (see
        // `uninterruptibleSql`).
        const rows = yield* uninterruptibleSql(
          sql.withTransaction(
            Effect.gen(function* () {
              yield* sql`SELECT set_config('pg_trgm.similarity_threshold', ${String(typoSimilarity)}, true), set_config('synchronize_seqscans', 'off', true)`
              return yield* statement(matchesWith(typos ? yield* corrected(words) : null))
            })
          )
        )
        const hits = rows.slice(0, limit).map(toHit(query.currency, pricing))
        const last = hits.at(-1)
        // The cursor keeps the SQL's total, which the order was by.
        const lastRow = rows[Math.min(rows.length, limit) - 1]
        const nextCursor =
          rows.length > limit && last !== undefined
            ? encodeCursor({ sort, key: sort === "price" ? Number(lastRow!.total) : last.score, isbn: last.isbn, typos })
            : null
        return { hits, nextCursor, isbn }
      }).pipe(Effect.withSpan("BookSearch.search", { attributes: { sort: query.sort ?? "relevance" } }, { captureStackTrace: false }))

    return { search } satisfies BookSearchService
  })

export const layer = (options: BookSearchOptions = {}): Layer.Layer<BookSearch, never, SqlClient.SqlClient> => Layer.effect(BookSearch, make(options))
