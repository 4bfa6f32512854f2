import { randomBytes } from "node:crypto";
import { MessageSerializer } from "@channel-layers/core/backend";

/**
 * What the raw ioredis subjects of `pnpm bench redis` need to send the Redis layer's own commands
 * by hand: its message encoding, expiry, and the ids, scores and held-set times it makes.
 */
export const EXPIRY_MS = 60_000;
export const serializer = new MessageSerializer();
export const message = (n: number) => ({ type: "bench.message", text: "hello", n });
export const seconds = (ms: number) => (ms / 1000).toFixed(6);
/** Held-set time (hex ms), as the layer writes it. */
export const timeHex = (ms: number) => Math.floor(ms).toString(16).padStart(12, "0");
/** Ids start with the send time, as the layer makes them. */
export const newId = (now: number) => {
  const id = randomBytes(12);
  id.writeUIntBE(now, 0, 6);
  return id;
};
let lastMicros = 0;
/** Strictly growing scores, as the layer writes them. */
export const score = (now: number) => {
  lastMicros = Math.max(Math.round(now * 1000), lastMicros + 1);
  return (lastMicros / 1e6).toFixed(6);
};
/** A fresh key prefix per run, so runs never see each other's keys. */
export const newPrefix = () => `bench-${randomBytes(4).toString("hex")}:`;
