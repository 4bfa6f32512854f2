import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

/** A stream of no prefix the tests use; never deleted, so the server's account is never without one. */
export const ANCHOR_STREAM = "CHANNEL_LAYERS_TEST_ANCHOR";

/**
 * Vitest global setup: nats-server 2.9 removes an account's store directory (`jetstream/$G`) with
 * its last stream, and a stream created at that moment fails ("could not create storage directory",
 * or 10049). With test files running side by side on the shared server, one file deleting its last
 * streams while another creates one hits that window; the shared nats-server stopped right after
 * such a failure (its log ends there, and on restart it found a stream directory without its
 * metadata). One stream kept for good keeps the directory. Nothing is stopped or flushed.
 */
export default async function keepOneStream(): Promise<void> {
  const url = process.env.NATS_URL;
  if (!url) return;
  const connection = await connect({ servers: url, timeout: 2000 }).catch(() => undefined);
  if (connection === undefined) return; // the tests that need NATS say it is missing
  try {
    const manager = await jetstreamManager(connection, { timeout: 5000 });
    await manager.streams.add({ name: ANCHOR_STREAM, subjects: ["channel-layers-test-anchor"] }).catch((error) => {
      // Already there (from an earlier run) is the point; anything else the NATS tests will meet too.
      if (!String(error).includes("already in use")) console.warn(`Could not add the ${ANCHOR_STREAM} stream:`, error);
    });
  } catch (error) {
    console.warn("No JetStream on NATS_URL for the anchor stream:", error);
  } finally {
    await connection.close();
  }
}
