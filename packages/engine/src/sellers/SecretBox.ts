/**
 * Encryption at rest for seller credentials: AES-256-GCM with a 32-byte key that lives outside
 * the database (`BOOKBROKER_SECRET_KEY`, base64). Sealed values carry a version byte so the
 * scheme can change without a flag day. Plaintexts only ever leave as `Redacted`.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto"
import { Context, Effect, Layer, Redacted, Schema } from "effect"

const version = 1

export class SecretBoxError extends Schema.TaggedError<SecretBoxError>()("SecretBoxError", {
  detail: Schema.String
}) {
  override get message(): string {
    return `cannot open sealed credentials: ${this.detail} (is BOOKBROKER_SECRET_KEY the key they were sealed with?)`
  }
}

export interface SecretBoxService {
  readonly seal: (plaintext: Redacted.Redacted<string>) => Buffer
  readonly open: (sealed: Uint8Array) => Effect.Effect<Redacted.Redacted<string>, SecretBoxError>
}

export class SecretBox extends Context.Service<SecretBox, SecretBoxService>()("@bookbroker/engine/SecretBox") {}

/** A fresh random key, base64 (for `bookbroker serve` to create one in its data folder). */
export const generateKey = (): string => randomBytes(32).toString("base64")

export const make = (key: Redacted.Redacted<string>): SecretBoxService => {
  const raw = Buffer.from(Redacted.value(key), "base64")
  if (raw.length !== 32) throw new Error("BOOKBROKER_SECRET_KEY must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)")
  return {
    seal: (plaintext) => {
      const iv = randomBytes(12)
      const cipher = createCipheriv("aes-256-gcm", raw, iv)
      const body = Buffer.concat([cipher.update(Redacted.value(plaintext), "utf8"), cipher.final()])
      return Buffer.concat([Buffer.from([version]), iv, cipher.getAuthTag(), body])
    },
    open: (sealed) =>
      Effect.try({
        try: () => {
          const buffer = Buffer.from(sealed)
          if (buffer[0] !== version) throw new Error(`unknown sealing version ${buffer[0]}`)
          const decipher = createDecipheriv("aes-256-gcm", raw, buffer.subarray(1, 13))
          decipher.setAuthTag(buffer.subarray(13, 29))
          return Redacted.make(Buffer.concat([decipher.update(buffer.subarray(29)), decipher.final()]).toString("utf8"))
        },
        catch: (cause) => new SecretBoxError({ detail: cause instanceof Error ? cause.message : String(cause) })
      })
  }
}

export const layer = (key: Redacted.Redacted<string>): Layer.Layer<SecretBox> => Layer.sync(SecretBox, () => make(key))
