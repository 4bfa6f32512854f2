import { parseArgs } from "node:util";
import { CommandLineError } from "./command-line-error.js";
import { runworkerCommand } from "./runworker-command.js";
import { serveCommand } from "./serve-command.js";

export const USAGE = `Usage:
  channel-layers serve <app> [--host 127.0.0.1] [--port 8000] [--processes 1]
  channel-layers runworker <app> <channel>... [--layer default]

<app> is a module (e.g. ./app.js) whose default export is the application (a
ProtocolTypeRouter, a URLRouter or a consumer class). It may export channelLayers, the
CHANNEL_LAYERS settings; without it the default layer comes from CHANNEL_LAYER_URL, else it is
the in-memory layer.

serve       serves the application's WebSockets (and its http handler) on host:port, as Daphne.
            --processes N forks N processes sharing the port (node:cluster); they must share a
            networked layer (CHANNEL_LAYER_URL) to share groups.
runworker   runs the application's channel consumers (ProtocolTypeRouter's "channel", a
            ChannelNameRouter) on the named channels, as Channels' runworker. --layer picks the
            layer alias.

SIGTERM or SIGINT shuts down gracefully (sockets closed with 1001, running jobs finished, layers
closed), then the process exits. See docs/runtime.md.`;

/** Whole non-negative number from an option, within [min, max]. */
function integerOption(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new CommandLineError(`--${name} must be a whole number from ${min} to ${max}; got ${JSON.stringify(text)}`);
  }
  return value;
}

function only(command: string, given: Record<string, unknown>, allowed: readonly string[]): void {
  for (const [name, value] of Object.entries(given)) {
    if (value !== undefined && !allowed.includes(name))
      throw new CommandLineError(`${command} does not take --${name}`);
  }
}

/** Parses the command line and runs the command; a usage error prints the usage and exits with code 2. */
export async function main(argv: readonly string[]): Promise<void> {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        processes: { type: "string" },
        layer: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    const { help, ...given } = values;
    const [command, app, ...rest] = positionals;
    if (help === true) {
      console.log(USAGE);
      return;
    }
    if (command === "serve") {
      only("serve", given, ["host", "port", "processes"]);
      if (app === undefined) throw new CommandLineError("serve needs the app module: channel-layers serve ./app.js");
      if (rest.length > 0) throw new CommandLineError(`serve takes one app module; got also ${rest.join(" ")}`);
      await serveCommand({
        app,
        host: given.host ?? "127.0.0.1",
        port: integerOption("port", given.port, 8000, 0, 65535),
        processes: integerOption("processes", given.processes, 1, 1, 1024),
      });
      return;
    }
    if (command === "runworker") {
      only("runworker", given, ["layer"]);
      if (app === undefined || rest.length === 0) {
        throw new CommandLineError(
          "runworker needs the app module and channels: channel-layers runworker ./app.js thumbnails",
        );
      }
      await runworkerCommand({ app, channels: rest, layer: given.layer ?? "default" });
      return;
    }
    throw new CommandLineError(command === undefined ? "Give a command" : `Unknown command ${JSON.stringify(command)}`);
  } catch (error) {
    if (
      error instanceof CommandLineError ||
      (error as { code?: unknown }).code?.toString().startsWith("ERR_PARSE_ARGS")
    ) {
      console.error(`channel-layers: ${(error as Error).message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error("channel-layers: could not start:", error);
    process.exit(1);
  }
}
