/**
 * bookbroker's public HTTP API as the scenarios' customers, sellers and operator call it: plain
 * `fetch`, JSON in and out, and the manners of a well-behaved client — a 429 or 503 is waited out
 * (`Retry-After`) and the same call sent again, as is a connection that failed before an answer
 * (a submission under the same `Idempotency-Key`), for up to `patienceMillis`. A slow, loaded
 * machine answers later, not differently: only the answers the API gives are returned.
 */
export interface Answer {
  readonly status: number
  readonly body: unknown
}

export interface Call {
  readonly method: "GET" | "POST" | "PATCH" | "DELETE"
  readonly path: string
  /** `Authorization: Bearer …`: a customer's or seller's API key, or the operator token. */
  readonly bearer?: string
  /** Sent as JSON. */
  readonly json?: unknown
  /** Sent as it is, with `contentType`. */
  readonly text?: string
  readonly contentType?: string
  readonly headers?: Readonly<Record<string, string>>
  /** How long to keep trying through 429 / 503 answers and failed connections; default 2 minutes. */
  readonly patienceMillis?: number
}

const retryAfterMillis = (response: Response): number => {
  const seconds = Number(response.headers.get("retry-after"))
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 10) * 1_000 : 1_000
}

/** One call to the API at `baseUrl`, tried again through backpressure and failed connections. */
export const call = async (baseUrl: string, request: Call): Promise<Answer> => {
  const deadline = Date.now() + (request.patienceMillis ?? 120_000)
  const headers: Record<string, string> = { ...request.headers }
  if (request.bearer !== undefined) headers["authorization"] = `Bearer ${request.bearer}`
  let body: string | undefined
  if (request.json !== undefined) {
    headers["content-type"] = "application/json"
    body = JSON.stringify(request.json)
  } else if (request.text !== undefined) {
    headers["content-type"] = request.contentType ?? "text/plain"
    body = request.text
  }
  for (;;) {
    let response: Response
    try {
      response = await fetch(`${baseUrl}${request.path}`, { method: request.method, headers, ...(body === undefined ? {} : { body }) })
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 500))
      continue
    }
    const text = await response.text()
    if ((response.status === 429 || response.status === 503) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, retryAfterMillis(response)))
      continue
    }
    let parsed: unknown = text
    try {
      parsed = text === "" ? null : JSON.parse(text)
    } catch {
      // Not JSON: kept as text.
    }
    return { status: response.status, body: parsed }
  }
}

/** The call, which must answer `expected`; its body. */
export const expectStatus = async <A>(baseUrl: string, request: Call, expected: number): Promise<A> => {
  const answer = await call(baseUrl, request)
  if (answer.status !== expected) throw new Error(`${request.method} ${request.path}: ${answer.status} (expected ${expected}): ${JSON.stringify(answer.body).slice(0, 500)}`)
  return answer.body as A
}
