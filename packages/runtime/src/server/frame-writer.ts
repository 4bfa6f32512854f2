import type { Duplex } from "node:stream";
import { WebSocket } from "ws";

/** The parts of ws's WebSocket the writer uses beyond its public API (what engine.io uses too). */
interface WebSocketInternals {
  _socket?: Duplex | null;
  _sender?: { _bufferedBytes?: unknown; sendFrame?: unknown } | null;
}

/** A socket that can be written to directly, and whether it got a frame in the current turn. */
export interface FrameTarget {
  ws: WebSocket;
  /** ws's socket, when this ws version lets frames be written to it directly. */
  socket: Duplex | undefined;
  /** The turn of its last frame; a second frame in the same turn corks the socket until the turn ends. */
  lastTurn: number;
  /** Frames it got in that turn. */
  framesInTurn: number;
}

const OPCODE_TEXT_FIN = 0x81;

/** The frame header (no mask: server to client, RFC 6455 section 5.2) and `payloadBytes` bytes of room after it. */
function frameWithRoom(payloadBytes: number): [frame: Buffer, headerBytes: number] {
  const headerBytes = payloadBytes < 126 ? 2 : payloadBytes < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerBytes + payloadBytes);
  frame[0] = OPCODE_TEXT_FIN;
  if (headerBytes === 2) frame[1] = payloadBytes;
  else if (headerBytes === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(payloadBytes, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(payloadBytes / 2 ** 32), 2);
    frame.writeUInt32BE(payloadBytes >>> 0, 6);
  }
  return [frame, headerBytes];
}

/**
 * Writes text frames for every connection of one server. A broadcast hands the same text to many
 * sockets in one turn (one per group member), so the text is framed once (header and UTF-8 in one
 * buffer, as engine.io does with `wsPreEncodedFrame`) and that buffer is written to each socket,
 * where ws would frame and encode it again for each. A socket that gets a second frame in the same
 * turn is corked until the turn ends (from its first frame when its last turn had several), so a
 * burst leaves in one system call, not one per frame.
 */
export class FrameWriter {
  private turn = 1;
  private turnEnding = false;
  private text: string | undefined;
  private frame: Buffer | undefined;
  private readonly corked: Duplex[] = [];

  /** The target for `ws`: direct writes when ws exposes its socket and sender as expected, else ws.send. */
  target(ws: WebSocket): FrameTarget {
    const internals = ws as unknown as WebSocketInternals;
    const socket = internals._socket;
    const sender = internals._sender;
    const direct =
      socket != null &&
      typeof socket.write === "function" &&
      typeof socket.cork === "function" &&
      typeof sender?.sendFrame === "function" &&
      typeof sender._bufferedBytes === "number";
    return { ws, socket: direct ? socket : undefined, lastTurn: 0, framesInTurn: 0 };
  }

  /** Sends `text` as one text frame; dropped (as ws.send drops it) once ws is closing. */
  sendText(target: FrameTarget, text: string): void {
    const { ws, socket } = target;
    // Frames ws queued itself (while compressing, or reading a Blob) must go first: let ws send.
    if (socket === undefined || ws.readyState !== WebSocket.OPEN || !this.senderIdle(ws)) {
      ws.send(text);
      return;
    }
    this.write(target, socket, this.frameOf(text));
  }

  private senderIdle(ws: WebSocket): boolean {
    return (ws as unknown as WebSocketInternals)._sender?._bufferedBytes === 0;
  }

  private frameOf(text: string): Buffer {
    // Comparing with the last text costs a length check, or one memcmp when it matches.
    if (text === this.text && this.frame !== undefined) return this.frame;
    const payloadBytes = Buffer.byteLength(text);
    const [frame, headerBytes] = frameWithRoom(payloadBytes);
    frame.write(text, headerBytes, payloadBytes, "utf8");
    this.text = text;
    this.frame = frame;
    this.scheduleTurnEnd();
    return frame;
  }

  private write(target: FrameTarget, socket: Duplex, frame: Buffer): void {
    if (target.lastTurn === this.turn) {
      target.framesInTurn++;
      this.cork(socket);
    } else {
      // A socket that got several frames in its last turn (a burst) likely gets several in this
      // one too: corked from the first, they leave in one system call rather than two. One that
      // got one (rounds) is written at once, without the cork's deferral.
      const busy = target.framesInTurn > 1;
      target.lastTurn = this.turn;
      target.framesInTurn = 1;
      this.scheduleTurnEnd();
      if (busy) this.cork(socket);
    }
    socket.write(frame);
  }

  private cork(socket: Duplex): void {
    if (socket.writableCorked !== 0) return;
    socket.cork();
    this.corked.push(socket);
  }

  private scheduleTurnEnd(): void {
    if (this.turnEnding) return;
    this.turnEnding = true;
    // After the microtasks of this turn: every consumer woken by the same layer message has sent.
    process.nextTick(this.endTurn);
  }

  private readonly endTurn = (): void => {
    this.turnEnding = false;
    this.turn++;
    // The frame is not kept past its turn: a large one would otherwise stay in memory.
    this.text = undefined;
    this.frame = undefined;
    const corked = this.corked.splice(0);
    for (const socket of corked) socket.uncork();
  };
}
