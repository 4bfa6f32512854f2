import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { LiveWebsocketCommunicator } from "@channel-layers/runtime/testing";

const CHAT = fileURLToPath(new URL("../../../examples/chat/", import.meta.url));

/**
 * One `pnpm start` of the chat example (examples/chat/src/server.ts under tsx), a child of this
 * process. `env` adds to ours: CHANNEL_LAYER_URL, ALLOWED_HOSTS, PORT (default 0: a free one).
 */
export class ChatExampleProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code (null after a signal) once the process is gone. */
  readonly exited: Promise<number | null>;
  output = "";
  /** Its http://host:port, once ready() resolved. */
  base = "";

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "src/server.ts"], {
      cwd: CHAT,
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.exited = once(this.child, "exit").then(([code]) => code as number | null);
    const keep = (chunk: Buffer) => {
      this.output += chunk.toString();
    };
    this.child.stdout?.on("data", keep);
    this.child.stderr?.on("data", keep);
  }

  /** Resolves once the example printed where it listens. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = /Chat example on (http:\/\/\S+)\/chat\//.exec(this.output);
      if (found?.[1]) {
        this.base = found[1];
        return;
      }
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`The chat example did not start:\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  socket(path: string): LiveWebsocketCommunicator {
    return new LiveWebsocketCommunicator(`${this.base.replace("http", "ws")}${path}`);
  }

  /** Whether Node has not reaped it yet: only then is its pid still its own, and safe to signal. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL, as a crash: no shutdown, its sockets just drop. Resolves once it is gone; only this pid. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM (the graceful shutdown), SIGKILL if it is still there after 10 s; only this pid. */
  async stop(): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => {
      if (this.running) this.child.kill("SIGKILL");
    }, 10_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
