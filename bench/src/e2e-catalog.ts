/**
 * The catalog for `e2e.ts`, in a short-lived process of its own: generates the catalog
 * (`generateIsbns`: about 5 s and 300 MB for a million ISBNs) and answers only the ISBNs at the
 * indexes the load will ask for, so the load driver's own memory stays that of a load driver.
 *
 *   tsx bench/src/e2e-catalog.ts --size 1000000 --seed 1 < indexes.json > isbns.json
 */
import { generateIsbns } from "@bookbroker/adapter-sdk/testing"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

/** The ISBNs at `indexes` of the catalog of `size` for `seed`, computed in a child process. */
export const catalogIsbns = (size: number, seed: number, indexes: ReadonlyArray<number>): Promise<Array<string>> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--size", String(size), "--seed", String(seed)], {
      stdio: ["pipe", "pipe", "inherit"]
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.once("error", reject)
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`the catalog process exited with ${code}`))
      try {
        resolve(JSON.parse(output) as Array<string>)
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)))
      }
    })
    child.stdin.end(JSON.stringify(indexes))
  })

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { size: { type: "string" }, seed: { type: "string", default: "1" } } })
  let input = ""
  for await (const chunk of process.stdin) input += String(chunk)
  const indexes = JSON.parse(input) as Array<number>
  const isbns = generateIsbns({ size: Number(values.size), seed: Number(values.seed) })
  process.stdout.write(JSON.stringify(indexes.map((index) => isbns[index])))
}
