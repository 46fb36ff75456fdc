/**
 * A reader for the one XML shape the Search Web Services answer with: a root element
 * (`searchResults`, spelled `SearchResults` in some answers) holding flat `<Book>` records of
 * text-only elements. Written here rather than taken from a parser package because the adapter
 * has no XML dependency and the shape is flat; anything else (attributes aside, nested records,
 * unclosed elements) is refused, not guessed at.
 */

/** One `<Book>`: element name → text (entities decoded, CDATA unwrapped, trimmed). */
export type BookRecord = Readonly<Record<string, string>>

const entity = /&(?:#(\d+)|#x([0-9a-fA-F]+)|(amp|lt|gt|quot|apos));/g
const named: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }

const decodeText = (raw: string): string => {
  const cdata = /^\s*<!\[CDATA\[([\s\S]*)\]\]>\s*$/.exec(raw)
  if (cdata !== null) return cdata[1]!.trim()
  return raw
    .replace(entity, (_match, decimal: string | undefined, hex: string | undefined, name: string | undefined) =>
      decimal !== undefined ? String.fromCodePoint(Number(decimal)) : hex !== undefined ? String.fromCodePoint(parseInt(hex, 16)) : named[name!]!
    )
    .trim()
}

/** The `<Book>` records of a search answer, or a message saying why the text is not one. */
export const readBooks = (xml: string): { readonly books: ReadonlyArray<BookRecord> } | { readonly error: string } => {
  const body = xml.replace(/^\uFEFF?\s*(<\?xml[^>]*\?>)?\s*/, "")
  const root = /^<(searchResults|SearchResults)(\s[^>]*)?>([\s\S]*)<\/\1>\s*$/.exec(body)
  if (root === null) return { error: `not a searchResults document: ${JSON.stringify(body.slice(0, 120))}` }
  const books: Array<BookRecord> = []
  const content = root[3]!
  const bookPattern = /<Book(?:\s[^>]*)?>([\s\S]*?)<\/Book>/g
  for (const match of content.matchAll(bookPattern)) {
    const record: Record<string, string> = {}
    const inner = match[1]!
    const fieldPattern = /<([A-Za-z][\w.-]*)(?:\s[^>]*)?(?:\/>|>([\s\S]*?)<\/\1>)/g
    for (const field of inner.matchAll(fieldPattern)) {
      const text = field[2] ?? ""
      if (/<(?!!\[CDATA\[)/.test(text)) return { error: `<${field[1]}> in a <Book> has nested elements` }
      record[field[1]!] = decodeText(text)
    }
    if (inner.replace(fieldPattern, "").trim() !== "") return { error: "a <Book> holds text outside its elements" }
    books.push(record)
  }
  return { books }
}
