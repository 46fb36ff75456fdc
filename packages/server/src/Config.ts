/** Server settings the handlers read (limits, links, seller activation policy). */
import { Context } from "effect"

export interface ServerSettings {
  /** Per-customer submissions: requests per second and burst, shared by all processes. */
  readonly customerRateLimit: { readonly requestsPerSecond: number; readonly burst: number }
  /** Seller registrations per client IP: requests per second and burst, shared by all processes. */
  readonly sellerRegistrationRateLimit: { readonly requestsPerSecond: number; readonly burst: number }
  /**
   * Failed sign-ins (unknown keys, wrong operator tokens) per client address: per second and
   * burst, shared by all processes; past them the address is refused for `blockMillis` (`SignInFailures.ts`).
   */
  readonly signInFailureLimit: { readonly requestsPerSecond: number; readonly burst: number; readonly blockMillis: number }
  /** Largest accepted request body, in bytes. */
  readonly maxBodyBytes: number
  /** New sellers start active (demo) instead of pending an operator's activation. */
  readonly autoActivateSellers: boolean
  /** How long `GET /v1/books/{isbn}/offers` waits for sellers. */
  readonly offersDeadlineMillis: number
}

export const defaultSettings: ServerSettings = {
  customerRateLimit: { requestsPerSecond: 20, burst: 40 },
  sellerRegistrationRateLimit: { requestsPerSecond: 0.1, burst: 10 },
  // Generous for people and scripts that get a key wrong; a guesser gets two tries a second.
  signInFailureLimit: { requestsPerSecond: 2, burst: 100, blockMillis: 10_000 },
  maxBodyBytes: 64 * 1024,
  autoActivateSellers: false,
  offersDeadlineMillis: 5_000
}

export class Settings extends Context.Service<Settings, ServerSettings>()("@bookbroker/server/Settings") {}
