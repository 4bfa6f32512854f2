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
  /**
   * NOTIFY channel for named channels, shared by every instance on the prefix; an instance's own
   * is this plus `_<instance id>`. A hash keeps both under PostgreSQL's 63-byte limit.
   */
  readonly notifyBase: string;
}

export function layerNames(schema: string, prefix: string): LayerNames {
  const digest = createHash("md5").update(`${schema}\0${prefix}`).digest("hex").slice(0, 12);
  return {
    schema,
    prefix,
    messageTable: `${quoteIdentifier(schema)}.${quoteIdentifier(`${prefix}_message`)}`,
    membershipTable: `${quoteIdentifier(schema)}.${quoteIdentifier(`${prefix}_membership`)}`,
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
