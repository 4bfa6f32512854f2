import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { InvalidOptions } from "@channel-layers/core";

const VERSION = 0x80;
/** Fernet refuses tokens stamped this far in the future (cryptography's _MAX_CLOCK_SKEW). */
const MAX_CLOCK_SKEW_SECONDS = 60;

/** Why a token could not be decrypted: wrong key, tampered, or older than the allowed age. */
export class InvalidToken extends Error {
  constructor(reason: string) {
    super(`Fernet token rejected: ${reason}`);
    this.name = "InvalidToken";
  }
}

function urlsafeBase64(bytes: Buffer): Buffer {
  // Python's urlsafe_b64encode keeps the `=` padding that Node's "base64url" drops.
  const text = bytes.toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
  return Buffer.from(text, "latin1");
}

/**
 * One Fernet key (https://github.com/fernet/spec): AES-128-CBC with PKCS7 padding, then
 * HMAC-SHA256 over version, timestamp, IV and ciphertext, all base64url with padding. The key is
 * derived as channels_redis' `make_fernet` does: SHA-256 of the UTF-8 secret, the first 16 bytes
 * signing and the last 16 encrypting.
 */
class Fernet {
  private readonly signingKey: Buffer;
  private readonly encryptionKey: Buffer;

  constructor(secret: string | Uint8Array) {
    const digest = createHash("sha256")
      .update(typeof secret === "string" ? Buffer.from(secret, "utf8") : secret)
      .digest();
    this.signingKey = digest.subarray(0, 16);
    this.encryptionKey = digest.subarray(16, 32);
  }

  encrypt(data: Uint8Array, nowSeconds: number): Buffer {
    const iv = randomBytes(16);
    const cipher = createCipheriv("aes-128-cbc", this.encryptionKey, iv);
    const ciphertext = Buffer.concat([cipher.update(data), cipher.final()]);
    const header = Buffer.alloc(9);
    header[0] = VERSION;
    header.writeBigUInt64BE(BigInt(Math.floor(nowSeconds)), 1);
    const body = Buffer.concat([header, iv, ciphertext]);
    const hmac = createHmac("sha256", this.signingKey).update(body).digest();
    return urlsafeBase64(Buffer.concat([body, hmac]));
  }

  /** The plaintext, or InvalidToken; a token older than `ttlSeconds` (when given) is refused. */
  decrypt(raw: Buffer, nowSeconds: number, ttlSeconds: number | undefined): Buffer {
    const token = Buffer.from(raw.toString("latin1"), "base64url");
    if (token.length < 1 + 8 + 16 + 16 + 32 || token[0] !== VERSION) throw new InvalidToken("not a Fernet token");
    const timestamp = Number(token.readBigUInt64BE(1));
    if (ttlSeconds !== undefined && timestamp + ttlSeconds < nowSeconds) throw new InvalidToken("expired");
    if (timestamp > nowSeconds + MAX_CLOCK_SKEW_SECONDS) throw new InvalidToken("stamped in the future");
    const body = token.subarray(0, token.length - 32);
    const expected = createHmac("sha256", this.signingKey).update(body).digest();
    if (!timingSafeEqual(expected, token.subarray(token.length - 32))) throw new InvalidToken("signature mismatch");
    const decipher = createDecipheriv("aes-128-cbc", this.encryptionKey, body.subarray(9, 25));
    try {
      return Buffer.concat([decipher.update(body.subarray(25)), decipher.final()]);
    } catch {
      throw new InvalidToken("bad padding");
    }
  }
}

/**
 * cryptography's MultiFernet over channels_redis' key derivation: encrypts with the first key and
 * decrypts with any, so keys can be rotated by putting the new one first.
 */
export class MultiFernet {
  private readonly fernets: Fernet[];

  constructor(secrets: readonly (string | Uint8Array)[]) {
    if (!Array.isArray(secrets) || secrets.length === 0) {
      throw new InvalidOptions("symmetricEncryptionKeys must be a non-empty list of keys (the first one encrypts)");
    }
    for (const secret of secrets) {
      if ((typeof secret !== "string" && !(secret instanceof Uint8Array)) || secret.length === 0) {
        throw new InvalidOptions("every symmetricEncryptionKeys entry must be a non-empty string or Uint8Array");
      }
    }
    this.fernets = secrets.map((secret) => new Fernet(secret));
  }

  encrypt(data: Uint8Array, nowSeconds = Date.now() / 1000): Buffer {
    return (this.fernets[0] as Fernet).encrypt(data, nowSeconds);
  }

  decrypt(token: Buffer, ttlSeconds?: number, nowSeconds = Date.now() / 1000): Buffer {
    let lastError: unknown;
    for (const fernet of this.fernets) {
      try {
        return fernet.decrypt(token, nowSeconds, ttlSeconds);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }
}
