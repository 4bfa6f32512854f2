import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { unavailable } from "./jetstream.js";
import { assertPrefix, SubjectMap } from "./subjects.js";

/**
 * Deletes every JetStream stream a prefix uses (its named channels, the group memberships of named
 * channels, the bodies of large durable messages, presence entries, group histories): the teardown
 * of a deployment or a test; history offsets start over after it. Layers still open on the prefix
 * recreate what they need on their next call. Resolves with how many streams it deleted; rejects
 * with BACKEND_UNAVAILABLE when it cannot list them.
 */
export async function deletePrefixStreams(connection: NatsConnection, prefix: string): Promise<number> {
  assertPrefix(prefix);
  const names: string[] = [];
  try {
    const jsm = await jetstreamManager(connection, { checkAPI: false });
    for await (const name of jsm.streams.names(new SubjectMap(prefix).everything)) names.push(name);
    // A stream deleted meanwhile by someone else is as good as deleted here.
    const deleted = await Promise.all(names.map((name) => jsm.streams.delete(name).catch(() => false)));
    return deleted.filter(Boolean).length;
  } catch (error) {
    throw unavailable(`delete the streams of prefix ${prefix}`, error);
  }
}
