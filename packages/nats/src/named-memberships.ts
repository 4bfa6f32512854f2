import { BackendUnavailable } from "@channel-layers/core";
import { Backoff } from "@channel-layers/core/backend";
import { ApiCode, duplicateWindowFor, NoStream, nanos, StreamPublishError, unavailable } from "./jetstream.js";
import { StreamsOnce } from "./streams-once.js";
import type { NatsTransport } from "./transport.js";

/** channel -> membership expiry (ms epoch). */
type Record = { [channel: string]: number };

/** Writers racing on one group's record retry at most this often. */
const MAX_ATTEMPTS = 50;
const RACE_BACKOFF = { initialMs: 1, maxMs: 50, jitter: 1 };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Group memberships of named channels: one JSON record `{channel: expiry}` per group, written
 * back with Nats-Expected-Last-Subject-Sequence so concurrent groupAdds never lose each other's members.
 */
export class NamedMemberships {
  private readonly stream = new StreamsOnce();

  constructor(
    private readonly transport: NatsTransport,
    private readonly groupExpiryMs: number,
  ) {}

  /** The unexpired named members of `group`: one direct get. */
  async members(group: string): Promise<string[]> {
    const record = await this.read(group);
    if (record === undefined) return [];
    const now = Date.now();
    return Object.keys(record.members).filter((channel) => (record.members[channel] as number) > now);
  }

  add(group: string, channel: string): Promise<void> {
    return this.update(group, (members) => {
      members[channel] = Date.now() + this.groupExpiryMs;
      return true;
    });
  }

  remove(group: string, channel: string): Promise<void> {
    return this.update(group, (members) => {
      if (!(channel in members)) return false;
      delete members[channel];
      return true;
    });
  }

  /** Applies `change` to the group's record until the write wins; `change` returns false for no write. */
  private async update(group: string, change: (members: Record) => boolean): Promise<void> {
    const subject = this.transport.subjects.membership(group);
    // Losers of a race wait a little, at random, so the same writers do not collide again at once.
    const backoff = new Backoff(RACE_BACKOFF);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const record = await this.read(group);
      const members: Record = Object.create(null);
      const now = Date.now();
      for (const [channel, expiresAt] of Object.entries(record?.members ?? {})) {
        if (expiresAt > now) members[channel] = expiresAt;
      }
      if (!change(members)) return;
      try {
        await this.transport.js.publish(subject, encoder.encode(JSON.stringify(members)), record?.seq ?? 0);
        return;
      } catch (error) {
        if (error instanceof NoStream) await this.ensureStream(true);
        else if (error instanceof StreamPublishError && error.code === ApiCode.wrongLastSequence) await backoff.wait();
        else throw unavailable(`update the members of group ${group}`, error);
      }
    }
    throw new BackendUnavailable(
      `Could not update the members of group ${group}: ${MAX_ATTEMPTS} concurrent writers kept winning`,
    );
  }

  private async read(group: string): Promise<{ seq: number; members: Record } | undefined> {
    const { js, subjects } = this.transport;
    const message = await js.lastOnSubject(subjects.membershipStream, subjects.membership(group));
    if (message === undefined) return undefined;
    try {
      return { seq: message.seq, members: JSON.parse(decoder.decode(message.data)) as Record };
    } catch {
      return { seq: message.seq, members: {} };
    }
  }

  private ensureStream(again = false): Promise<void> {
    const { js, subjects, settings } = this.transport;
    const name = subjects.membershipStream;
    return this.stream.ensure(
      name,
      () =>
        js.addStream({
          name,
          description: `channel-layers ${subjects.prefix}: group memberships of named channels`,
          subjects: [`${subjects.root}.m.>`],
          retention: "limits",
          storage: "file",
          discard: "old",
          max_msgs_per_subject: 1,
          max_age: nanos(this.groupExpiryMs),
          duplicate_window: duplicateWindowFor(this.groupExpiryMs),
          allow_direct: true,
          num_replicas: settings.replicas,
        }),
      again,
    );
  }
}
