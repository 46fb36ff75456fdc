/**
 * The words of every book's title, author and publisher, once each, with how many books use them
 * (`book_words`, trigram-indexed): a search whose words find (almost) nothing corrects each word
 * against this short list — tens of thousands of rows — instead of comparing the query with every
 * book (`search/BookSearch.ts`). Kept by a statement trigger on `books`: an upload of a million
 * books adds its new words in one statement. `books` is how many books used the word when it was
 * first seen (a hint for choosing between corrections); it is not kept up to date, so that
 * concurrent uploads never wait on each other's common words ("the").
 */
import { SqlClient } from "effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE book_words (word text PRIMARY KEY, books integer NOT NULL)`
  yield* sql`CREATE INDEX book_words_trigrams ON book_words USING gin (word gin_trgm_ops)`
  yield* sql`INSERT INTO book_words (word, books) SELECT word, ndoc FROM ts_stat('SELECT search FROM books')`
  yield* sql`
    CREATE FUNCTION book_words_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO book_words (word, books)
        SELECT lexeme, count(*) FROM added, unnest(added.search) GROUP BY lexeme ORDER BY lexeme
        ON CONFLICT (word) DO NOTHING;
      RETURN NULL;
    END $$`
  yield* sql`
    CREATE TRIGGER book_words_on_insert AFTER INSERT ON books
      REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION book_words_add()`
})
