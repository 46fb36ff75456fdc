/**
 * The catalog for `e2e.ts`, in a short-lived process of its own: generates the catalog
 * (`generateIsbns`: about 5 s and 300 MB for a million ISBNs) and answers only the ISBNs at the
 * indexes the load will ask for, so the load driver's own memory stays that of a load driver.
 *
 *   tsx bench/src/e2e-catalog.ts --size 1000000 --seed 1 < indexes.json > isbns.json
 */
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { runHelper } from "./support.js"

/** The ISBNs at `indexes` of the catalog of `size` for `seed`, computed in a child process. */
export const catalogIsbns = (size: number, seed: number, indexes: ReadonlyArray<number>): Promise<Array<string>> =>
  runHelper(import.meta.url, ["--size", String(size), "--seed", String(seed)], indexes)

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { size: { type: "string" }, seed: { type: "string", default: "1" } } })
  let input = ""
  for await (const chunk of process.stdin) input += String(chunk)
  const indexes = JSON.parse(input) as Array<number>
  const isbns = generateIsbns({ size: Number(values.size), seed: Number(values.seed) })
  process.stdout.write(JSON.stringify(indexes.map((index) => isbns[index])))
}
