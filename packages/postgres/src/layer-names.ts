import { createHash } from "node:crypto";

/** A PostgreSQL identifier in double quotes, with embedded quotes doubled. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Where one layer's rows live and what it LISTENs to, all derived from its schema and prefix. */
export interface LayerNames {
  readonly schema: string;
  readonly prefix: string;
  /** `"schema"."<prefix>_message"`: one row per message not yet received or expired. */
  readonly messageTable: string;
  /** `"schema"."<prefix>_membership"`: one row per (group, channel) with its expiry. */
  readonly membershipTable: string;
  /** `"schema"."<prefix>_history"`: the kept messages of groups with a groupHistory rule. */
  readonly historyTable: string;
  /** `"<prefix>_history_by_expiry"`: the index a cleanup finds lapsed kept messages by. */
  readonly historyByExpiryIndex: string;
  /** `"schema"."<prefix>_history_group"`: per history group, its last offset and message count (its lock orders sends). */
  readonly historyGroupTable: string;
  /** `"schema"."<prefix>_history_offset"`: the sequence every history offset comes from (never reissued). */
  readonly historyOffsetSequence: string;
  /** `"schema"."<prefix>_presence"`: one row per presence track. */
  readonly presenceTable: string;
  /** `"schema"."<prefix>_presence_instance"`: one row per instance with tracks, with when it lapses. */
  readonly presenceInstanceTable: string;
  /** `"<prefix>_presence_by_instance"`: the index a sweep finds a lapsed instance's tracks by. */
  readonly presenceByInstanceIndex: string;
  /**
   * NOTIFY channel for named channels, shared by every instance on the prefix; an instance's own
   * is this plus `_<instance id>`. A hash keeps both under PostgreSQL's 63-byte limit.
   */
  readonly notifyBase: string;
}

export function layerNames(schema: string, prefix: string): LayerNames {
  const digest = createHash("md5").update(`${schema}\0${prefix}`).digest("hex").slice(0, 12);
  // The longest suffix, "_presence_by_instance" (21 bytes), keeps a 40-byte prefix within 63 bytes.
  const table = (suffix: string) => `${quoteIdentifier(schema)}.${quoteIdentifier(`${prefix}_${suffix}`)}`;
  return {
    schema,
    prefix,
    messageTable: table("message"),
    membershipTable: table("membership"),
    historyTable: table("history"),
    historyByExpiryIndex: quoteIdentifier(`${prefix}_history_by_expiry`),
    historyGroupTable: table("history_group"),
    historyOffsetSequence: table("history_offset"),
    presenceTable: table("presence"),
    presenceInstanceTable: table("presence_instance"),
    presenceByInstanceIndex: quoteIdentifier(`${prefix}_presence_by_instance`),
    notifyBase: `cl_${digest}`,
  };
}

/**
 * The NOTIFY channel that wakes the instance `instanceId` (core's instanceIdOf() of a channel it
 * made), or every instance for undefined. groupSend builds the same from the membership table.
 */
export function notifyChannelOf(names: LayerNames, instanceId: string | undefined): string {
  return instanceId === undefined ? names.notifyBase : `${names.notifyBase}_${instanceId}`;
}
