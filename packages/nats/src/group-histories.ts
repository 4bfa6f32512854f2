import {
  ChannelLayerError,
  type GroupHistory,
  type GroupHistoryRule,
  type HistoryEntry,
  type HistoryOffset,
} from "@channel-layers/core";
import { stampHistory } from "@channel-layers/core/backend";
import { FrameKind, FrameReader, FrameWriter } from "./frames.js";
import { duplicateWindowFor, NoStream, nanos, unavailable } from "./jetstream.js";
import { StreamsOnce } from "./streams-once.js";
import { type ReadMessage, readSubject, type SubjectRead } from "./subject-reader.js";
import { historyTag } from "./subjects.js";
import type { NatsTransport } from "./transport.js";

/** An offset: the rule's tag and the message's sequence in that rule's stream. */
export function historyOffset(tag: string, seq: number): string {
  return `${tag}:${seq}`;
}

/** The stream sequence in `offset` when it is an offset of the rule `tag`, else undefined. */
export function sequenceOf(offset: HistoryOffset, tag: string): number | undefined {
  if (typeof offset !== "string" || !offset.startsWith(`${tag}:`)) return undefined;
  const seq = Number(offset.slice(tag.length + 1));
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}

/**
 * Group histories: one JetStream stream per distinct rule (limits are per stream), one subject per
 * group (`<prefix>.h.<tag>.<group>`). `max_msgs_per_subject` is maxLength + 1: the extra, oldest
 * message is never returned, but tells whether an offset can be placed. The stream republishes
 * each message, once stored, on the group's own subject with its sequence, so every instance's
 * members get a group's messages in offset order, whichever instances sent them.
 */
export class GroupHistories {
  private readonly streams = new StreamsOnce();

  constructor(private readonly transport: NatsTransport) {}

  /** Stores an encoded message: the server numbers it and republishes it to members; resolves with its offset. */
  async append(group: string, body: Uint8Array, rule: GroupHistoryRule): Promise<string> {
    const { js, subjects, chunkSize } = this.transport;
    const frame = new FrameWriter(1 + body.byteLength).u8(FrameKind.history).raw(body).bytes;
    if (frame.byteLength > chunkSize) {
      throw new ChannelLayerError(
        "MESSAGE_TOO_LARGE",
        `Message is ${body.byteLength} bytes encoded; a message of a history group is one JetStream message, at most ${chunkSize} bytes on this server (its max_payload less 1 KiB): send a reference to the data instead, or raise the server's max_payload`,
      );
    }
    const tag = historyTag(rule.maxLength, rule.maxAgeMs);
    const subject = subjects.history(tag, group);
    try {
      let seq: number;
      try {
        seq = await js.publish(subject, frame);
      } catch (error) {
        if (!(error instanceof NoStream)) throw error;
        await this.ensureStream(tag, rule, true);
        seq = await js.publish(subject, frame);
      }
      return historyOffset(tag, seq);
    } catch (error) {
      throw unavailable(`keep a message of group ${group}`, error);
    }
  }

  async read(group: string, after: HistoryOffset, rule: GroupHistoryRule): Promise<GroupHistory> {
    const tag = historyTag(rule.maxLength, rule.maxAgeMs);
    const { subjects } = this.transport;
    const stream = subjects.historyStream(tag);
    const subject = subjects.history(tag, group);
    const start = sequenceOf(after, tag);
    let read: SubjectRead | undefined;
    try {
      // Usually `after` is still kept: read from it on. Otherwise read all, to place it by position.
      if (start !== undefined) read = await readSubject(this.transport, stream, subject, start);
      if (read === undefined || read.messages[0]?.seq !== start)
        read = await readSubject(this.transport, stream, subject);
    } catch (error) {
      throw unavailable(`read the history of group ${group}`, error);
    }
    if (read === undefined) return { messages: [], complete: false };
    return this.place(group, tag, read, start, rule);
  }

  /**
   * What follows `start`, and whether that is all. A message at or before `start` still stored
   * anchors it: trimming takes the oldest first, so everything sent after it is stored too.
   * Messages older than maxAgeMs (by the server's clock) are stored a while longer but not
   * returned, and their absence makes the result incomplete.
   */
  private place(
    group: string,
    tag: string,
    read: SubjectRead,
    start: number | undefined,
    rule: GroupHistoryRule,
  ): GroupHistory {
    const oldest = rule.maxAgeMs === undefined ? Number.NEGATIVE_INFINITY : read.serverNow - rule.maxAgeMs;
    const fresh = (message: ReadMessage) => message.storedAt >= oldest;
    const stored = read.messages;
    const anchored = start !== undefined && (stored[0]?.seq ?? Number.POSITIVE_INFINITY) <= start;
    const following = anchored ? stored.filter((message) => message.seq > (start as number)) : stored;
    const kept = following.filter(fresh).slice(-rule.maxLength);
    return {
      messages: kept.flatMap((message) => this.entryOf(group, tag, message)),
      complete: anchored && kept.length === following.length,
    };
  }

  private entryOf(group: string, tag: string, stored: ReadMessage): HistoryEntry[] {
    const offset = historyOffset(tag, stored.seq);
    try {
      const reader = new FrameReader(stored.data);
      if (reader.u8() !== FrameKind.history) throw new RangeError("Not a history frame");
      const message = this.transport.decode(reader.rest(), { group, offset });
      return message === undefined ? [] : [{ offset, message: stampHistory(message, group, offset) }];
    } catch (error) {
      this.transport.dropUnreadable({ group, offset }, error);
      return [];
    }
  }

  private ensureStream(tag: string, rule: GroupHistoryRule, again: boolean): Promise<void> {
    const { js, subjects, settings } = this.transport;
    const name = subjects.historyStream(tag);
    // Twice maxAgeMs: a message a client last saw still places its offset for a while after it aged out.
    const maxAgeMs = rule.maxAgeMs === undefined ? undefined : rule.maxAgeMs * 2;
    return this.streams.ensure(
      name,
      () =>
        js.addStream({
          name,
          description: `channel-layers ${subjects.prefix}: histories of groups keeping ${rule.maxLength} messages${rule.maxAgeMs === undefined ? "" : ` for ${rule.maxAgeMs} ms`}`,
          subjects: [subjects.historySubjects(tag)],
          retention: "limits",
          storage: "file",
          discard: "old",
          max_msgs_per_subject: rule.maxLength + 1,
          ...(maxAgeMs === undefined
            ? {}
            : { max_age: nanos(maxAgeMs), duplicate_window: duplicateWindowFor(maxAgeMs) }),
          republish: { src: subjects.historySubjects(tag), dest: subjects.historyRepublish },
          allow_direct: true,
          num_replicas: settings.replicas,
        }),
      again,
    );
  }
}
