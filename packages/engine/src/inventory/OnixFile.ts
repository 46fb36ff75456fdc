/**
 * An ONIX for Books 3.0 message (the XML feed publishers and distributors send) read as an
 * inventory file, as it streams in: each `<Product>` becomes one `ListingRow` (or a `RowError`
 * naming the ONIX element at fault and the line where the Product starts), exactly as
 * `InventoryFile` does for tab-separated and JSON Lines files, so the upload job treats all three
 * alike. Reference tags and short tags are both read, with or without a namespace (the URI is not
 * checked). XML that is not well-formed, not UTF-8, or not an ONIX 3.x message is `FileRefused`:
 * XML has no "skip this line", and a truncated snapshot must never retire the rest of a seller's
 * stock. Memory is bounded: the message is never held whole, only the Product being read is kept
 * (at most `maxItems` identifiers, contributors and prices, each text cut at 4,096 characters),
 * and text the XML parser buffers between two events is capped (`maxTextChars`), as is nesting.
 * The parser resolves no external entity and reads no DTD. Which price a listing gets and how
 * availability becomes a quantity are pure rules in files of their own (`OnixPrice`,
 * `OnixAvailability`), tested alone and written down for sellers in docs/publish-inventory.md.
 */
import { Isbn, Money } from "@bookbroker/adapter-sdk"
import { Option, Result } from "effect"
import { SaxesParser } from "saxes"
import type { Binding, ListingRow, Parsed, Parser, RowError } from "./InventoryFile.js"
import { checkFirstChunk, cut, isKnownCurrency, listingIdRefusal, refusals, unknownCurrency } from "./ListingRules.js"
import { quantityOf } from "./OnixAvailability.js"
import { choosePrice, retailPriceTypes } from "./OnixPrice.js"

export interface OnixOptions {
  /** The prices' currency when neither the price nor the header's DefaultCurrencyCode says (ISO 4217). */
  readonly defaultCurrency: string
  /** Text the XML parser may hold between two events (one element's text, one tag with its attributes); more refuses the file. Default 1,000,000. */
  readonly maxTextChars?: number
}

/** Short tags (§4 of the spec, plus the tag table it cites) → reference names. Composites' short tags are their lower-cased reference names. */
const shortTags: ReadonlyMap<string, string> = new Map([
  ["a001", "RecordReference"],
  ["a002", "NotificationType"],
  ["b221", "ProductIDType"],
  ["b244", "IDValue"],
  ["b012", "ProductForm"],
  ["b202", "TitleType"],
  ["x409", "TitleElementLevel"],
  ["b203", "TitleText"],
  ["b030", "TitlePrefix"],
  ["b031", "TitleWithoutPrefix"],
  ["b034", "SequenceNumber"],
  ["b035", "ContributorRole"],
  ["b036", "PersonName"],
  ["b037", "PersonNameInverted"],
  ["b039", "NamesBeforeKey"],
  ["b040", "KeyNames"],
  ["b047", "CorporateName"],
  ["b291", "PublishingRole"],
  ["b081", "PublisherName"],
  ["x448", "PublishingDateRole"],
  ["b306", "Date"],
  ["j396", "ProductAvailability"],
  ["j350", "OnHand"],
  ["j192", "UnpricedItemType"],
  ["x462", "PriceType"],
  ["j151", "PriceAmount"],
  ["j152", "CurrencyCode"],
  // Header elements: not in the tag table the spec cites (UNCONFIRMED, see the docs).
  ["m186", "DefaultCurrencyCode"],
  ["x310", "DefaultPriceType"],
  ["ONIXmessage", "ONIXMessage"],
  ...[
    "ONIXMessage",
    "Header",
    "Product",
    "ProductIdentifier",
    "DescriptiveDetail",
    "TitleDetail",
    "TitleElement",
    "Contributor",
    "PublishingDetail",
    "Publisher",
    "PublishingDate",
    "ProductSupply",
    "SupplyDetail",
    "Stock",
    "Price"
  ].map((name) => [name.toLowerCase(), name] as const)
])

/** Elements whose text is read; every other element's text is ignored unread. */
const leaves: ReadonlySet<string> = new Set([
  "RecordReference",
  "NotificationType",
  "ProductIDType",
  "IDValue",
  "ProductForm",
  "TitleType",
  "TitleElementLevel",
  "TitleText",
  "TitlePrefix",
  "TitleWithoutPrefix",
  "SequenceNumber",
  "ContributorRole",
  "PersonName",
  "PersonNameInverted",
  "NamesBeforeKey",
  "KeyNames",
  "CorporateName",
  "PublishingRole",
  "PublisherName",
  "PublishingDateRole",
  "Date",
  "ProductAvailability",
  "OnHand",
  "UnpricedItemType",
  "PriceType",
  "PriceAmount",
  "CurrencyCode",
  "DefaultCurrencyCode",
  "DefaultPriceType"
])

const maxKeptText = 4_096
const maxDepth = 64
/** Per Product: identifiers, titles, contributors, publishers, dates, supply details and prices kept (more are ignored). */
const maxItems = 64

interface PriceCandidate {
  type: string | null
  amount: string | null
  currency: string | null
}

interface SupplyCandidate {
  availability: string | null
  onHand: Array<string>
  unpriced: string | null
  prices: Array<PriceCandidate>
}

interface ProductRecord {
  line: number
  recordReference: string | null
  notification: string | null
  identifiers: Array<{ type: string | null; value: string | null }>
  form: string | null
  titles: Array<{ titleType: string | null; level: string | null; text: string | null; prefix: string | null; withoutPrefix: string | null }>
  contributors: Array<{ roles: Array<string>; sequence: string | null; personName: string | null; inverted: string | null; beforeKey: string | null; keyNames: string | null; corporate: string | null }>
  publishers: Array<{ role: string | null; name: string | null }>
  dates: Array<{ role: string | null; date: string | null }>
  supplies: Array<SupplyCandidate>
}

// ---- binding (pure) ------------------------------------------------------------------------------

/** ProductForm (List 150): BB hardback, BC paperback; another form is "other". */
export const bindingOf = (form: string | null): Binding | null => (form === null ? null : form === "BB" ? "hardcover" : form === "BC" ? "softcover" : "other")

// ---- the reader ------------------------------------------------------------------------------

/**
 * Starts reading one ONIX message. Its `linesRead` counts the Products read.
 *
 * @example
 * const file = OnixFile.parser({ defaultCurrency: "EUR" })
 * for await (const chunk of body) take(file.push(chunk))
 * take(file.end())
 */
export const parser = (options: OnixOptions): Parser => {
  const uploadCurrency = options.defaultCurrency.trim().toUpperCase()
  const maxTextChars = options.maxTextChars ?? 1_000_000
  const decoder = new TextDecoder("utf-8", { fatal: true })
  const xml = new SaxesParser({ xmlns: false, position: true })
  const { refuse, rethrow } = refusals()

  /** Reference names of the open elements, root first. */
  const stack: Array<string> = []
  let rootSeen = false
  let inHeader = false
  let headerCurrency: string | null = null
  let headerPriceType: string | null = null
  let product: ProductRecord | undefined
  /** The TitleType of the TitleDetail being read (it comes before its TitleElements). */
  let pendingTitleType: string | null = null
  let capturing = false
  let captured = ""
  /** Characters given to the XML parser since it last emitted something (what it may be holding). */
  let sinceEvent = 0
  let bytesSeen = 0
  let products = 0
  let ended = false
  let rows: Array<ListingRow> = []
  let errors: Array<RowError> = []

  const nameOf = (tag: { readonly name: string }): string => {
    const colon = tag.name.indexOf(":")
    const local = colon === -1 ? tag.name : tag.name.slice(colon + 1)
    return shortTags.get(local) ?? local
  }

  xml.on("error", (error) => {
    // saxes prefixes its messages with "line:column: ".
    const message = error.message.replace(/^\d+:\d+:\s*/, "")
    if (!rootSeen) refuse(`not an XML document (${message}): send ONIX as XML, or a tab-separated / JSON Lines file with its own content type`, xml.line)
    refuse(`the XML is not well-formed (${message}): nothing of it was applied`, xml.line)
  })
  xml.on("xmldecl", (declaration) => {
    sinceEvent = 0
    const encoding = declaration.encoding
    if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) refuse(`the XML declares encoding "${encoding}": bookbroker reads ONIX in UTF-8 only, save or export it as UTF-8`, 1)
  })
  const reset = () => {
    sinceEvent = 0
  }
  xml.on("comment", reset)
  xml.on("processinginstruction", reset)
  xml.on("doctype", reset)
  xml.on("cdata", (text) => {
    sinceEvent = 0
    if (capturing && captured.length < maxKeptText) captured += text.slice(0, maxKeptText - captured.length)
  })
  xml.on("text", (text) => {
    sinceEvent = 0
    if (capturing && captured.length < maxKeptText) captured += text.slice(0, maxKeptText - captured.length)
  })

  xml.on("opentagstart", (tag) => {
    sinceEvent = 0
    const name = nameOf(tag)
    if (!rootSeen) {
      rootSeen = true
      if (name !== "ONIXMessage") {
        refuse(`not an ONIX message: the root element is <${tag.name}>, not <ONIXMessage> (reference tags) or <ONIXmessage> (short tags)`, xml.line)
      }
    }
    if (stack.length >= maxDepth) refuse(`elements are nested more than ${maxDepth} deep`, xml.line)
    stack.push(name)
    const depth = stack.length
    if (depth === 2) {
      if (name === "Header") inHeader = true
      else if (name === "Product") product = newProduct(xml.line)
    } else if (product !== undefined) {
      opened(product, name, stack[depth - 2]!)
    }
    capturing = (product !== undefined || inHeader) && leaves.has(name)
    captured = ""
  })

  xml.on("opentag", (tag) => {
    sinceEvent = 0
    if (stack.length === 1) {
      const release = typeof tag.attributes["release"] === "string" ? tag.attributes["release"] : undefined
      if (release === undefined || !/^3\.\d+$/.test(release.trim())) {
        refuse(
          release === undefined
            ? `the <${tag.name}> has no release attribute (an ONIX 2.1 message?): bookbroker reads ONIX 3.0 (release="3.0" or "3.1")`
            : `this is ONIX release ${release}: bookbroker reads ONIX 3.0 (release="3.0" or "3.1")`,
          xml.line
        )
      }
    }
  })

  xml.on("closetag", () => {
    sinceEvent = 0
    const depth = stack.length
    const name = stack.pop()!
    const parent = stack[depth - 2]
    if (capturing) {
      capturing = false
      const value = captured.trim()
      captured = ""
      if (inHeader && parent === "Header") {
        if (name === "DefaultCurrencyCode") headerCurrency = value.toUpperCase()
        else if (name === "DefaultPriceType") headerPriceType = value
      } else if (product !== undefined && parent !== undefined) {
        leaf(product, name, parent, stack[depth - 3], value)
      }
      return
    }
    if (depth === 2) {
      if (name === "Header") inHeader = false
      else if (name === "Product" && product !== undefined) {
        products++
        finish(product)
        product = undefined
      }
    }
  })

  // ---- one Product -----------------------------------------------------------------------------

  const newProduct = (line: number): ProductRecord => ({
    line,
    recordReference: null,
    notification: null,
    identifiers: [],
    form: null,
    titles: [],
    contributors: [],
    publishers: [],
    dates: [],
    supplies: []
  })

  /** A composite opened inside a Product: a new item to fill (up to `maxItems` of a kind). */
  const opened = (record: ProductRecord, name: string, parent: string): void => {
    if (name === "ProductIdentifier" && parent === "Product") {
      if (record.identifiers.length < maxItems) record.identifiers.push({ type: null, value: null })
    } else if (name === "TitleElement" && parent === "TitleDetail" && stack[stack.length - 3] === "DescriptiveDetail") {
      if (record.titles.length < maxItems) record.titles.push({ titleType: pendingTitleType, level: null, text: null, prefix: null, withoutPrefix: null })
    } else if (name === "TitleDetail" && parent === "DescriptiveDetail") {
      pendingTitleType = null
    } else if (name === "Contributor" && parent === "DescriptiveDetail") {
      if (record.contributors.length < maxItems) record.contributors.push({ roles: [], sequence: null, personName: null, inverted: null, beforeKey: null, keyNames: null, corporate: null })
    } else if (name === "Publisher" && parent === "PublishingDetail") {
      if (record.publishers.length < maxItems) record.publishers.push({ role: null, name: null })
    } else if (name === "PublishingDate" && parent === "PublishingDetail") {
      if (record.dates.length < maxItems) record.dates.push({ role: null, date: null })
    } else if (name === "SupplyDetail" && parent === "ProductSupply") {
      if (record.supplies.length < maxItems) record.supplies.push({ availability: null, onHand: [], unpriced: null, prices: [] })
    } else if (name === "Price" && parent === "SupplyDetail") {
      const supply = record.supplies.at(-1)
      if (supply !== undefined && supply.prices.length < maxItems) supply.prices.push({ type: null, amount: null, currency: null })
    }
  }

  /** A leaf's text inside a Product, put where it belongs (the last item of its kind). */
  const leaf = (record: ProductRecord, name: string, parent: string, grandparent: string | undefined, value: string): void => {
    switch (parent) {
      case "Product":
        if (name === "RecordReference") record.recordReference = value
        else if (name === "NotificationType") record.notification = value
        return
      case "ProductIdentifier": {
        const identifier = grandparent === "Product" ? record.identifiers.at(-1) : undefined
        if (identifier === undefined) return
        if (name === "ProductIDType") identifier.type = value
        else if (name === "IDValue") identifier.value = value
        return
      }
      case "DescriptiveDetail":
        if (name === "ProductForm") record.form = value
        return
      case "TitleDetail":
        if (name === "TitleType" && grandparent === "DescriptiveDetail") pendingTitleType = value
        return
      case "TitleElement": {
        // `stack` holds the ancestors of the TitleElement: …, DescriptiveDetail, TitleDetail, TitleElement.
        const title = grandparent === "TitleDetail" && stack[stack.length - 3] === "DescriptiveDetail" ? record.titles.at(-1) : undefined
        if (title === undefined) return
        if (name === "TitleElementLevel") title.level = value
        else if (name === "TitleText") title.text = value
        else if (name === "TitlePrefix") title.prefix = value
        else if (name === "TitleWithoutPrefix") title.withoutPrefix = value
        return
      }
      case "Contributor": {
        const contributor = grandparent === "DescriptiveDetail" ? record.contributors.at(-1) : undefined
        if (contributor === undefined) return
        if (name === "ContributorRole") {
          if (contributor.roles.length < maxItems) contributor.roles.push(value)
        } else if (name === "SequenceNumber") contributor.sequence = value
        else if (name === "PersonName") contributor.personName = value
        else if (name === "PersonNameInverted") contributor.inverted = value
        else if (name === "NamesBeforeKey") contributor.beforeKey = value
        else if (name === "KeyNames") contributor.keyNames = value
        else if (name === "CorporateName") contributor.corporate = value
        return
      }
      case "Publisher": {
        const publisher = grandparent === "PublishingDetail" ? record.publishers.at(-1) : undefined
        if (publisher === undefined) return
        if (name === "PublishingRole") publisher.role = value
        else if (name === "PublisherName") publisher.name = value
        return
      }
      case "PublishingDate": {
        const date = grandparent === "PublishingDetail" ? record.dates.at(-1) : undefined
        if (date === undefined) return
        if (name === "PublishingDateRole") date.role = value
        else if (name === "Date") date.date = value
        return
      }
      case "SupplyDetail": {
        const supply = grandparent === "ProductSupply" ? record.supplies.at(-1) : undefined
        if (supply === undefined) return
        if (name === "ProductAvailability") supply.availability = value
        else if (name === "UnpricedItemType") supply.unpriced = value
        return
      }
      case "Stock": {
        const supply = grandparent === "SupplyDetail" ? record.supplies.at(-1) : undefined
        if (supply !== undefined && name === "OnHand" && supply.onHand.length < maxItems) supply.onHand.push(value)
        return
      }
      case "Price": {
        const price = grandparent === "SupplyDetail" ? record.supplies.at(-1)?.prices.at(-1) : undefined
        if (price === undefined) return
        if (name === "PriceType") price.type = value
        else if (name === "PriceAmount") price.amount = value
        else if (name === "CurrencyCode") price.currency = value.toUpperCase()
        return
      }
    }
  }

  /** A closed Product into a row, or the first thing wrong with it. */
  const finish = (record: ProductRecord): void => {
    const line = record.line
    const fail = (field: string, reason: string): void => {
      errors.push({ line, field, reason })
    }
    const listingId = record.recordReference ?? ""
    if (listingId.length === 0) return fail("RecordReference", "RecordReference is missing or empty: bookbroker keeps each Product under it")
    const listingIdRefused = listingIdRefusal(listingId, "RecordReference")
    if (listingIdRefused !== undefined) return fail("RecordReference", listingIdRefused)

    const isbn = isbnOf(record.identifiers)
    if (typeof isbn === "string") return fail("ProductIdentifier", isbn)

    const row = {
      line,
      listingId,
      isbn: isbn.value,
      shipping: null,
      condition: "new" as const,
      binding: bindingOf(record.form),
      title: cut(titleOf(record.titles)),
      author: cut(authorOf(record.contributors)),
      publisher: cut(publisherOf(record.publishers)),
      year: yearOf(record.dates)
    }
    // A delete notification retires the listing, whatever else the record says.
    if (record.notification === "05") return void rows.push({ ...row, price: null, currency: null, quantity: 0 })

    const chosen = choosePrice(record.supplies, { priceType: headerPriceType, currency: headerCurrency, uploadCurrency })
    if (chosen === undefined) {
      // Nothing orderable needs no price: the listing is retired.
      const quantities = record.supplies.map(quantityOf)
      const problem = quantities.find((quantity) => typeof quantity !== "number")
      if (record.supplies.length > 0 && problem === undefined && quantities.every((quantity) => quantity === 0)) {
        return void rows.push({ ...row, price: null, currency: null, quantity: 0 })
      }
      if (problem !== undefined && typeof problem !== "number") return fail(problem.field, problem.reason)
      const unpriced = record.supplies.find((supply) => supply.unpriced !== null)?.unpriced
      if (unpriced !== undefined && unpriced !== null) {
        return fail("UnpricedItemType", `the Product is unpriced (UnpricedItemType ${unpriced}): bookbroker lists books with a price only`)
      }
      return fail(
        "PriceAmount",
        record.supplies.length === 0
          ? "no ProductSupply/SupplyDetail: the Product has no price or availability"
          : `no consumer price: a Price with PriceType ${retailPriceTypes.join(", ")} and a PriceAmount is needed (trade prices are not used)`
      )
    }
    const quantity = quantityOf(record.supplies[chosen.supply]!)
    if (typeof quantity !== "number") return fail(quantity.field, quantity.reason)

    const currencyText = chosen.currency
    if (currencyText !== null && !isKnownCurrency(currencyText)) {
      return fail(
        currencyText === headerCurrency && currencyText !== null ? "DefaultCurrencyCode" : "CurrencyCode",
        unknownCurrency(currencyText)
      )
    }
    const currency = currencyText ?? uploadCurrency
    const money = Money.fromDecimal(chosen.amount, currency)
    if (Result.isFailure(money)) return fail("PriceAmount", `PriceAmount ${money.failure}`)
    if (money.success.amount === 0 && quantity > 0) {
      return fail("PriceAmount", "PriceAmount is 0: ONIX gives a free product an UnpricedItemType, not a zero price; bookbroker lists books with a price only")
    }
    rows.push({ ...row, price: money.success.amount, currency: currencyText, quantity })
  }

  // ---- chunks ----------------------------------------------------------------------------------

  /** Writes text to the XML parser in slices, so that what it buffers between events stays bounded. */
  const write = (text: string): void => {
    const slice = 65_536
    for (let at = 0; at < text.length; at += slice) {
      const part = at === 0 && text.length <= slice ? text : text.slice(at, at + slice)
      sinceEvent += part.length
      xml.write(part)
      if (sinceEvent > maxTextChars) refuse(`more than ${maxTextChars} characters without a tag (one element's text or one tag): the file was not read further`, xml.line)
    }
  }

  const begin = (): void => {
    rethrow()
    if (ended) throw new Error("OnixFile: the parser was used after end()")
    rows = []
    errors = []
  }

  const push = (chunk: Uint8Array): Parsed => {
    begin()
    if (bytesSeen === 0) checkFirstChunk(chunk, options.defaultCurrency, refuse)
    bytesSeen += chunk.length
    let text: string
    try {
      text = decoder.decode(chunk, { stream: true })
    } catch {
      return refuse(`the file is not UTF-8 text (after line ${xml.line}): save or export it as UTF-8`, xml.line)
    }
    write(text)
    return { rows, errors }
  }

  const end = (): Parsed => {
    begin()
    let text: string
    try {
      text = decoder.decode()
    } catch {
      return refuse(`the file is not UTF-8 text (it ends inside a character): save or export it as UTF-8`, xml.line)
    }
    write(text)
    ended = true
    if (bytesSeen === 0) refuse("the file is empty")
    if (!rootSeen) refuse("no XML element in the file: not an ONIX message")
    if (stack.length > 0) refuse(`the message ends before </${stack[0]}>: the file is incomplete, nothing of it was applied`, xml.line)
    xml.close()
    return { rows, errors }
  }

  return { push, end, linesRead: () => products }
}

// ---- field readers (pure) ----------------------------------------------------------------------

/** ProductIDType 15 (ISBN-13), else 03 (GTIN-13) when it is an ISBN; a reason otherwise. */
const isbnOf = (identifiers: ReadonlyArray<{ readonly type: string | null; readonly value: string | null }>): { readonly value: Isbn.Isbn13 } | string => {
  for (const wanted of ["15", "03"]) {
    for (const identifier of identifiers) {
      if (identifier.type !== wanted) continue
      const compact = (identifier.value ?? "").replace(/[-\s]/g, "")
      const isbn = /^97[89]\d{10}$/.test(compact) ? Isbn.parseOnce(compact) : Option.none()
      if (Option.isSome(isbn)) return { value: isbn.value }
      if (wanted === "15") return `IDValue "${identifier.value ?? ""}" of ProductIDType 15 is not a valid ISBN-13 (13 digits, check digit right)`
    }
  }
  return identifiers.some((identifier) => identifier.type === "02")
    ? "only an ISBN-10 (ProductIDType 02, deprecated): send the ISBN-13 as ProductIDType 15"
    : "no ISBN: a ProductIdentifier with ProductIDType 15 (ISBN-13), or 03 (GTIN-13 starting 978/979), is needed"
}

/** The distinctive title (TitleType 01) at product level (TitleElementLevel 01) first. */
const titleOf = (titles: ProductRecord["titles"]): string | null => {
  const rank = (title: ProductRecord["titles"][number]) => (title.titleType === "01" || title.titleType === null ? 0 : 2) + (title.level === "01" || title.level === null ? 0 : 1)
  let best: ProductRecord["titles"][number] | undefined
  for (const title of titles) if (best === undefined || rank(title) < rank(best)) best = title
  if (best === undefined) return null
  if (best.text !== null && best.text !== "") return best.text
  const joined = [best.prefix, best.withoutPrefix].filter((part) => part !== null && part !== "").join(" ")
  return joined === "" ? null : joined
}

/** The first author (ContributorRole A01, lowest SequenceNumber), by the fullest name form given. */
const authorOf = (contributors: ProductRecord["contributors"]): string | null => {
  let best: ProductRecord["contributors"][number] | undefined
  const sequence = (contributor: ProductRecord["contributors"][number]) => (contributor.sequence === null ? Number.MAX_SAFE_INTEGER : Number(contributor.sequence) || Number.MAX_SAFE_INTEGER)
  for (const contributor of contributors) {
    if (!contributor.roles.includes("A01")) continue
    if (best === undefined || sequence(contributor) < sequence(best)) best = contributor
  }
  if (best === undefined) return null
  const keyed = [best.beforeKey, best.keyNames].filter((part) => part !== null && part !== "").join(" ")
  return nonEmpty(best.personName) ?? (keyed === "" ? null : keyed) ?? nonEmpty(best.inverted) ?? nonEmpty(best.corporate)
}

/** PublishingRole 01 (publisher) first, else the first Publisher named. */
const publisherOf = (publishers: ProductRecord["publishers"]): string | null =>
  nonEmpty(publishers.find((publisher) => publisher.role === "01" && nonEmpty(publisher.name) !== null)?.name) ?? nonEmpty(publishers.find((publisher) => nonEmpty(publisher.name) !== null)?.name)

/** The year of the publication date (PublishingDateRole 01), else of the first date; 1000..2100. */
const yearOf = (dates: ProductRecord["dates"]): number | null => {
  const date = dates.find((candidate) => candidate.role === "01") ?? dates[0]
  const match = date?.date === null || date === undefined ? null : /^(\d{4})/.exec(date.date)
  if (match === null) return null
  const year = Number(match[1])
  return year >= 1000 && year <= 2100 ? year : null
}

const nonEmpty = (text: string | null | undefined): string | null => (text === null || text === undefined || text === "" ? null : text)
