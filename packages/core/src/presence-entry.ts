import { InvalidArgument, InvalidMessage } from "./errors.js";
import { copyValidMessage } from "./message.js";
import {
  PRESENCE_DIFF_TYPE,
  type PresenceDiffMessage,
  type PresenceList,
  type PresenceMeta,
  type PresenceMetaWithRef,
} from "./presence.js";

/** Longest presence key: user ids, emails and device ids fit; backends may hash or encode keys. */
export const MAX_PRESENCE_KEY_LENGTH = 200;

/** One track as a backend stores it. Made by the base; a backend stores and returns it unchanged. */
export interface PresenceEntry {
  readonly group: string;
  readonly key: string;
  /** The channel it is tied to: discardChannel untracks it. */
  readonly channel: string;
  /** Unique per track (random); what lists and diffs call `ref`. */
  readonly ref: string;
  /** Valid message values (see the contract), never with a `ref` key. */
  readonly meta: PresenceMeta;
  /** The instanceId of the layer that tracked it: only that instance refreshes and untracks it. */
  readonly instance: string;
}

const isWellFormed = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Throws INVALID_ARGUMENT unless `key` is a presence key: a well-formed string of 1 to 200 characters. */
export function assertPresenceKey(key: unknown): asserts key is string {
  if (typeof key === "string" && key.length > 0 && key.length <= MAX_PRESENCE_KEY_LENGTH && isWellFormed(key)) {
    if (key !== "__proto__") return;
  }
  throw new InvalidArgument(
    `A presence key is a string of 1 to ${MAX_PRESENCE_KEY_LENGTH} characters (not "__proto__", no lone surrogate), such as a user id; got ${typeof key === "string" ? JSON.stringify(key.slice(0, 40)) : typeof key}`,
  );
}

/**
 * A checked copy of a presence meta: a plain object of valid message values without a `ref` key
 * (lists and diffs add the track's ref there). Throws INVALID_MESSAGE or INVALID_ARGUMENT.
 */
export function copyPresenceMeta(meta: unknown): PresenceMeta {
  if (meta === undefined) return {};
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) {
    throw new InvalidMessage(`A presence meta must be a plain object; got ${meta === null ? "null" : typeof meta}`);
  }
  if (Object.hasOwn(meta, "ref")) {
    throw new InvalidArgument('"ref" is reserved in a presence meta: the list and diffs put the track\'s ref there');
  }
  // Checked and copied as a message value, so the error names the bad path (message.meta.x).
  return copyValidMessage({ type: "presence.meta", meta }).meta as PresenceMeta;
}

/** `{ ...meta, ref }` of one entry. */
function metaWithRef(entry: PresenceEntry): PresenceMetaWithRef {
  return { ...entry.meta, ref: entry.ref };
}

/** Entries as presenceList() shows them: `{ [key]: { metas: [{ ...meta, ref }] } }`, in the order given. */
export function presenceListOf(entries: Iterable<PresenceEntry>): PresenceList {
  const list: PresenceList = {};
  for (const entry of entries) {
    const presence = Object.hasOwn(list, entry.key) ? list[entry.key] : undefined;
    if (presence === undefined) list[entry.key] = { metas: [metaWithRef(entry)] };
    else presence.metas.push(metaWithRef(entry));
  }
  return list;
}

/** The diff message for one group's joins and leaves. */
export function presenceDiff(
  group: string,
  joins: Iterable<PresenceEntry>,
  leaves: Iterable<PresenceEntry>,
): PresenceDiffMessage {
  return { type: PRESENCE_DIFF_TYPE, group, joins: presenceListOf(joins), leaves: presenceListOf(leaves) };
}

/** Entries by group, in the order given. */
export function entriesByGroup(entries: Iterable<PresenceEntry>): Map<string, PresenceEntry[]> {
  const groups = new Map<string, PresenceEntry[]>();
  for (const entry of entries) {
    const list = groups.get(entry.group);
    if (list === undefined) groups.set(entry.group, [entry]);
    else list.push(entry);
  }
  return groups;
}
