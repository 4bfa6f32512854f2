import { findBinary } from "./binaries.js";
import { type ContainerSpec, containerRuntimeAnswers, startContainer } from "./containers.js";
import { freePort } from "./free-port.js";
import { localServersAllowed, makeDataDir, startLocalServer } from "./local-server.js";
import { resolveService } from "./resolve.js";
import { missingServiceHint, type StartServiceOptions, servicesRequired, type TestService } from "./service.js";
import { sharedServer } from "./shared-server.js";
import { probeTcp, waitFor } from "./wait-for.js";

/** The nats-server the layer is tested on (docs/nats.md). */
export const NATS_IMAGE = "nats:2.9.10-alpine";

export interface StartNatsOptions extends StartServiceOptions {
  /**
   * JetStream on (default true), as the NATS layer needs. `false` asks for a server without it,
   * which implies a throwaway server: the environment's server is whatever it is.
   */
  jetstream?: boolean;
}

/** Resolves once the nats-server on `port` sends its INFO line. */
export function natsAnswers(port: number, host = "127.0.0.1"): Promise<void> {
  return waitFor(`nats-server on ${host}:${port}`, () => probeTcp(port, "INFO", undefined, host));
}

function natsContainer(jetstream: boolean, image = NATS_IMAGE): ContainerSpec {
  return {
    kind: "nats",
    image,
    port: 4222,
    command: jetstream ? ["-p", "4222", "-js"] : ["-p", "4222"],
    url: (host, port) => `nats://${host}:${port}`,
    ready: (host, port) => probeTcp(port, "INFO", undefined, host),
  };
}

async function startLocalNats(binary: string, jetstream: boolean, args: readonly string[] = []) {
  const port = await freePort();
  const dataDir = makeDataDir("nats");
  const js = jetstream ? ["-js", "-sd", dataDir] : [];
  return startLocalServer({
    kind: "nats",
    url: `nats://127.0.0.1:${port}`,
    dataDir,
    command: {
      command: binary,
      args: ["-a", "127.0.0.1", "-p", String(port), ...js, ...args],
      ready: () => natsAnswers(port),
    },
  });
}

/**
 * A NATS server for tests: NATS_URL (unless `throwaway` or `jetstream: false`), else a
 * container, else a throwaway nats-server from the local binary, else undefined (or a rejection
 * when required). JetStream is on unless `jetstream: false`.
 */
export async function startNats(options: StartNatsOptions = {}): Promise<TestService | undefined> {
  const jetstream = options.jetstream ?? true;
  const binary = findBinary("nats-server");
  return resolveService({
    what: "NATS",
    hint: missingServiceHint("nats"),
    envUrl: process.env.NATS_URL,
    fromEnv: (url) => sharedServer("nats", url),
    throwaway: options.throwaway === true || options.args !== undefined || !jetstream,
    containerRuntime: containerRuntimeAnswers,
    container: options.args ? undefined : () => startContainer(natsContainer(jetstream, options.image)),
    local: binary && localServersAllowed() ? () => startLocalNats(binary, jetstream, options.args) : undefined,
    required: options.required ?? servicesRequired(),
  });
}
