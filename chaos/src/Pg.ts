/**
 * The suite's own PostgreSQL connections (the checker's reads, drain, the scenarios' queries).
 * Worker processes hold up to 20 connections each and other work may share the server, so a
 * connection refused for "too many clients" (SQLSTATE 53300) is tried again for a while
 * instead of failing a scenario whose engine did nothing wrong.
 */
import pg from "pg"

const tooManyClients = (error: unknown): boolean => (error as { readonly code?: unknown } | null)?.code === "53300"

/** A connected client; retries "too many clients" for up to `patienceMillis` (default 15 s). */
export const connect = async (url: string, options: { readonly applicationName?: string; readonly patienceMillis?: number } = {}): Promise<pg.Client> => {
  const deadline = Date.now() + (options.patienceMillis ?? 15_000)
  for (;;) {
    const client = new pg.Client({ connectionString: url, ...(options.applicationName === undefined ? {} : { application_name: options.applicationName }) })
    try {
      await client.connect()
      return client
    } catch (error) {
      await client.end().catch(() => undefined)
      if (!tooManyClients(error) || Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
}

/** Runs `body` with a connected client and closes it. */
export const withClient = async <A>(url: string, body: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = await connect(url)
  try {
    return await body(client)
  } finally {
    await client.end()
  }
}
