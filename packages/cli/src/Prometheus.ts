/**
 * Just enough of the Prometheus text format (what the server's `/metrics` renders) to read
 * counters, gauges and histograms back: samples with labels, sums over label filters, and
 * quantiles estimated from cumulative histogram buckets.
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

const unescape = (value: string) => value.replace(/\\(.)/g, (_, char: string) => (char === "n" ? "\n" : char))

const number = (text: string) => (text === "+Inf" ? Number.POSITIVE_INFINITY : text === "-Inf" ? Number.NEGATIVE_INFINITY : Number(text))

export const parse = (text: string): ReadonlyArray<Sample> => {
  const samples: Array<Sample> = []
  for (const raw of text.split("\n")) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/.exec(line)
    if (match === null) continue
    const labels: Record<string, string> = {}
    for (const label of (match[3] ?? "").matchAll(labelPattern)) labels[label[1]!] = unescape(label[2]!)
    const value = number(match[4]!)
    if (!Number.isNaN(value)) samples.push({ name: match[1]!, labels, value })
  }
  return samples
}

export type Filter = Readonly<Record<string, string>>

const matches = (sample: Sample, name: string, filter: Filter) =>
  sample.name === name && Object.entries(filter).every(([key, value]) => sample.labels[key] === value)

/** Whether any sample of the metric is present. */
export const has = (samples: ReadonlyArray<Sample>, name: string): boolean => samples.some((sample) => sample.name === name || sample.name.startsWith(`${name}_`))

/** The sum of the matching samples; undefined when there are none. */
export const sum = (samples: ReadonlyArray<Sample>, name: string, filter: Filter = {}): number | undefined => {
  let total: number | undefined
  for (const sample of samples) if (matches(sample, name, filter)) total = (total ?? 0) + sample.value
  return total
}

/** Sums grouped by one label's values. */
export const by = (samples: ReadonlyArray<Sample>, name: string, label: string, filter: Filter = {}): Map<string, number> => {
  const groups = new Map<string, number>()
  for (const sample of samples) {
    const key = sample.labels[label]
    if (key !== undefined && matches(sample, name, filter)) groups.set(key, (groups.get(key) ?? 0) + sample.value)
  }
  return groups
}

/** A histogram's cumulative buckets (`le` → count), deduplicated and ordered, summed over matching series. */
export const buckets = (samples: ReadonlyArray<Sample>, name: string, filter: Filter = {}): ReadonlyArray<readonly [le: number, count: number]> => {
  const perSeries = new Map<string, Map<number, number>>()
  for (const sample of samples) {
    if (!matches(sample, `${name}_bucket`, filter) || sample.labels["le"] === undefined) continue
    const series = JSON.stringify(Object.entries(sample.labels).filter(([key]) => key !== "le").sort())
    const map = perSeries.get(series) ?? new Map<number, number>()
    const le = number(sample.labels["le"])
    map.set(le, Math.max(map.get(le) ?? 0, sample.value))
    perSeries.set(series, map)
  }
  const total = new Map<number, number>()
  for (const map of perSeries.values()) for (const [le, count] of map) total.set(le, (total.get(le) ?? 0) + count)
  return [...total.entries()].sort((a, b) => a[0] - b[0])
}

/** Subtracts an earlier bucket snapshot (for the recent window between two scrapes). */
export const delta = (now: ReadonlyArray<readonly [number, number]>, before: ReadonlyArray<readonly [number, number]>): ReadonlyArray<readonly [number, number]> => {
  const earlier = new Map(before)
  return now.map(([le, count]) => [le, Math.max(0, count - (earlier.get(le) ?? 0))] as const)
}

/**
 * The q-quantile (0–1) from cumulative buckets, interpolating linearly inside the bucket as
 * Prometheus' `histogram_quantile` does; undefined without observations. Values in the open
 * +Inf bucket report the highest finite bound.
 */
export const quantile = (cumulative: ReadonlyArray<readonly [number, number]>, q: number): number | undefined => {
  const count = cumulative.at(-1)?.[1] ?? 0
  if (count <= 0) return undefined
  const rank = q * count
  let previousBound = 0
  let previousCount = 0
  for (const [le, cumulativeCount] of cumulative) {
    if (cumulativeCount >= rank) {
      if (!Number.isFinite(le)) return previousBound
      const inBucket = cumulativeCount - previousCount
      return inBucket <= 0 ? le : previousBound + ((le - previousBound) * (rank - previousCount)) / inBucket
    }
    previousBound = Number.isFinite(le) ? le : previousBound
    previousCount = cumulativeCount
  }
  return previousBound
}
