/** Server settings the handlers read (limits, links, seller activation policy). */
import { Context } from "effect"

export interface ServerSettings {
  /** Per-customer submissions (and offer look-ups, a budget of their own): requests per second and burst, shared by all processes. */
  readonly customerRateLimit: { readonly requestsPerSecond: number; readonly burst: number }
  /**
   * Every request a customer or seller key makes, reads included, per principal: requests per
   * second and burst, shared by all processes; submissions count here and against
   * `customerRateLimit`. Operator calls are not limited (one token held by the people running
   * the service; guessing it is `signInFailureLimit`'s). Left unset, it is never below
   * `customerRateLimit` (`effectiveSettings`): a submission is a request too, so a smaller
   * budget here would quietly lower a raised submission limit.
   */
  readonly principalRateLimit: { readonly requestsPerSecond: number; readonly burst: number }
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
  /**
   * Answer ordinary `POST /v1/purchase-requests` on the fast intake lane (`FastIntake.ts`): the
   * same answers at about half the CPU. Off, every request takes the router; `serve` turns it off
   * when tracing is on (the lane makes no HTTP server span).
   */
  readonly fastIntake: boolean
}

export const defaultSettings: ServerSettings = {
  customerRateLimit: { requestsPerSecond: 20, burst: 40 },
  // A client polling a few requests every 200 ms never meets it; a loop reading as fast as it can does.
  // Generous: an integrator polling the status of a few hundred open requests stays within it;
  // a key reading as fast as it can does not.
  principalRateLimit: { requestsPerSecond: 1_000, burst: 2_000 },
  sellerRegistrationRateLimit: { requestsPerSecond: 0.1, burst: 10 },
  // Generous for people and scripts that get a key wrong; a guesser gets two tries a second.
  signInFailureLimit: { requestsPerSecond: 2, burst: 100, blockMillis: 10_000 },
  maxBodyBytes: 64 * 1024,
  autoActivateSellers: false,
  offersDeadlineMillis: 5_000,
  fastIntake: true
}

/** The defaults with `overrides`; an unset `principalRateLimit` is raised to at least `customerRateLimit`. */
export const effectiveSettings = (overrides: Partial<ServerSettings> = {}): ServerSettings => {
  const settings = { ...defaultSettings, ...overrides }
  if (overrides.principalRateLimit !== undefined) return settings
  const submissions = settings.customerRateLimit
  const requests = settings.principalRateLimit
  return {
    ...settings,
    principalRateLimit: {
      requestsPerSecond: Math.max(requests.requestsPerSecond, submissions.requestsPerSecond),
      burst: Math.max(requests.burst, submissions.burst)
    }
  }
}

export class Settings extends Context.Service<Settings, ServerSettings>()("@bookbroker/server/Settings") {}
