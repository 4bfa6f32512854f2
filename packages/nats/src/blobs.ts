import { randomHex } from "@channel-layers/core/backend";
import { FrameKind, FrameReader, FrameWriter } from "./frames.js";
import { duplicateWindowFor, NoStream, nanos } from "./jetstream.js";
import { StreamsOnce } from "./streams-once.js";
import type { NatsTransport } from "./transport.js";

/** Blobs outlive the messages that point at them by this much, so a receive at the edge still finds its body. */
const BLOB_GRACE_MS = 60_000;

/**
 * Bodies of durable messages above the server's max_payload: stored as chunks in one stream per
 * prefix, with the message in the channel stream holding only their sequence numbers. Blobs are
 * not deleted on receipt (one blob may serve several group members); the stream's max_age drops
 * them once every message that could point at them has expired.
 */
export class BlobStore {
  private readonly stream = new StreamsOnce();

  constructor(
    private readonly transport: NatsTransport,
    private readonly expiryMs: number,
  ) {}

  /** Stores `body`; resolves with the blob-reference frame to put in the channel stream. */
  async put(body: Uint8Array): Promise<Uint8Array> {
    await this.ensureStream();
    const { js, subjects, chunkSize } = this.transport;
    const subject = subjects.blob(randomHex(12));
    const seqs: number[] = [];
    for (let offset = 0; offset < body.byteLength; offset += chunkSize) {
      const part = body.subarray(offset, offset + chunkSize);
      seqs.push(
        await js.publish(subject, part).catch(async (error: unknown) => {
          if (!(error instanceof NoStream)) throw error;
          await this.ensureStream(true);
          return js.publish(subject, part);
        }),
      );
    }
    const frame = new FrameWriter(1 + 4 + 8 * seqs.length).u8(FrameKind.blobReference).u32(seqs.length);
    for (const seq of seqs) frame.f64(seq);
    return frame.bytes;
  }

  /** The body a blob-reference frame points at. */
  async get(reference: Uint8Array): Promise<Uint8Array> {
    const reader = new FrameReader(reference);
    reader.u8();
    const seqs = Array.from({ length: reader.u32() }, () => reader.f64());
    const { js, subjects } = this.transport;
    const parts = await Promise.all(seqs.map((seq) => js.messageAt(subjects.blobStream, seq)));
    return Buffer.concat(parts);
  }

  private ensureStream(again = false): Promise<void> {
    const { js, subjects, settings } = this.transport;
    const name = subjects.blobStream;
    return this.stream.ensure(
      name,
      () =>
        js.addStream({
          name,
          description: `channel-layers ${subjects.prefix}: bodies of durable messages above max_payload`,
          subjects: [`${subjects.root}.b.>`],
          retention: "limits",
          storage: "file",
          discard: "old",
          max_age: nanos(this.expiryMs + BLOB_GRACE_MS),
          duplicate_window: duplicateWindowFor(this.expiryMs + BLOB_GRACE_MS),
          allow_direct: true,
          num_replicas: settings.replicas,
        }),
      again,
    );
  }
}
