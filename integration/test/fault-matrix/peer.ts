import type { CallReply, CallRequest, PeerConfig } from "./protocol.js";
import { Receiver } from "./receiver.js";
import { Sender } from "./sender.js";

// A sender or receiver process of the fault matrix, started by PeerProcess (under tsx, on the
// packages' sources). It answers the test process's calls over IPC and dies with it.

const config = JSON.parse(process.env.FAULT_PEER_CONFIG ?? "null") as PeerConfig;
const peer = config.role === "sender" ? new Sender(config) : new Receiver(config);
const calls = peer.calls as Record<string, (params: unknown) => Promise<unknown>>;

function reply(message: CallReply): void {
  process.send?.(message);
}

process.on("message", (request: CallRequest) => {
  const call = calls[request.method];
  if (call === undefined) return reply({ id: request.id, error: `no call ${request.method}` });
  call(request.params).then(
    (result) => {
      reply({ id: request.id, result });
      if (request.method === "close") process.disconnect();
    },
    (error: unknown) => reply({ id: request.id, error: (error as Error)?.stack ?? String(error) }),
  );
});
// The test process is gone (or let go of us after close): nothing is left to report to.
process.on("disconnect", () => process.exit(0));
