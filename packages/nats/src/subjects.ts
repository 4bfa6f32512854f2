import { createHash } from "node:crypto";
import { InvalidOptions } from "@channel-layers/core";

/** What a prefix may hold: the characters of a group name, so it maps to one subject token. */
const PREFIX = /^[a-zA-Z\d\-_.]+$/;
const MAX_PREFIX_LENGTH = 99;

/**
 * One subject token for a valid channel, group or prefix name: `.` becomes `~`, which no name may
 * hold, so distinct names never share a subject and a token is never empty or a wildcard.
 */
export function encodeToken(name: string): string {
  return name.includes(".") ? name.replaceAll(".", "~") : name;
}

/** The name a token was made from: encodeToken's inverse. */
export function decodeToken(token: string): string {
  return token.includes("~") ? token.replaceAll("~", ".") : token;
}

/** Throws InvalidOptions unless `prefix` can name a layer's subjects. */
export function assertPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix === "string" && prefix.length <= MAX_PREFIX_LENGTH && PREFIX.test(prefix)) return;
  throw new InvalidOptions(
    `prefix must be 1 to ${MAX_PREFIX_LENGTH} ASCII letters, digits, hyphens, underscores or periods; got ${JSON.stringify(prefix)}`,
  );
}

function digest(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 32);
}

/**
 * A short name for a history rule, in its stream's subjects and in every offset of its groups: a
 * group whose rule changes moves to another stream, whose sequences are another count.
 */
export function historyTag(maxLength: number, maxAgeMs: number | undefined): string {
  return digest("history rule", String(maxLength), String(maxAgeMs ?? "")).slice(0, 8);
}

/**
 * Every subject (`<prefix>.<kind>.<token>`, so `<prefix>.>` covers exactly this prefix) and stream
 * name one prefix uses; stream names are hashes, as they may not hold `.` and become file names.
 */
export class SubjectMap {
  /** The prefix as one token: the first token of every subject. */
  readonly root: string;
  /** Every subject of this prefix: streams are found and removed by it. */
  readonly everything: string;
  /** Where flush() tells every instance of the prefix to drop its buffers and memberships. */
  readonly control: string;

  constructor(readonly prefix: string) {
    this.root = encodeToken(prefix);
    this.everything = `${this.root}.>`;
    this.control = `${this.root}.ctl`;
  }

  /** An instance's one subscription: sends to its process-local channels, group joins, discards. */
  instance(instanceId: string): string {
    return `${this.root}.i.${instanceId}`;
  }

  /** A group's messages, published once and fanned out by each instance to its own members. */
  group(group: string): string {
    return `${this.root}.g.${encodeToken(group)}`;
  }

  /** A named (durable) channel's messages in its JetStream stream. */
  channel(channel: string): string {
    return `${this.root}.q.${encodeToken(channel)}`;
  }

  /** The named channel a durable message subject belongs to, or undefined for another subject. */
  channelOf(subject: string): string | undefined {
    const head = `${this.root}.q.`;
    return subject.startsWith(head) ? decodeToken(subject.slice(head.length)) : undefined;
  }

  /** The record of a group's named-channel members (the one message on this subject). */
  membership(group: string): string {
    return `${this.root}.m.${encodeToken(group)}`;
  }

  /** The chunks of one large durable message. */
  blob(id: string): string {
    return `${this.root}.b.${id}`;
  }

  /** One presence entry (the one message on this subject); `ref` is the track's random hex. */
  presenceEntry(group: string, ref: string): string {
    return `${this.root}.p.e.${encodeToken(group)}.${encodeToken(ref)}`;
  }

  /** Every presence entry of `group`. */
  presenceGroup(group: string): string {
    return `${this.root}.p.e.${encodeToken(group)}.*`;
  }

  /** Every presence entry of the prefix. */
  get presenceEntries(): string {
    return `${this.root}.p.e.>`;
  }

  /**
   * Where an instance's presence sweep stores a tick, to read the server's clock from its
   * timestamp: one subject per instance, so concurrent sweeps do not replace each other's tick.
   */
  presenceClock(instanceId: string): string {
    return `${this.root}.p.t.${instanceId}`;
  }

  /** A history group's messages in the stream of its rule (`tag` names the rule: historyTag). */
  history(tag: string, group: string): string {
    return `${this.root}.h.${tag}.${encodeToken(group)}`;
  }

  /** The subjects of one rule's history stream. */
  historySubjects(tag: string): string {
    return `${this.root}.h.${tag}.*`;
  }

  /** Where the server republishes a history message: the group's own subject, which members' instances hear. */
  get historyRepublish(): string {
    return `${this.root}.g.{{wildcard(1)}}`;
  }

  /** The rule tag of a history subject (`<prefix>.h.<tag>.<group>`), or undefined for another subject. */
  historyTagOf(subject: string): string | undefined {
    const head = `${this.root}.h.`;
    if (!subject.startsWith(head)) return undefined;
    const end = subject.indexOf(".", head.length);
    return end < 0 ? undefined : subject.slice(head.length, end);
  }

  channelStream(channel: string): string {
    return `chl_q_${digest(this.prefix, "channel", channel)}`;
  }

  get membershipStream(): string {
    return `chl_m_${digest(this.prefix, "memberships")}`;
  }

  get blobStream(): string {
    return `chl_b_${digest(this.prefix, "blobs")}`;
  }

  get presenceStream(): string {
    return `chl_p_${digest(this.prefix, "presence")}`;
  }

  /** The history stream of groups keeping `tag`'s rule (one stream per distinct rule, as limits are per stream). */
  historyStream(tag: string): string {
    return `chl_h_${digest(this.prefix, "history", tag)}`;
  }
}
