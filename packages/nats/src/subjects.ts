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

  channelStream(channel: string): string {
    return `chl_q_${digest(this.prefix, "channel", channel)}`;
  }

  get membershipStream(): string {
    return `chl_m_${digest(this.prefix, "memberships")}`;
  }

  get blobStream(): string {
    return `chl_b_${digest(this.prefix, "blobs")}`;
  }
}
