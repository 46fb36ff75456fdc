/**
 * API keys against real PostgreSQL: revocation and rotation, and how long a revoked key may
 * still sign in. Two `Access` services on one database stand for two server processes: each
 * remembers verified keys for `rememberMillis`, which is the whole bound — the one that revokes
 * forgets the owner's keys at once, the other refuses them once its memory runs out.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import * as Access from "../src/Access.js"
import * as TestDatabase from "../src/testing/TestDatabase.js"

const signedIn = (access: Access.AccessService, key: Redacted.Redacted<string>) => Effect.map(access.authenticate(key), Option.getOrUndefined)

describe("Access", () => {
  it.live("peek answers from what this process verified, never from the database, and keeps the revocation bound", () =>
    Effect.gen(function* () {
      const here = yield* Access.make
      const there = yield* Access.make
      const { customer: ada, apiKey } = yield* here.createCustomer("Ada")
      const key = Redacted.value(apiKey)
      // Not verified yet in either process: peek does not look it up.
      expect(here.peek(key)).toBeUndefined()
      expect(here.peek("not a key")).toBeUndefined()
      expect(yield* signedIn(here, apiKey)).toEqual({ kind: "customer", id: ada.id })
      expect(yield* signedIn(there, apiKey)).toEqual({ kind: "customer", id: ada.id })
      const verifiedBy = Date.now()
      expect(here.peek(key)).toEqual(Option.some({ kind: "customer", id: ada.id }))
      // An unknown key of the right shape, once looked up, is remembered as proving nothing.
      const unknown = `bb_cus_${"A".repeat(43)}`
      expect(yield* signedIn(here, Redacted.make(unknown))).toBeUndefined()
      expect(here.peek(unknown)).toEqual(Option.none())
      // Revoked here: forgotten here at once; the other process's memory runs out as authenticate's does.
      yield* here.revokeCustomerKeys(ada.id)
      expect(here.peek(key)).toBeUndefined()
      yield* Effect.sleep(Math.max(0, verifiedBy + Access.rememberMillis + 1 - Date.now()))
      expect(there.peek(key)).toBeUndefined()
    }).pipe(Effect.provide(TestDatabase.layer))
  )

  it.live("a revoked customer key is refused at once by the process that revoked it and within rememberMillis by every other", () =>
    Effect.gen(function* () {
      // The documented bound (docs/security.md, the revocation endpoints' descriptions).
      expect(Access.rememberMillis).toBeLessThanOrEqual(1_000)
      const here = yield* Access.make
      const there = yield* Access.make
      const { customer: ada, apiKey: adaKey } = yield* here.createCustomer("Ada")
      const { customer: bob, apiKey: bobKey } = yield* here.createCustomer("Bob")
      // Both processes have verified both keys (and remember them), by `verifiedBy` at the latest.
      for (const access of [here, there]) {
        expect(yield* signedIn(access, adaKey)).toEqual({ kind: "customer", id: ada.id })
        expect(yield* signedIn(access, bobKey)).toEqual({ kind: "customer", id: bob.id })
      }
      const verifiedBy = Date.now()
      expect(yield* here.revokeCustomerKeys(ada.id)).toMatchObject({ customer: { id: ada.id, name: "Ada" }, revoked: 1 })
      expect(yield* signedIn(here, adaKey)).toBeUndefined()
      // The other process may remember the key until rememberMillis after it verified it, and no
      // longer: once that has passed (however slow the machine, waiting longer proves the same),
      // it refuses it. No wall-clock limit is asserted.
      yield* Effect.sleep(Math.max(0, verifiedBy + Access.rememberMillis + 1 - Date.now()))
      expect(yield* signedIn(there, adaKey)).toBeUndefined()
      // Bob signs in everywhere throughout.
      for (const access of [here, there]) expect(yield* signedIn(access, bobKey)).toEqual({ kind: "customer", id: bob.id })
    }).pipe(Effect.provide(TestDatabase.layer))
  )

  it.live("only a key of the issued shape is looked up: a right prefix with the wrong length or alphabet signs in nobody", () =>
    Effect.gen(function* () {
      const access = yield* Access.make
      const { customer, apiKey } = yield* access.createCustomer("Ada")
      const key = Redacted.value(apiKey)
      expect(yield* signedIn(access, apiKey)).toEqual({ kind: "customer", id: customer.id })
      for (const forged of [key.slice(0, -1), `${key}A`, `${key.slice(0, -1)}!`, key.replace("bb_cus_", "bb_xyz_"), `${key}\n`]) {
        expect(yield* signedIn(access, Redacted.make(forged))).toBeUndefined()
      }
    }).pipe(Effect.provide(TestDatabase.layer))
  )

  it.live("replacing a key revokes the others and issues one that works; unknown customers are CustomerNotFound", () =>
    Effect.gen(function* () {
      const access = yield* Access.make
      const { customer, apiKey: first } = yield* access.createCustomer("Ada", "ada@example.com")
      expect(yield* signedIn(access, first)).toEqual({ kind: "customer", id: customer.id })
      const replaced = yield* access.replaceCustomerKey(customer.id)
      expect(replaced).toMatchObject({ customer: { id: customer.id, email: "ada@example.com" }, revoked: 1 })
      expect(yield* signedIn(access, first)).toBeUndefined()
      expect(yield* signedIn(access, replaced.apiKey)).toEqual({ kind: "customer", id: customer.id })
      // A customer's own rotation (issueKey with rotate) does the same.
      const rotated = yield* access.issueKey({ kind: "customer", id: customer.id }, { rotate: true })
      expect(yield* signedIn(access, replaced.apiKey)).toBeUndefined()
      expect(yield* signedIn(access, rotated)).toEqual({ kind: "customer", id: customer.id })

      for (const id of [crypto.randomUUID(), "not-a-uuid", ""]) {
        const revoke = yield* Effect.flip(access.revokeCustomerKeys(id))
        expect(revoke).toMatchObject({ _tag: "CustomerNotFound", id })
        expect(revoke.message).toBe(`no customer ${id}`)
        expect((yield* Effect.flip(access.replaceCustomerKey(id)))._tag).toBe("CustomerNotFound")
      }
      // A seller's keys are not a customer's: revoking a customer never touches them.
      const sellerId = crypto.randomUUID()
      const sellerKey = yield* access.issueKey({ kind: "seller", id: sellerId })
      expect((yield* Effect.flip(access.revokeCustomerKeys(sellerId)))._tag).toBe("CustomerNotFound")
      expect(yield* signedIn(access, sellerKey)).toEqual({ kind: "seller", id: sellerId })
    }).pipe(Effect.provide(TestDatabase.layer))
  )
})
