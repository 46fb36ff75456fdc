/**
 * Book search benchmark (issue 18): `BookSearch` over 1,000,000 books in a PostgreSQL database of
 * its own, as it is called in production (the engine's service, its SQL, its pool).
 *
 * 1. Load: a bulk SQL load (`INSERT … SELECT FROM generate_series`, the books' indexes dropped
 *    during the load and rebuilt after), not the upload path (`bench:feeds` measures that). Titles,
 *    authors and publishers are drawn from word lists at Zipf (s ≈ 1) frequency, so common words
 *    ("history", "war", "the", "of") match a large share of the books; ~2,000,000 fresh listings
 *    from 200 active sellers, spread Zipf-like over the books (a few books have thousands, most
 *    one or none). Then `ANALYZE`. Load time and table + index sizes.
 * 2. Quality: 34 known books among the million and 62 labelled queries (title only, author only,
 *    title + author, typos, ISBN spellings, accents either way, phrases among books with the same
 *    words): is the expected book in the top 5, and first? Then the worst case: the most common
 *    words, one search at a time.
 * 3. Latency: `--concurrency` searches in flight (32) until `--searches` (5,000) or `--seconds`
 *    (60) runs out, from a mix of query kinds; p50/p90/p99 overall and per kind, and EXPLAIN
 *    ANALYZE of the slowest search of the slowest kinds. A search is cut at 30 s
 *    (`statement_timeout` on the bench database) and counted as timed out.
 *
 *   pnpm bench:search                         (PostgreSQL on 127.0.0.1; about 5 minutes)
 *   pnpm bench:search --books 100000 --searches 1000    (a quick run)
 *   pnpm bench:search --keep, then pnpm bench:search --reuse <database>   (the same data again,
 *     after a change: the reused database gets the pending migrations, timed)
 *
 * The database is dropped at the end, also on failure or Ctrl-C, unless `--keep` or `--reuse`.
 */
import { Isbn } from "@bookbroker/adapter-sdk"
import { BookSearch, Database } from "@bookbroker/engine"
import { Effect, Layer, ManagedRuntime } from "effect"
import { availableParallelism } from "node:os"
import { parseArgs } from "node:util"
import pg from "pg"
import * as Processes from "./e2e-processes.js"
import { TestDatabase } from "@bookbroker/engine/testing"
import { percentile, round } from "./support.js"

const { values } = parseArgs({
  options: {
    books: { type: "string", default: "1000000" },
    listings: { type: "string", default: "2000000" },
    sellers: { type: "string", default: "200" },
    concurrency: { type: "string", default: "32" },
    searches: { type: "string", default: "5000" },
    seconds: { type: "string", default: "60" },
    /** Leave the database for EXPLAIN by hand (its name is logged; drop it yourself). */
    keep: { type: "boolean", default: false },
    /** Run against a database an earlier `--keep` run loaded (migrating it first, timed) instead of loading one. */
    reuse: { type: "string" }
  }
})
const bookCount = Number(values.books)
const listingCount = Number(values.listings)
const sellerCount = Number(values.sellers)
const concurrency = Number(values.concurrency)
const searchCount = Number(values.searches)
const searchSeconds = Number(values.seconds)
if (![bookCount, listingCount, sellerCount, concurrency, searchCount, searchSeconds].every((n) => Number.isInteger(n) && n > 0)) {
  throw new Error("--books, --listings, --sellers, --concurrency, --searches and --seconds must be positive integers")
}
const commandLine = `pnpm bench:search ${process.argv.slice(2).join(" ")}`.trim()
/** The run stops itself (and drops its database) after this long, whatever happens. */
const maxRunMillis = 30 * 60 * 1_000
const statementTimeoutMillis = 30_000
const log = (message: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${message}`)
const fmt = (n: number) => n.toLocaleString("en")
const mib = (bytes: number) => `${fmt(Math.round(bytes / 2 ** 20))} MiB`

// ---------------------------------------------------------------- the vocabulary

/** Real title words, most common first (rank 1 = "history"); pseudo-words fill the long tail. */
const realWords = (
  "history war life world love time house night city death man women garden river stone light dark new king story letters art " +
  "island sea road winter summer empire secret memory home mountain fire water science guide book introduction lost last first " +
  "dream shadow silence music journey children mother father daughter son family country god church power politics economy " +
  "philosophy poetry poems collected essays complete works selected tales stories short novel english french german america " +
  "europe africa china india russia london paris rome century modern ancient medieval early late golden silver black white red " +
  "blue green old young little great small big hidden forgotten broken burning frozen wild quiet long short end beginning return " +
  "journey voyage travels letter diary notes theory practice handbook companion atlas encyclopedia dictionary cookbook kitchen " +
  "food wine bread flowers birds trees forest desert ocean moon sun stars sky earth heaven hell angel devil saint queen prince " +
  "princess lord lady knight soldier sailor doctor teacher writer painter thief spy detective murder crime mystery case affair " +
  "ghost witch magic dragon sword crown throne castle tower bridge gate door window room street station harbour valley field " +
  "darkness hand left pride peace old solitude spirits time master brothers heights chapters lighthouse remains day name rose " +
  "things apart brave count wizard blood foundation path paths forking hundred years"
)
  .split(" ")
  .filter((word, index, all) => all.indexOf(word) === index)
const syllables = ["ka", "lo", "mi", "ren", "tor", "vel", "san", "dra", "bel", "mor", "eth", "quin", "sar", "lin", "dov", "har", "wen", "ost", "ril", "gan", "tha", "ziu", "pel", "cor"]
/** Distinct pseudo-words of two or three syllables, in a fixed order (a deterministic walk). */
const pseudoWords = (count: number, salt: number): Array<string> => {
  const out: Array<string> = []
  const seen = new Set<string>()
  for (let k = 0; out.length < count; k++) {
    const n = k * 7_919 + salt
    const word = syllables[n % 24]! + syllables[Math.floor(n / 24) % 24]! + (k % 3 === 0 ? "" : syllables[Math.floor(n / 576) % 24]!)
    if (!seen.has(word)) {
      seen.add(word)
      out.push(word)
    }
  }
  return out
}
const titleWords = [...realWords, ...pseudoWords(3_000 - realWords.length, 11)]
const givenNames = (
  "John Mary James Anna Robert Maria William Elizabeth David Sarah Thomas Emma Michael Laura Richard Clara George Jane Frank Ursula " +
  "Peter Helen Paul Alice Charles Eva Henry Julia Edward Nora Daniel Sophie Joseph Lucia Samuel Ines Martin Marie Jonas Ada Kenji " +
  "Farid Pavel Tomas Isabel Julian Donna Stephen Jorge Leo Emily Herman Mikhail Virginia Umberto Toni Kazuo Aldous Fyodor Ernest " +
  "Gabriel Isaac Alexandre Chinua Luis Karl Ingrid Hans Olga Yusuf Amara Wei Priya Diego Carmen Hugo Elena Ivan Nadia Omar Leila"
).split(" ")
const realSurnames = (
  "Smith Jones Brown Taylor Wilson Davies Evans Thomas Johnson Roberts Walker Wright Robinson Thompson White Hughes Edwards Green " +
  "Hall Wood Harris Lewis Martin Jackson Clarke Clark Turner Hill Scott Cooper Morris Ward Moore King Watson Baker Harrison Morgan " +
  "Patel Young Allen Mitchell James Anderson Phillips Lee Bell Parker Davis Herbert Austen Eliot Barnes Welch Shelley Woolf Gibson " +
  "Okafor Lindqvist Moreau Tanaka Novak Brennan Costa Weber Haddad Kowalski Ferreira Ivanova Muller Schmidt Rossi Garcia Lopez"
).split(" ")
const surnames = [...realSurnames, ...pseudoWords(2_000 - realSurnames.length, 5).map((word) => word[0]!.toUpperCase() + word.slice(1) + "son")]
const publishers = [
  ..."Penguin|Vintage|Picador|Faber & Faber|Gallimard|Suhrkamp|Einaudi|Anagrama|Hanser|Folio|HarperCollins|Random House|Knopf|Bloomsbury|Macmillan|Oxford University Press|Cambridge University Press|Routledge|Verso|Granta|Hogarth Press|Allen Lane|Jonathan Cape|Chatto & Windus|Heinemann|Bantam|Tor|Ace Books|Orbit|Gollancz".split(
    "|"
  ),
  ...pseudoWords(270, 3).map((word, k) => `${word[0]!.toUpperCase()}${word.slice(1)} ${["Press", "Books", "Publishing", "House", "Editions"][k % 5]}`)
]

// ---------------------------------------------------------------- ISBNs

/** ISBN-13 of book row `row`, all distinct (a bijection of 0..10^8 onto the 978-0 group). Mirrors `bench_isbn` in SQL. */
const isbnOf = (row: number): string => {
  const body = `9780${String((row * 48_271 + 1_234_567) % 100_000_000).padStart(8, "0")}`
  let sum = 0
  for (let k = 0; k < 12; k++) sum += (body.charCodeAt(k) - 48) * (k % 2 === 0 ? 1 : 3)
  return body + String((10 - (sum % 10)) % 10)
}
const isbnFunction = `
  CREATE FUNCTION bench_isbn(row_number bigint) RETURNS text IMMUTABLE LANGUAGE sql AS $$
    SELECT body || ((10 - (SELECT sum(substr(body, k, 1)::int * CASE WHEN k % 2 = 1 THEN 1 ELSE 3 END) FROM generate_series(1, 12) AS k) % 10) % 10)::text
    FROM (SELECT '9780' || lpad(((row_number * 48271 + 1234567) % 100000000)::text, 8, '0') AS body) AS b
  $$`
/** The ISBN-10 of a 978 ISBN-13 (a test fixture's arithmetic: production parses ISBNs with isbn3). */
const isbn10Of = (isbn13: string): string => {
  const body = isbn13.slice(3, 12)
  let sum = 0
  for (let k = 0; k < 9; k++) sum += (body.charCodeAt(k) - 48) * (10 - k)
  const check = (11 - (sum % 11)) % 11
  return body + (check === 10 ? "X" : String(check))
}

// ---------------------------------------------------------------- the labelled set

interface KnownBook {
  readonly title: string
  readonly author: string
  readonly publisher: string
  readonly year: number
}
const knownBooks: ReadonlyArray<KnownBook> = [
  { title: "Dune", author: "Frank Herbert", publisher: "Chilton Books", year: 1965 },
  { title: "The Left Hand of Darkness", author: "Ursula K. Le Guin", publisher: "Ace Books", year: 1969 },
  { title: "Pride and Prejudice", author: "Jane Austen", publisher: "T. Egerton", year: 1813 },
  { title: "Nineteen Eighty-Four", author: "George Orwell", publisher: "Secker & Warburg", year: 1949 },
  { title: "Foundation", author: "Isaac Asimov", publisher: "Gnome Press", year: 1951 },
  { title: "Neuromancer", author: "William Gibson", publisher: "Ace Books", year: 1984 },
  { title: "The Old Man and the Sea", author: "Ernest Hemingway", publisher: "Charles Scribner's Sons", year: 1952 },
  { title: "War and Peace", author: "Leo Tolstoy", publisher: "The Russian Messenger", year: 1869 },
  { title: "One Hundred Years of Solitude", author: "Gabriel García Márquez", publisher: "Editorial Sudamericana", year: 1967 },
  { title: "The Master and Margarita", author: "Mikhail Bulgakov", publisher: "YMCA Press", year: 1967 },
  { title: "Middlemarch", author: "George Eliot", publisher: "Blackwood", year: 1871 },
  { title: "To the Lighthouse", author: "Virginia Woolf", publisher: "Hogarth Press", year: 1927 },
  { title: "The Name of the Rose", author: "Umberto Eco", publisher: "Bompiani", year: 1980 },
  { title: "Things Fall Apart", author: "Chinua Achebe", publisher: "Heinemann", year: 1958 },
  { title: "Beloved", author: "Toni Morrison", publisher: "Knopf", year: 1987 },
  { title: "The Remains of the Day", author: "Kazuo Ishiguro", publisher: "Faber & Faber", year: 1989 },
  { title: "A Wizard of Earthsea", author: "Ursula K. Le Guin", publisher: "Parnassus Press", year: 1968 },
  { title: "Brave New World", author: "Aldous Huxley", publisher: "Chatto & Windus", year: 1932 },
  { title: "The Brothers Karamazov", author: "Fyodor Dostoevsky", publisher: "The Russian Messenger", year: 1880 },
  { title: "Wuthering Heights", author: "Emily Brontë", publisher: "Thomas Cautley Newby", year: 1847 },
  { title: "Moby-Dick", author: "Herman Melville", publisher: "Harper & Brothers", year: 1851 },
  { title: "The Great Gatsby", author: "F. Scott Fitzgerald", publisher: "Charles Scribner's Sons", year: 1925 },
  { title: "Frankenstein", author: "Mary Shelley", publisher: "Lackington", year: 1818 },
  { title: "The Count of Monte Cristo", author: "Alexandre Dumas", publisher: "Pétion", year: 1844 },
  // These share words with many synthetic books ("history", "world", "house", "secret", "garden", "winter").
  { title: "A History of the World in 10½ Chapters", author: "Julian Barnes", publisher: "Jonathan Cape", year: 1989 },
  { title: "The House of the Spirits", author: "Isabel Allende", publisher: "Plaza & Janés", year: 1982 },
  { title: "The Secret History", author: "Donna Tartt", publisher: "Knopf", year: 1992 },
  { title: "A Brief History of Time", author: "Stephen Hawking", publisher: "Bantam", year: 1988 },
  { title: "The Garden of Forking Paths", author: "Jorge Luis Borges", publisher: "Sur", year: 1941 },
  { title: "Winter in the Blood", author: "James Welch", publisher: "Harper & Row", year: 1974 },
  // Accents both ways: stored with accents and asked without (García Márquez above, Brontë), and
  // stored without them and asked with them (a feed that strips them).
  { title: "Les Misérables", author: "Victor Hugo", publisher: "A. Lacroix, Verboeckhoven & Cie", year: 1862 },
  { title: "Cien anos de soledad", author: "Gabriel Garcia Marquez", publisher: "Editorial Sudamericana", year: 1967 },
  { title: "Der Zauberberg", author: "Thomas Mann", publisher: "S. Fischer Verlag", year: 1924 },
  { title: "Pedro Páramo", author: "Juan Rulfo", publisher: "Fondo de Cultura Económica", year: 1955 }
]
/** The known books take the last rows, so the table holds `--books` books in all. */
const knownRow = (title: string) => bookCount - knownBooks.length + knownBooks.findIndex((book) => book.title === title)
const knownIsbn = (title: string) => {
  if (!knownBooks.some((book) => book.title === title)) throw new Error(`not a known book: ${title}`)
  return isbnOf(knownRow(title))
}

type Category = "title" | "author" | "title+author" | "typo" | "isbn" | "accent" | "phrase"
interface LabelledQuery {
  readonly category: Category
  readonly q: string
  /** Titles of the books that should be in the top 5 (each counts). */
  readonly expected: ReadonlyArray<string>
}
const labelled = (): ReadonlyArray<LabelledQuery> => {
  const q = (category: Category, text: string, ...expected: Array<string>): LabelledQuery => ({ category, q: text, expected })
  const hyphenated = (title: string) => Isbn.hyphenate(knownIsbn(title) as Isbn.Isbn13)
  return [
    q("title", "Dune", "Dune"),
    q("title", "The Left Hand of Darkness", "The Left Hand of Darkness"),
    q("title", "pride and prejudice", "Pride and Prejudice"),
    q("title", "Nineteen Eighty-Four", "Nineteen Eighty-Four"),
    q("title", "War and Peace", "War and Peace"),
    q("title", "The Old Man and the Sea", "The Old Man and the Sea"),
    q("title", "One Hundred Years of Solitude", "One Hundred Years of Solitude"),
    q("title", "A Brief History of Time", "A Brief History of Time"),
    q("title", "The Secret History", "The Secret History"),
    q("title", "The House of the Spirits", "The House of the Spirits"),
    q("title", "Winter in the Blood", "Winter in the Blood"),
    q("title", "Middlemarch", "Middlemarch"),
    q("title", "Moby Dick", "Moby-Dick"),
    q("author", "Frank Herbert", "Dune"),
    q("author", "Ursula K. Le Guin", "The Left Hand of Darkness", "A Wizard of Earthsea"),
    q("author", "Jane Austen", "Pride and Prejudice"),
    q("author", "Kazuo Ishiguro", "The Remains of the Day"),
    q("author", "Chinua Achebe", "Things Fall Apart"),
    q("author", "Toni Morrison", "Beloved"),
    q("author", "Tolstoy", "War and Peace"),
    q("author", "Hawking", "A Brief History of Time"),
    q("author", "Borges", "The Garden of Forking Paths"),
    q("author", "Garcia Marquez", "One Hundred Years of Solitude"),
    q("title+author", "dune herbert", "Dune"),
    q("title+author", "foundation asimov", "Foundation"),
    q("title+author", "history of the world barnes", "A History of the World in 10½ Chapters"),
    q("title+author", "secret history tartt", "The Secret History"),
    q("title+author", "neuromancer gibson", "Neuromancer"),
    q("title+author", "brave new world huxley", "Brave New World"),
    q("title+author", "garden borges", "The Garden of Forking Paths"),
    q("typo", "Dnue", "Dune"),
    q("typo", "Neuormancer", "Neuromancer"),
    q("typo", "Middelmarch", "Middlemarch"),
    q("typo", "Frankenstien", "Frankenstein"),
    q("typo", "Hemingawy", "The Old Man and the Sea"),
    q("typo", "Wuthering Heigts", "Wuthering Heights"),
    q("typo", "Brothers Karamazv", "The Brothers Karamazov"),
    q("typo", "The Master and Margrita", "The Master and Margarita"),
    q("typo", "Pride and Prejudoce", "Pride and Prejudice"),
    q("typo", "The Great Gatsbe", "The Great Gatsby"),
    q("typo", "Ishigaro", "The Remains of the Day"),
    q("isbn", hyphenated("Dune"), "Dune"),
    q("isbn", isbn10Of(knownIsbn("Beloved")), "Beloved"),
    q("isbn", isbn10Of(knownIsbn("Frankenstein")).replace(/^(\d)(\d{4})(\d{4})(.)$/, "$1 $2 $3 $4"), "Frankenstein"),
    q("isbn", ` ${hyphenated("The Secret History")} `, "The Secret History"),
    // Accents: asked without what the book has, and with what it lacks.
    q("accent", "garcia marquez", "One Hundred Years of Solitude", "Cien anos de soledad"),
    q("accent", "García Márquez", "One Hundred Years of Solitude", "Cien anos de soledad"),
    q("accent", "emily bronte", "Wuthering Heights"),
    q("accent", "les miserables", "Les Misérables"),
    q("accent", "cien años de soledad", "Cien anos de soledad"),
    q("accent", "pedro paramo rulfo", "Pedro Páramo"),
    q("accent", "Petion dumas", "The Count of Monte Cristo"),
    // Phrases: the title as asked, among books that merely contain its words (the synthetic
    // titles use "name", "rose", "world", "history", "day", "remains", "house", "war", "peace").
    q("phrase", "the name of the rose", "The Name of the Rose"),
    q("phrase", "war and peace", "War and Peace"),
    q("phrase", "the house of the spirits", "The House of the Spirits"),
    q("phrase", "the remains of the day", "The Remains of the Day"),
    q("phrase", "history of the world", "A History of the World in 10½ Chapters"),
    q("phrase", "a brief history of time", "A Brief History of Time"),
    q("phrase", "the secret history", "The Secret History"),
    q("phrase", "things fall apart", "Things Fall Apart"),
    q("phrase", "brave new world", "Brave New World"),
    q("phrase", "the count of monte cristo", "The Count of Monte Cristo")
  ]
}

// ---------------------------------------------------------------- the bulk load

/** A 1-based index into a list of `n`, rank r drawn with probability ∝ ~1/r (log-uniform). */
const zipf = (n: number) => `least(${n}, floor(exp(random() * ln(${n + 1})))::int)`

interface Loaded {
  readonly seconds: number
  readonly booksSeconds: number
  readonly listingsSeconds: number
  readonly indexSeconds: number
  readonly listings: number
  readonly booksWithOffers: number
  readonly sizes: ReadonlyArray<{ readonly name: string; readonly bytes: number }>
}

const load = async (url: string): Promise<Loaded> => {
  const started = performance.now()
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  try {
    await db.query("SET maintenance_work_mem = '1GB'")
    await db.query("SET session_replication_role = replica") // foreign-key triggers (and book_words' trigger) off for the load
    await db.query("SELECT setseed(0.18)")
    await db.query(isbnFunction)
    const indexes = (
      await db.query<{ name: string; definition: string }>(
        "SELECT indexname AS name, indexdef AS definition FROM pg_indexes WHERE tablename IN ('books', 'listings') AND indexname NOT IN (SELECT conname FROM pg_constraint)"
      )
    ).rows
    for (const index of indexes) await db.query(`DROP INDEX ${index.name}`)

    const synthetic = bookCount - knownBooks.length
    const w = (column: string) => `initcap(($1::text[])[${column}])`
    const batch = 200_000
    for (let from = 0; from < synthetic; from += batch) {
      const to = Math.min(synthetic, from + batch) - 1
      await db.query(
        `INSERT INTO books (isbn, title, author, publisher, year)
         SELECT bench_isbn(i),
           CASE
             WHEN p < 0.25 THEN 'The ' || ${w("a")} || ' of ' || ${w("b")}
             WHEN p < 0.40 THEN ${w("a")} || ' and ' || ${w("b")}
             WHEN p < 0.55 THEN ${w("a")} || ' ' || ${w("b")}
             WHEN p < 0.62 THEN 'A History of ' || ${w("a")}
             WHEN p < 0.77 THEN 'The ' || ${w("a")} || ' ' || ${w("b")}
             WHEN p < 0.90 THEN ${w("a")} || ': ' || ${w("b")} || ' ' || ${w("c")}
             ELSE ${w("a")}
           END,
           ($2::text[])[given] || ' ' || ($3::text[])[surname],
           ($4::text[])[publisher],
           1900 + floor(random() * 125)::int
         FROM (
           SELECT i, random() AS p, ${zipf(titleWords.length)} AS a, ${zipf(titleWords.length)} AS b, ${zipf(titleWords.length)} AS c,
             ${zipf(givenNames.length)} AS given, ${zipf(surnames.length)} AS surname, ${zipf(publishers.length)} AS publisher
           FROM generate_series($5::int, $6::int) AS i
         ) AS drawn`,
        [titleWords, givenNames, surnames, publishers, from, to]
      )
      log(`books: ${fmt(to + 1)} of ${fmt(synthetic)} synthetic`)
    }
    await db.query(
      `INSERT INTO books (isbn, title, author, publisher, year)
       SELECT bench_isbn(row_number), title, author, publisher, year
       FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::int[]) AS k (row_number, title, author, publisher, year)`,
      [
        knownBooks.map((book) => knownRow(book.title)),
        knownBooks.map((book) => book.title),
        knownBooks.map((book) => book.author),
        knownBooks.map((book) => book.publisher),
        knownBooks.map((book) => book.year)
      ]
    )
    const booksDone = performance.now()

    const sellerUuid = (column: string) => `('00000000-0000-4000-8000-' || lpad(to_hex(${column}), 12, '0'))::uuid`
    await db.query(
      `INSERT INTO sellers (id, name, adapter_kind, adapter_version, config, status)
       SELECT ${sellerUuid("s")}, 'bench-seller-' || lpad(s::text, 4, '0'), 'reference', '1.0.0', '{}'::jsonb, 'active'
       FROM generate_series(0, $1::int - 1) AS s`,
      [sellerCount]
    )
    await db.query(
      `INSERT INTO seller_feeds (seller_id, currency, last_snapshot_at, last_upload_at)
       SELECT ${sellerUuid("s")}, 'EUR', now(), now() FROM generate_series(0, $1::int - 1) AS s`,
      [sellerCount]
    )
    // Book popularity: row = N·u² (density ∝ 1/√row), scattered over the rows by a multiplier
    // prime to N, so the popular books are not the first ISBNs. 5 % of the listings are in USD.
    for (let from = 0; from < listingCount; from += 500_000) {
      const to = Math.min(listingCount, from + 500_000) - 1
      await db.query(
        `INSERT INTO listings (seller_id, listing_id, isbn, price, shipping, currency, condition, quantity, source, seen_at)
         SELECT ${sellerUuid("floor(random() * $1)::int")}, 'L' || j,
           bench_isbn((floor($2::int * random() ^ 2)::bigint * 7919 + 13) % $2::int),
           200 + floor(random() * 4800)::int, (ARRAY[0, 0, 250, 350, 499])[1 + floor(random() * 5)::int],
           CASE WHEN random() < 0.05 THEN 'USD' ELSE 'EUR' END,
           (ARRAY['new', 'like_new', 'very_good', 'good', 'good', 'acceptable'])[1 + floor(random() * 6)::int],
           1 + floor(random() * 3)::int, 'feed', now()
         FROM generate_series($3::int, $4::int) AS j`,
        [sellerCount, bookCount, from, to]
      )
      log(`listings: ${fmt(to + 1)} of ${fmt(listingCount)}`)
    }
    const listingsDone = performance.now()
    for (const index of indexes) {
      const indexStarted = performance.now()
      await db.query(index.definition)
      log(`index ${index.name} rebuilt in ${round((performance.now() - indexStarted) / 1000, 0)} s`)
    }
    // The triggers were off for the load: the words the typo correction reads (`book_words`,
    // kept by a trigger on books) are gathered once, as the migration does for existing books.
    const wordsStarted = performance.now()
    await db.query("INSERT INTO book_words (word, books) SELECT word, ndoc FROM ts_stat('SELECT search FROM books') ON CONFLICT (word) DO NOTHING")
    log(`book_words gathered in ${round((performance.now() - wordsStarted) / 1000, 0)} s`)
    await db.query("ANALYZE books, listings, sellers, seller_feeds, book_words")
    const finished = performance.now()
    return {
      seconds: round((finished - started) / 1000, 0),
      booksSeconds: round((booksDone - started) / 1000, 0),
      listingsSeconds: round((listingsDone - booksDone) / 1000, 0),
      indexSeconds: round((finished - listingsDone) / 1000, 0),
      ...(await measure(db))
    }
  } finally {
    await db.end().catch(() => undefined)
  }
}

/** What the database holds: listings, books with offers, the books' and listings' relations. */
const measure = async (db: pg.Client) => {
  const listings = Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM listings")).rows[0]!.n)
  const booksWithOffers = Number((await db.query<{ n: string }>("SELECT count(DISTINCT isbn) AS n FROM listings")).rows[0]!.n)
  const sizes = (
    await db.query<{ name: string; bytes: string }>(
      `SELECT relname AS name, pg_relation_size(oid) AS bytes FROM pg_class
       WHERE relname IN ('books', 'listings', 'book_words') OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN ('books'::regclass, 'listings'::regclass, 'book_words'::regclass))
       ORDER BY relname`
    )
  ).rows.map((row) => ({ name: row.name, bytes: Number(row.bytes) }))
  const toast = Number((await db.query<{ bytes: string }>("SELECT pg_total_relation_size('books') - pg_indexes_size('books') - pg_relation_size('books') AS bytes")).rows[0]!.bytes)
  return { listings, booksWithOffers, sizes: toast > 0 ? [...sizes, { name: "books (toast + maps)", bytes: toast }] : sizes }
}

// ---------------------------------------------------------------- the latency mix

interface Sample {
  readonly isbn: string
  readonly title: string
  readonly author: string
}
type Kind = "common-word" | "common-pair" | "rare-word" | "exact-title" | "author" | "surname" | "typo" | "isbn" | "no-match"
interface Planned {
  readonly kind: Kind
  readonly query: BookSearch.SearchQuery
  /** With the options, for the report: `relevance`, `price`, `in_stock`. */
  readonly variant: string
}
/** A deterministic pseudo-random stream (mulberry32), so two runs ask the same searches. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
}
const typo = (word: string, r: () => number): string => {
  const at = 1 + Math.floor(r() * (word.length - 2))
  const how = Math.floor(r() * 3)
  if (how === 0) return word.slice(0, at) + word[at + 1] + word[at] + word.slice(at + 2)
  if (how === 1) return word.slice(0, at) + word.slice(at + 1)
  const vowels = "aeiou"
  return word.slice(0, at) + vowels[(vowels.indexOf(word[at]!) + 1 + Math.floor(r() * 4)) % 5] + word.slice(at + 1)
}

const planSearches = (samples: ReadonlyArray<Sample>, count: number): Array<Planned> => {
  const r = random(1818)
  const pick = <A>(list: ReadonlyArray<A>): A => list[Math.floor(r() * list.length)]!
  const kinds: ReadonlyArray<readonly [Kind, number]> = [
    ["common-word", 0.12],
    ["common-pair", 0.08],
    ["rare-word", 0.12],
    ["exact-title", 0.14],
    ["author", 0.14],
    ["surname", 0.08],
    ["typo", 0.14],
    ["isbn", 0.12],
    ["no-match", 0.06]
  ]
  const planned: Array<Planned> = []
  for (let n = 0; n < count; n++) {
    let u = r()
    const kind = kinds.find(([, share]) => (u -= share) < 0)?.[0] ?? "isbn"
    const sample = pick(samples)
    const words = sample.title.split(/[^\p{L}]+/u).filter((word) => word.length >= 5)
    const q =
      kind === "common-word" ? titleWords[Math.floor(r() * 10)]!
      : kind === "common-pair" ? `${titleWords[Math.floor(r() * 20)]} ${titleWords[Math.floor(r() * 20)]}`
      : kind === "rare-word" ? titleWords[1_000 + Math.floor(r() * 2_000)]!
      : kind === "exact-title" ? sample.title
      : kind === "author" ? sample.author
      : kind === "surname" ? sample.author.split(" ").at(-1)!
      : kind === "typo" ? typo(words.length > 0 ? pick(words).toLowerCase() : sample.author.split(" ").at(-1)!.toLowerCase(), r)
      : kind === "isbn" ? (r() < 0.5 ? sample.isbn : Isbn.hyphenate(sample.isbn as Isbn.Isbn13))
      : `qzx${Math.floor(r() * 1e6)}vbw`
    const v = r()
    const variant = kind === "isbn" || v < 0.8 ? "relevance" : v < 0.9 ? "price" : "in_stock"
    planned.push({
      kind,
      variant,
      query: {
        q,
        currency: "EUR",
        ...(variant === "price" ? { sort: "price" as const } : {}),
        ...(variant === "in_stock" ? { inStock: true, maxTotal: 3_000 } : {})
      }
    })
  }
  return planned
}

// ---------------------------------------------------------------- the run

/** Queries of the most frequent words ("the" is in ~40 % of the titles, "of" ~30 %, "history" ~20 %). */
const worstCase: ReadonlyArray<readonly [string, BookSearch.SearchSort]> = [
  ["the", "relevance"],
  ["the", "price"],
  ["of the", "relevance"],
  ["history", "relevance"],
  ["history of the world", "relevance"],
  ["the history of the", "relevance"],
  ["the name of the rose", "relevance"],
  ["a history of", "price"]
]

const summary = (millis: ReadonlyArray<number>) => {
  const sorted = [...millis].sort((a, b) => a - b)
  return { n: sorted.length, p50: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? Number.NaN) }
}

/** The matches `BookSearch` scores for words (a copy, for EXPLAIN only; the bench times the service itself). */
const explainWords = async (url: string, words: string): Promise<string> => {
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  try {
    await db.query("BEGIN")
    await db.query("SELECT set_config('synchronize_seqscans', 'off', true)")
    const plan = await db.query<{ "QUERY PLAN": string }>(
      `EXPLAIN (ANALYZE, BUFFERS)
       SELECT c.isbn, ts_rank(c.search, plainto_tsquery('simple_unaccent', $1))::float8 AS score
       FROM (
         (SELECT b.isbn, b.title, b.search FROM books b WHERE b.search @@ plainto_tsquery('simple_unaccent', $1) LIMIT 2000)
         UNION
         (SELECT b.isbn, b.title, b.search FROM books b
          WHERE to_tsvector('simple_unaccent', coalesce(b.title, '')) = to_tsvector('simple_unaccent', $1) AND length(b.title) <= 300 LIMIT 2000)
       ) AS c
       ORDER BY score DESC, c.isbn LIMIT 1000`,
      [words]
    )
    await db.query("ROLLBACK")
    return plan.rows.map((row) => row["QUERY PLAN"]).join("\n")
  } finally {
    await db.end().catch(() => undefined)
  }
}

const main = async () => {
  const database = values.reuse === undefined ? await Processes.createDatabase(`bb_bench_search_${process.pid}`) : { name: values.reuse, url: TestDatabase.urlFor(values.reuse) }
  const cleanUp = async () => {
    if (values.keep || values.reuse !== undefined) log(`database ${database.name} left in place (DROP DATABASE ${database.name} when done)`)
    else await Processes.cleanUp()
  }
  const stop = async (code: number) => {
    await cleanUp()
    process.exit(code)
  }
  const timer = setTimeout(() => {
    log(`still running after ${maxRunMillis / 60_000} minutes: stopping`)
    void stop(2)
  }, maxRunMillis)
  timer.unref()
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void stop(130))

  try {
    const migrateStarted = performance.now()
    await Effect.runPromise(Database.migrate.pipe(Effect.provide(Database.layerClient({ url: database.url, maxConnections: 1 })), Effect.orDie))
    const migrateSeconds = round((performance.now() - migrateStarted) / 1000, 1)
    let loaded: Loaded
    if (values.reuse === undefined) {
      log(`database ${database.name}: bulk SQL load of ${fmt(bookCount)} books and ${fmt(listingCount)} listings`)
      loaded = await load(database.url)
      log(`loaded in ${loaded.seconds} s (books ${loaded.booksSeconds} s, listings ${loaded.listingsSeconds} s, indexes + ANALYZE ${loaded.indexSeconds} s)`)
    } else {
      // Loaded by an earlier run (`--keep`); its pending migrations ran above, on its million books.
      log(`database ${database.name}: reused; pending migrations applied in ${migrateSeconds} s`)
      const db = new pg.Client({ connectionString: database.url })
      await db.connect()
      await db.query("ANALYZE books, book_words")
      loaded = { seconds: 0, booksSeconds: 0, listingsSeconds: 0, indexSeconds: 0, ...(await measure(db)) }
      await db.end()
    }
    for (const size of loaded.sizes) log(`  ${size.name}: ${mib(size.bytes)}`)
    const admin = new pg.Client({ connectionString: database.url })
    await admin.connect()
    await admin.query(`ALTER DATABASE ${database.name} SET statement_timeout = ${statementTimeoutMillis}`)
    const samples = (
      await admin.query<Sample>("SELECT isbn, title, author FROM books TABLESAMPLE SYSTEM (1) REPEATABLE (18) LIMIT 5000")
    ).rows
    // The server is shared (other test runs hold connections): wait up to 2 minutes for room for
    // the pool, then run with the room there is and say so.
    const freeConnections = async () =>
      Number(
        (
          await admin.query<{ n: string }>(
            "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int - count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend'"
          )
        ).rows[0]!.n
      )
    const waitUntil = performance.now() + 120_000
    let free = await freeConnections()
    while (free < concurrency + 4 && performance.now() < waitUntil) {
      log(`only ${free} free PostgreSQL connections (others' tests are running): waiting`)
      await new Promise((resolve) => setTimeout(resolve, 5_000))
      free = await freeConnections()
    }
    const poolSize = Math.max(4, Math.min(concurrency, free - 4))
    if (poolSize < concurrency) log(`running with a pool of ${poolSize} connections (${free} free)`)
    const postgresBackends = Number((await admin.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend'")).rows[0]!.n)
    await admin.end()

    const runtime = ManagedRuntime.make(
      BookSearch.layer().pipe(Layer.provide(Database.layerClient({ url: database.url, maxConnections: poolSize, applicationName: "bench-search" })), Layer.orDie)
    )
    try {
      const search = (query: BookSearch.SearchQuery) => runtime.runPromise(Effect.flatMap(BookSearch.BookSearch, (books) => books.search(query)))

      // 2. Quality.
      const queries = labelled()
      const quality: Array<{ query: LabelledQuery; found: number; first: boolean; top: ReadonlyArray<string> }> = []
      for (const query of queries) {
        const page = await search({ q: query.q, currency: "EUR", limit: 5 })
        const isbns = new Set(page.hits.map((hit) => hit.isbn as string))
        quality.push({
          query,
          found: query.expected.filter((title) => isbns.has(knownIsbn(title))).length,
          first: query.expected.some((title) => page.hits[0]?.isbn === knownIsbn(title)),
          top: page.hits.map((hit) => `${hit.title ?? "?"} / ${hit.author ?? "?"}`)
        })
      }
      const categories: ReadonlyArray<Category> = ["title", "author", "title+author", "typo", "isbn", "accent", "phrase"]
      const byCategory = categories.map((category) => {
        const rows = quality.filter((row) => row.query.category === category)
        return {
          category,
          found: rows.reduce((n, row) => n + row.found, 0),
          expected: rows.reduce((n, row) => n + row.query.expected.length, 0),
          first: rows.filter((row) => row.first).length,
          queries: rows.length
        }
      })
      const misses = quality.filter((row) => row.found < row.query.expected.length)

      // 2b. The worst case: searches of the most common words, one at a time (nothing else of the
      // bench in flight), three times each.
      const worst: Array<{ q: string; sort: string; millis: ReadonlyArray<number>; hits: number }> = []
      for (const [q, sort] of worstCase) {
        const millis: Array<number> = []
        let hits = 0
        for (let n = 0; n < 3; n++) {
          const t0 = performance.now()
          hits = (await search({ q, currency: "EUR", sort })).hits.length
          millis.push(performance.now() - t0)
        }
        worst.push({ q, sort, millis: millis.sort((a, b) => a - b), hits })
        log(`worst case \`${q}\` (${sort}): ${millis.map((ms) => round(ms)).join(", ")} ms`)
      }

      // 3. Latency.
      await search({ q: "warm up", currency: "EUR" })
      const planned = planSearches(samples, searchCount)
      const timings: Array<{ kind: Kind; variant: string; q: string; millis: number; failed: boolean }> = []
      let next = 0
      const started = performance.now()
      const deadline = started + searchSeconds * 1_000
      const worker = async () => {
        while (next < planned.length && performance.now() < deadline) {
          const plan = planned[next++]!
          const t0 = performance.now()
          const failed = await search(plan.query).then(
            () => false,
            () => true
          )
          timings.push({ kind: plan.kind, variant: plan.variant, q: plan.query.q, millis: performance.now() - t0, failed })
        }
      }
      await Promise.all(Array.from({ length: concurrency }, worker))
      const elapsed = (performance.now() - started) / 1000
      const overall = summary(timings.map((timing) => timing.millis))
      const kinds = [...new Set(timings.map((timing) => timing.kind))]
        .map((kind) => {
          const mine = timings.filter((timing) => timing.kind === kind)
          const worst = mine.reduce((a, b) => (b.millis > a.millis ? b : a))
          return { kind, ...summary(mine.map((timing) => timing.millis)), failed: mine.filter((timing) => timing.failed).length, worst }
        })
        .sort((a, b) => b.p50 - a.p50)
      const variants = ["relevance", "price", "in_stock"].map((variant) => ({
        variant,
        ...summary(timings.filter((timing) => timing.variant === variant && timing.kind !== "isbn").map((timing) => timing.millis))
      }))
      const failed = timings.filter((timing) => timing.failed).length

      // EXPLAIN ANALYZE of the worst search of the two slowest word kinds.
      const explained: Array<{ kind: Kind; q: string; plan: string }> = []
      for (const kind of kinds.filter((k) => k.kind !== "isbn").slice(0, 2)) {
        explained.push({ kind: kind.kind, q: kind.worst.q, plan: await explainWords(database.url, kind.worst.q.trim().toLowerCase()) })
      }

      const lines = [
        `Command: \`${commandLine}\`. PostgreSQL 15 on 127.0.0.1, a fresh database; ${fmt(bookCount)} books (${fmt(knownBooks.length)} of them known books), ` +
          `${fmt(loaded.listings)} fresh listings from ${sellerCount} active sellers over ${fmt(loaded.booksWithOffers)} books. ` +
          `The data is a **bulk SQL load** (\`INSERT … SELECT FROM generate_series\`, indexes rebuilt after), not the upload path. ` +
          `The machine: ${availableParallelism()} cores, shared with other engineers' test runs (${postgresBackends} PostgreSQL client backends open when the run started), so absolute figures are pessimistic.`,
        "",
        values.reuse === undefined
          ? `**Load**: ${loaded.seconds} s (books ${loaded.booksSeconds} s, listings ${loaded.listingsSeconds} s, index builds + ANALYZE ${loaded.indexSeconds} s).`
          : `**Reused** the database an earlier \`--keep\` run loaded; its pending migrations took ${migrateSeconds} s.`,
        "",
        "| relation | size |",
        "|---|---:|",
        ...loaded.sizes.map((size) => `| ${size.name} | ${mib(size.bytes)} |`),
        "",
        `**Latency**: \`BookSearch.search\` (the engine service, its pool of ${poolSize} connections), ${concurrency} searches in flight, ${fmt(timings.length)} searches in ${round(elapsed, 1)} s = ` +
          `**${round(timings.length / elapsed, 1)} searches/s**; p50 **${overall.p50} ms**, p90 ${overall.p90} ms, p99 **${overall.p99} ms**, max ${overall.max} ms; ` +
          `${failed} failed (statement timeout ${statementTimeoutMillis / 1000} s). Default page of 20, currency EUR; 80 % sort=relevance, 10 % sort=price, 10 % in_stock + max_total (ISBN searches always relevance).`,
        "",
        "| query kind | searches | p50 ms | p90 ms | p99 ms | max ms | failed | slowest query |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        ...kinds.map((k) => `| ${k.kind} | ${k.n} | ${k.p50} | ${k.p90} | ${k.p99} | ${k.max} | ${k.failed} | \`${k.worst.q.trim()}\` (${k.worst.variant}) |`),
        "",
        "| variant (word queries) | searches | p50 ms | p90 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
        ...variants.map((v) => `| ${v.variant} | ${v.n} | ${v.p50} | ${v.p90} | ${v.p99} |`),
        "",
        `**Worst case**: the most common words, one search at a time, 3 runs each (page of 20, EUR):`,
        "",
        "| query | sort | fastest ms | slowest ms | hits |",
        "|---|---|---:|---:|---:|",
        ...worst.map((w) => `| \`${w.q}\` | ${w.sort} | ${round(w.millis[0]!)} | ${round(w.millis.at(-1)!)} | ${w.hits} |`),
        "",
        `**Quality** (${queries.length} labelled queries, limit 5, relevance): expected books in the top 5, and queries whose first hit is an expected book —`,
        "",
        "| category | found / expected | first / queries |",
        "|---|---:|---:|",
        ...byCategory.map((c) => `| ${c.category} | ${c.found} / ${c.expected} | ${c.first} / ${c.queries} |`),
        `| **all** | **${byCategory.reduce((n, c) => n + c.found, 0)} / ${byCategory.reduce((n, c) => n + c.expected, 0)}** | **${byCategory.reduce((n, c) => n + c.first, 0)} / ${byCategory.reduce((n, c) => n + c.queries, 0)}** |`,
        "",
        misses.length === 0 ? "No misses." : "Misses (query → what the top 5 showed):",
        "",
        ...misses.map((row) => `- ${row.query.category}: \`${row.query.q}\` (expected ${row.query.expected.join(", ")}) → ${row.top.length === 0 ? "no hits" : row.top.slice(0, 3).join("; ")}`)
      ]
      console.log(lines.join("\n"))
      for (const explain of explained) {
        console.log(`\nEXPLAIN ANALYZE, the candidate query of the slowest ${explain.kind} search (\`${explain.q}\`):\n\n\`\`\`\n${explain.plan}\n\`\`\``)
      }
    } finally {
      await runtime.dispose()
    }
  } finally {
    await cleanUp()
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
