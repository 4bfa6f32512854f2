import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { CallReply, PeerConfig } from "./protocol.js";

const PEER = fileURLToPath(new URL("./peer.ts", import.meta.url));
/** A call that gets no answer this long means the peer is stuck: fail with what it printed. */
const CALL_DEADLINE_MS = 120_000;
/** How long a peer may take to close its layers and exit before it is killed. */
const CLOSE_DEADLINE_MS = 20_000;

/**
 * A sender or receiver in a process of its own (peer.ts under tsx, on the packages' sources), and
 * calls to it over IPC. Only this child's pid is ever signalled.
 */
export class PeerProcess<C extends { [M in keyof C]: [unknown, unknown] }> {
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
  output = "";
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve(result: unknown): void; reject(error: Error): void }>();

  constructor(readonly config: PeerConfig) {
    this.child = fork(PEER, [], {
      execArgv: ["--conditions=source", "--import", "tsx"],
      env: { ...process.env, FAULT_PEER_CONFIG: JSON.stringify(config) },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const keep = (chunk: Buffer) => {
      this.output += chunk.toString();
    };
    this.child.stdout?.on("data", keep);
    this.child.stderr?.on("data", keep);
    this.child.on("message", (reply: CallReply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if ("error" in reply) waiter?.reject(new Error(`${config.role}: ${reply.error}`));
      else waiter?.resolve(reply.result);
    });
    this.exited = once(this.child, "exit").then(([code, signal]) => {
      for (const waiter of this.waiting.values())
        waiter.reject(new Error(`the ${config.role} exited (${code ?? signal}) before answering:\n${this.output}`));
      this.waiting.clear();
    });
  }

  call<M extends keyof C & string>(method: M, params: C[M][0]): Promise<C[M][1]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`the ${this.config.role} did not answer ${method} in time:\n${this.output}`));
      }, CALL_DEADLINE_MS);
      const settle =
        <T>(then: (value: T) => void) =>
        (value: T) => {
          clearTimeout(timer);
          then(value);
        };
      this.waiting.set(id, { resolve: settle(resolve as (result: unknown) => void), reject: settle(reject) });
      this.child.send({ id, method, params });
    });
  }

  /** Whether Node has not reaped it yet: only then is its pid still its own, and safe to signal. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Closes its layers and lets it exit; SIGKILL (this pid only) if it does not within the deadline. */
  async close(): Promise<void> {
    if (!this.running) return;
    const timer = setTimeout(() => {
      if (this.running) this.child.kill("SIGKILL");
    }, CLOSE_DEADLINE_MS);
    this.child.send({ id: this.nextId++, method: "close", params: null });
    await this.exited;
    clearTimeout(timer);
  }
}
