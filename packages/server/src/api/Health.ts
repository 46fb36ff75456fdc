/**
 * Liveness and readiness for orchestrators (no credentials), and metrics for operators: with the
 * operator token, since they tell anyone who asks how busy bookbroker is, which sellers it calls
 * and how they fare (a Prometheus scrape job sends it as `authorization` / `bearer_token_file`).
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { OperatorAuth } from "../Auth.js"
import * as Problem from "../Problem.js"

export const Readiness = Schema.Struct({
  status: Schema.Literal("ready"),
  checks: Schema.Record(Schema.String, Schema.String)
})

export class HealthApi extends HttpApiGroup.make("health").add(
  HttpApiEndpoint.get("healthz", "/healthz", { success: Schema.Struct({ status: Schema.Literal("ok") }) }),
  HttpApiEndpoint.get("readyz", "/readyz", { success: Readiness, error: Problem.ServiceUnavailable }),
  HttpApiEndpoint.get("metrics", "/metrics", { success: Schema.String.pipe(HttpApiSchema.asText({ contentType: "text/plain; version=0.0.4" })) })
    .middleware(OperatorAuth)
    .annotate(OpenApi.Description, "Prometheus text format; needs the operator token (`Authorization: Bearer <operator token>`).")
) {}
