import { coarseNow, type LayerDiagnostics } from "@channel-layers/core/backend";
import { FrameFlag, FrameKind, type FrameReader, FrameWriter } from "./frames.js";
import type { NatsTransport } from "./transport.js";

/** Room left in each NATS payload for the frame's own fields and protocol headers. */
const FRAME_ROOM = 1024;

/** The largest body that fits one publish on a server with this max_payload. */
export function chunkSizeFor(maxPayload: number): number {
  return Math.max(1024, maxPayload - FRAME_ROOM);
}

/** The chunk frames that carry all but the last `chunkSize` of `body`, and that last piece. */
export function splitIntoChunks(
  key: string,
  body: Uint8Array,
  chunkSize: number,
): { chunks: Uint8Array[]; tail: Uint8Array } {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  while (body.byteLength - offset > chunkSize) {
    const part = body.subarray(offset, offset + chunkSize);
    chunks.push(
      new FrameWriter(1 + FrameWriter.stringSize(key) + part.byteLength).u8(FrameKind.chunk).string(key).raw(part)
        .bytes,
    );
    offset += chunkSize;
  }
  return { chunks, tail: body.subarray(offset) };
}

/** A large body's transfer: its key, how many chunk frames went ahead, and the piece for the closing frame. */
export interface ChunkedBody {
  key: string;
  count: number;
  tail: Uint8Array;
}

/** Publishes all but the last piece of a large body as chunk frames on `subject`; the caller sends the closing frame. */
export function publishChunks(transport: NatsTransport, subject: string, body: Uint8Array): ChunkedBody {
  const key = transport.transferKey();
  const { chunks, tail } = splitIntoChunks(key, body, transport.chunkSize);
  for (const chunk of chunks) transport.publish(subject, chunk);
  return { key, count: chunks.length, tail };
}

/** Bytes the closing frame of a chunked transfer adds for its key and chunk count. */
export function chunkedFieldsSize(chunked: ChunkedBody): number {
  return FrameWriter.stringSize(chunked.key) + 4;
}

interface Transfer {
  parts: Uint8Array[];
  startedAt: number;
}

/**
 * Puts chunked messages back together (one publisher's messages arrive in order, so chunks come
 * before their closing frame); a transfer never closed is dropped after `maxAgeMs`.
 */
export class ChunkAssembler {
  private readonly transfers = new Map<string, Transfer>();
  private nextSweepAt = 0;
  /** Transfers dropped incomplete. */
  incomplete = 0;

  constructor(
    private readonly maxAgeMs: number,
    private readonly diagnostics: LayerDiagnostics,
  ) {}

  get size(): number {
    return this.transfers.size;
  }

  add(key: string, data: Uint8Array): void {
    const now = coarseNow();
    if (now >= this.nextSweepAt) this.sweep(now);
    let transfer = this.transfers.get(key);
    if (transfer === undefined) {
      transfer = { parts: [], startedAt: now };
      this.transfers.set(key, transfer);
    }
    // Copied: the received payload may be a view of a buffer the client reuses.
    transfer.parts.push(data.slice());
  }

  /** The whole body, or undefined when any of its `count` chunks is missing. */
  complete(key: string, count: number, tail: Uint8Array): Uint8Array | undefined {
    const transfer = this.transfers.get(key);
    this.transfers.delete(key);
    if ((transfer?.parts.length ?? 0) !== count) {
      this.dropIncomplete(key);
      return undefined;
    }
    return Buffer.concat([...(transfer?.parts ?? []), tail]);
  }

  /**
   * The body a frame carries, read from where `reader` stands: the rest of the frame, or for the
   * closing frame of a chunked transfer the whole transfer (undefined when a chunk is missing).
   */
  bodyOf(reader: FrameReader, flags: number): Uint8Array | undefined {
    if (!(flags & FrameFlag.chunked)) return reader.rest();
    const key = reader.string();
    const count = reader.u32();
    return this.complete(key, count, reader.rest());
  }

  clear(): void {
    this.transfers.clear();
  }

  private sweep(now: number): void {
    this.nextSweepAt = now + 1000;
    for (const [key, transfer] of this.transfers) {
      if (now - transfer.startedAt < this.maxAgeMs) break;
      this.transfers.delete(key);
      this.dropIncomplete(key);
    }
  }

  private dropIncomplete(key: string): void {
    this.incomplete++;
    this.diagnostics.dropped("incomplete-transfer", { transfer: key });
  }
}
