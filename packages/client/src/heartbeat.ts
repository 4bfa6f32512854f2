import { startTimer, stopTimer, type Timer } from "./host.js";

/**
 * The reserved frames of the heartbeat. Browsers cannot send WebSocket pings, so the client sends
 * this exact text and the runtime's server answers it itself (its heartbeatReply), without
 * involving the application's consumer.
 */
export const HEARTBEAT_PING = '{"type":"channel_layers.ping"}';
export const HEARTBEAT_PONG = '{"type":"channel_layers.pong"}';

/**
 * Sends a ping every `intervalMs` while a connection is open and declares it dead when nothing at
 * all arrives within `timeoutMs` of a ping: any frame proves the connection is alive, so a server
 * busy sending is never mistaken for a dead one.
 */
export class Heartbeat {
  private pingTimer: Timer;
  private deadline: Timer;

  constructor(
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly sendPing: () => void,
    private readonly onDead: () => void,
  ) {}

  start(): void {
    this.stop();
    if (this.intervalMs > 0) this.schedulePing();
  }

  /** A frame arrived: the connection is alive. */
  seen(): void {
    stopTimer(this.deadline);
    this.deadline = undefined;
  }

  stop(): void {
    stopTimer(this.pingTimer);
    stopTimer(this.deadline);
    this.pingTimer = undefined;
    this.deadline = undefined;
  }

  private schedulePing(): void {
    this.pingTimer = startTimer(() => {
      this.schedulePing();
      // The earliest unanswered ping sets the deadline: a later ping does not push it back.
      if (this.deadline === undefined) {
        this.deadline = startTimer(() => {
          // One more turn before judging: after a blocked thread the deadline timer can run before
          // the frames that arrived meanwhile are read, and one of them may be the answer.
          this.deadline = startTimer(() => {
            this.stop();
            this.onDead();
          }, 0);
        }, this.timeoutMs);
      }
      this.sendPing();
    }, this.intervalMs);
  }
}
