/**
 * The per-turn batch of seller scripts (`state/internal/scriptBatch.ts`) against a real Redis at
 * 127.0.0.1:6379: calls of one turn leave as one round trip, each with its own answer or error.
 * The scripts here stand in for admission and completion under the same names.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { randomUUID } from "node:crypto"
import { Redis } from "ioredis"
import { makeScriptBatch } from "../src/state/internal/scriptBatch.js"

const prefix = `bbtest-${randomUUID()}`
let client: Redis

const connect = (url: string) => {
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true })
  redis.on("error", () => {})
  // A counter per key; 'fail' as the argument makes the script answer an error.
  redis.defineCommand("bookbrokerAdmit", {
    numberOfKeys: 1,
    lua: "if ARGV[1] == 'fail' then return redis.error_reply('refused') end return {KEYS[1], redis.call('INCR', KEYS[1])}"
  })
  redis.defineCommand("bookbrokerComplete", { numberOfKeys: 1, lua: "return redis.call('DECR', KEYS[1])" })
  return redis
}

beforeAll(async () => {
  client = connect("redis://127.0.0.1:6379")
  await client.connect()
})

afterAll(async () => {
  const keys = await client.keys(`${prefix}:*`)
  if (keys.length > 0) await client.del(...keys)
  client.disconnect()
})

describe("ScriptBatch", () => {
  it("sends the calls of one turn as one round trip, each answered on its own, in order per key", async () => {
    const batch = makeScriptBatch(client)
    const keys = Array.from({ length: 20 }, (_, i) => `${prefix}:{seller:${i % 5}}:n`)
    const answers = await Promise.all(keys.map((key) => batch.send("bookbrokerAdmit", [key, "go"])))
    expect(batch.counts()).toEqual({ roundTrips: 1, calls: 20 })
    // Every call ran as its own script: each key counted to 4, one call after the other.
    expect(answers).toEqual(keys.map((key, i) => [key, Math.floor(i / 5) + 1]))

    // The next turn's calls are the next round trip; completions batch the same way.
    const done = await Promise.all(keys.slice(0, 5).map((key) => batch.send("bookbrokerComplete", [key])))
    expect(done).toEqual([3, 3, 3, 3, 3])
    expect(batch.counts()).toEqual({ roundTrips: 2, calls: 25 })

    // A lone call goes as itself.
    expect(await batch.send("bookbrokerComplete", [keys[0]!])).toBe(2)
    expect(batch.counts()).toEqual({ roundTrips: 3, calls: 26 })
  })

  it("an error answer fails only its own call", async () => {
    const batch = makeScriptBatch(client)
    const key = `${prefix}:{seller:x}:n`
    const answers = await Promise.allSettled([batch.send("bookbrokerAdmit", [key, "go"]), batch.send("bookbrokerAdmit", [key, "fail"]), batch.send("bookbrokerAdmit", [key, "go"])])
    expect(answers.map((answer) => answer.status)).toEqual(["fulfilled", "rejected", "fulfilled"])
    expect(answers[2]).toEqual({ status: "fulfilled", value: [key, 2] })
    expect(batch.counts().roundTrips).toBe(1)
  })

  it("not connected: every call of the batch fails, none hangs", async () => {
    const offline = connect("redis://127.0.0.1:1")
    try {
      const batch = makeScriptBatch(offline)
      const answers = await Promise.allSettled([batch.send("bookbrokerAdmit", ["k", "go"]), batch.send("bookbrokerComplete", ["k"])])
      expect(answers.map((answer) => answer.status)).toEqual(["rejected", "rejected"])
    } finally {
      offline.disconnect()
    }
  })
})
