import { randomBytes } from "node:crypto";
import { deletePrefixStreams } from "@channel-layers/nats";
import { uninstall } from "@channel-layers/postgres";
import type { LiveWebsocketCommunicator } from "@channel-layers/runtime/testing";
import { type ServiceKind, startService, type TestService } from "@channel-layers/testing";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatExampleProcess } from "./support/chat-example.js";

// Two processes of the chat example on one networked backend: what a client of one sends reaches
// a client of the other, as two Daphne processes on one Redis in the seed tutorial.

const KINDS: ServiceKind[] = ["redis", "postgres", "nats"];

/** Removes what a prefix left on a shared server: PostgreSQL tables and JetStream streams (Redis keys expire). */
async function removePrefix(kind: ServiceKind, url: string, prefix: string): Promise<void> {
  if (kind === "postgres") await uninstall({ connectionString: url, prefix });
  if (kind === "nats") {
    const connection = await connect({ servers: url });
    try {
      await deletePrefixStreams(connection, prefix);
    } finally {
      await connection.close();
    }
  }
}

describe.each(KINDS)("the chat example in two processes on %s", (kind) => {
  let service: TestService | undefined;
  // One fresh prefix: the two processes share it, and nothing else on the server does.
  const prefix = `chat${randomBytes(6).toString("hex")}`;
  const processes: ChatExampleProcess[] = [];
  const sockets: LiveWebsocketCommunicator[] = [];

  beforeAll(async () => {
    service = await startService(kind);
    if (service === undefined) return;
    const url = `${service.url}${service.url.includes("?") ? "&" : "?"}prefix=${prefix}`;
    const env = { CHANNEL_LAYER_URL: url };
    processes.push(new ChatExampleProcess(env), new ChatExampleProcess(env));
    await Promise.all(processes.map((chat) => chat.ready()));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(sockets.map((socket) => socket.disconnect().catch(() => undefined)));
    const codes = await Promise.all(processes.map((chat) => chat.stop()));
    if (service) await removePrefix(kind, service.url, prefix);
    await service?.stop();
    // Both shut down gracefully on SIGTERM: sockets closed, groups left, layer closed, exit 0.
    if (processes.length > 0) expect(codes).toEqual([0, 0]);
  }, 30_000);

  /** On failure, what the two processes printed (their errors go to stderr). */
  function showOutputOnFailure(context: { onTestFailed(handler: () => void): void }): void {
    context.onTestFailed(() => {
      for (const chat of processes) console.error(`--- chat example pid ${chat.child.pid}:\n${chat.output}`);
    });
  }

  function open(chat: ChatExampleProcess | undefined, path: string): LiveWebsocketCommunicator {
    if (chat === undefined) throw new Error("no chat process");
    const socket = chat.socket(path);
    sockets.push(socket);
    return socket;
  }

  it("relays a chat message from a client of one process to a client of the other, and not to another room", async (context) => {
    if (service === undefined) return context.skip(`no ${kind} server`);
    showOutputOnFailure(context);
    const [first, second] = processes;
    const alice = open(first, "/ws/chat/lobby/");
    const bob = open(second, "/ws/chat/lobby/");
    const carol = open(second, "/ws/chat/other/");
    for (const socket of [alice, bob, carol]) expect((await socket.connect()).connected).toBe(true);

    await alice.sendJsonTo({ message: `hello from process ${first?.child.pid}` });
    expect(await bob.receiveJsonFrom(10_000)).toEqual({ message: `hello from process ${first?.child.pid}` });
    expect(await alice.receiveJsonFrom(10_000)).toEqual({ message: `hello from process ${first?.child.pid}` });

    await bob.sendJsonTo({ message: "and back" });
    expect(await alice.receiveJsonFrom(10_000)).toEqual({ message: "and back" });
    expect(await bob.receiveJsonFrom(10_000)).toEqual({ message: "and back" });

    // Carol's own message comes back after anything of the lobby's that might have leaked to her.
    await carol.sendJsonTo({ message: "other room" });
    expect(await carol.receiveJsonFrom(10_000)).toEqual({ message: "other room" });
  });

  it("delivers a notification POSTed to one process to a socket of the other", async (context) => {
    if (service === undefined) return context.skip(`no ${kind} server`);
    showOutputOnFailure(context);
    const [first, second] = processes;
    const listener = open(second, "/ws/notification/seoul/");
    expect((await listener.connect()).connected).toBe(true);
    const response = await fetch(`${first?.base}/notification/seoul/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ data: "점검 안내" }),
    });
    expect(response.status).toBe(202);
    expect(await listener.receiveJsonFrom(10_000)).toEqual({ data: "점검 안내" });
  });
});
