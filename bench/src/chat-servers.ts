import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { freePort, portAnswers, waitFor } from "@channel-layers/testing";
import type { ChatEndpoint } from "./chat-clients.js";
import { PYTHON, pythonUnavailable } from "./python.js";

/**
 * The chat-room servers of `pnpm bench runtime`, each in its own process(es): examples/chat as
 * `pnpm start` runs it, the Socket.IO peer (bench/peers/socketio-chat.ts), and the seed stack
 * (examples/chat/django under Daphne). With 2 processes, both share the backend and a prefix.
 */
export type Backend = "redis" | "nats" | "postgres" | "memory";
export type ServerKind = "channel-layers" | "socket.io" | "daphne";

/** The peers' names in results, beside OURS ("channel-layers"). */
export const SUBJECTS = {
  socketIoRedis: "socket.io + redis-adapter",
  socketIoMemory: "socket.io, in-memory adapter",
  daphneRedis: "daphne + channels_redis",
  daphneMemory: "daphne, in-memory layer",
};

export interface ChatServers {
  endpoints: ChatEndpoint[];
  pids: number[];
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** Run our and the Socket.IO peer's node processes under `node --cpu-prof` writing here. */
  cpuProfileDir?: string;
}

const CHAT = fileURLToPath(new URL("../../examples/chat/", import.meta.url));
const DJANGO = fileURLToPath(new URL("../../examples/chat/django/", import.meta.url));
const PEERS = fileURLToPath(new URL("../peers/", import.meta.url));

/** The environment variable each backend's URL goes in, for the example's current settings. */
const URL_VARIABLES: Record<Exclude<Backend, "memory">, string> = {
  redis: "REDIS_URL",
  postgres: "DATABASE_URL",
  nats: "NATS_URL",
};

/** The parent's environment without any layer setting that could point a server elsewhere. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ["CHANNEL_LAYER", "CHANNEL_LAYER_URL", "CHANNEL_LAYER_PREFIX", ...Object.values(URL_VARIABLES)]) {
    delete env[name];
  }
  return { ...env, ...extra };
}

function collectOutput(child: ChildProcess): () => string {
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return () => output;
}

/** Spawns a server that prints its base URL (matched by `announced`) once it listens. */
async function spawnAnnouncing(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  announced: RegExp,
) {
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  const output = collectOutput(child);
  let base = "";
  try {
    await waitFor(`${args.at(-1)} to listen`, async () => {
      if (child.exitCode !== null) throw new Error(`${args.at(-1)} exited:\n${output()}`);
      base = announced.exec(output())?.[1] ?? "";
      return base !== "";
    });
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { base, child };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
}

function nodeArgs(options: ServerOptions): string[] {
  const args = ["--conditions=source", "--import", "tsx"];
  if (options.cpuProfileDir) args.push("--cpu-prof", "--cpu-prof-dir", options.cpuProfileDir);
  return args;
}

/** examples/chat as `pnpm start` runs it (rooms without history), its layer picked by CHANNEL_LAYER_URL with a prefix of the run's own. */
function startOurs(backend: Backend, url: string, prefix: string, options: ServerOptions) {
  const separator = url.includes("?") ? "&" : "?";
  const layer: Record<string, string> =
    backend === "memory"
      ? { CHANNEL_LAYER_URL: "memory://" }
      : { CHANNEL_LAYER_URL: `${url}${separator}prefix=${prefix}` };
  return spawnAnnouncing(
    process.execPath,
    [...nodeArgs(options), "src/server.ts"],
    CHAT,
    // Without room history: neither peer keeps one, and a history append per message is work
    // they do not do. Presence stays on (the example's default); it costs at connect, not per message.
    cleanEnv({ PORT: "0", HOST: "127.0.0.1", CHAT_HISTORY_LENGTH: "0", ...layer }),
    /Chat example on (http:\/\/\S+)\/chat\//,
  );
}

function startSocketIo(backend: Backend, url: string, prefix: string, options: ServerOptions) {
  const adapter: Record<string, string> = backend === "redis" ? { REDIS_URL: url, SOCKET_IO_KEY: prefix } : {};
  return spawnAnnouncing(
    process.execPath,
    [...nodeArgs(options), "socketio-chat.ts"],
    PEERS,
    cleanEnv({ PORT: "0", HOST: "127.0.0.1", ...adapter }),
    /Socket\.IO chat on (http:\/\/\S+) /,
  );
}

async function startDaphne(backend: Backend, url: string, prefix: string) {
  const reason = await pythonUnavailable(backend === "redis" ? "channels_redis.core" : "daphne");
  if (reason) throw new Error(reason);
  const port = await freePort();
  const settings: Record<string, string> =
    backend === "redis"
      ? { DJANGO_SETTINGS_MODULE: "mysite.settings_redis", REDIS_URL: url, CHANNEL_LAYER_PREFIX: prefix }
      : { DJANGO_SETTINGS_MODULE: "mysite.settings" };
  const child = spawn(
    PYTHON,
    ["-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", String(port), "mysite.asgi:application"],
    { cwd: DJANGO, env: cleanEnv(settings), stdio: ["ignore", "pipe", "pipe"] },
  );
  const output = collectOutput(child);
  try {
    await waitFor("daphne to listen", async () => {
      if (child.exitCode !== null) throw new Error(`daphne exited:\n${output()}`);
      return portAnswers(port);
    });
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { base: `http://127.0.0.1:${port}`, child };
}

/** Starts `processes` servers of `kind` on `backend` (at `url`; "" for memory), all sharing one prefix. */
export async function startChatServers(
  kind: ServerKind,
  backend: Backend,
  processes: number,
  url: string,
  options: ServerOptions = {},
): Promise<ChatServers> {
  const prefix = `bench${Math.random().toString(16).slice(2, 10)}`;
  const started: { base: string; child: ChildProcess }[] = [];
  const stop = () => Promise.all(started.map(({ child }) => stopChild(child))).then(() => undefined);
  try {
    for (let i = 0; i < processes; i++) {
      if (kind === "channel-layers") started.push(await startOurs(backend, url, prefix, options));
      else if (kind === "socket.io") started.push(await startSocketIo(backend, url, prefix, options));
      else started.push(await startDaphne(backend, url, prefix));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const protocol = kind === "socket.io" ? "socket.io" : "websocket";
  return {
    endpoints: started.map(({ base }) => ({ base, protocol })),
    pids: started.map(({ child }) => child.pid as number),
    stop,
  };
}
