import type { GroupHistory, GroupHistoryRule, HistoryEntry, HistoryOffset, Message } from "@channel-layers/core";
import { stampHistory } from "@channel-layers/core/backend";
import type { PostgresTransport } from "./transport.js";

/**
 * Stands for the offset in an encoded history message until the statement that assigns the
 * offset writes it over these 8 bytes (MessagePack int64, big-endian, as PostgreSQL's int8send).
 */
const OFFSET_PLACEHOLDER = 0x7f3c_5a5a_c35a_a5c3n;
const PLACEHOLDER_BYTES = Buffer.alloc(8);
PLACEHOLDER_BYTES.writeBigInt64BE(OFFSET_PLACEHOLDER);
/** `"__offset__"` as a MessagePack fixstr, then the int64 marker. */
const OFFSET_KEY_BYTES = Buffer.from([0xaa, ...Buffer.from("__offset__"), 0xd3]);

/** A history message ready for the send statement: its bytes, and where (1-based) its offset goes. */
export interface HistoryPayload {
  payload: Buffer;
  offsetAt: number;
}

/** Bytes of a MessagePack map header, by its first byte (fixmap, map16, map32). */
function mapHeaderLength(first: number | undefined): number {
  if (first !== undefined && first >= 0x80 && first <= 0x8f) return 1;
  if (first === 0xde) return 3;
  if (first === 0xdf) return 5;
  return -1;
}

/**
 * `message` as a history group's members get it (`__group__`, and `__offset__` first, so its bytes
 * sit right after the map header), encoded with a placeholder offset the send statement replaces.
 * Rejects a message over maxMessageSize with MESSAGE_TOO_LARGE (the offset never changes the size).
 */
export function encodeHistoryMessage(transport: PostgresTransport, message: Message, group: string): HistoryPayload {
  const stamped: Record<string, unknown> = { __offset__: OFFSET_PLACEHOLDER, ...stampHistory(message, group, 0) };
  stamped.__offset__ = OFFSET_PLACEHOLDER;
  const payload = transport.encode(stamped as Message);
  const header = mapHeaderLength(payload[0]);
  const valueAt = header + OFFSET_KEY_BYTES.length;
  const placed =
    header > 0 &&
    payload.subarray(header, valueAt).equals(OFFSET_KEY_BYTES) &&
    payload.subarray(valueAt, valueAt + 8).equals(PLACEHOLDER_BYTES);
  if (!placed)
    throw new Error("The MessagePack encoder did not put __offset__ first as an int64; cannot number the message");
  return { payload, offsetAt: valueAt + 1 };
}

/** What the history_read statement returns: one row per message, or one of nulls. */
interface HistoryRow {
  complete: boolean;
  offset: string | null;
  payload: Buffer | null;
}

/**
 * The kept messages of `group` after `after` and whether nothing after it is missing, in one
 * statement. Offsets are numbers (a bigint sequence capped at 2^53 - 1), so a string offset is
 * one this layer never gave: everything kept comes back, with complete false.
 */
export async function readHistory(
  transport: PostgresTransport,
  group: string,
  after: HistoryOffset,
  rule: GroupHistoryRule,
): Promise<GroupHistory> {
  const { rows } = await transport.run<HistoryRow>(transport.statements.historyRead, "read a group's history", [
    group,
    typeof after === "number" ? after : null,
    rule.maxLength,
  ]);
  const messages: HistoryEntry[] = [];
  for (const row of rows) {
    if (row.offset === null || row.payload === null) continue;
    const message = transport.decode(row.payload, { group, history: true });
    if (message !== undefined) messages.push({ offset: Number(row.offset), message });
  }
  return { messages, complete: rows[0]?.complete === true };
}
