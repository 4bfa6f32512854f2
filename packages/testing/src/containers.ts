import { debug } from "./resolve.js";
import type { ServiceKind, TestService } from "./service.js";
import { waitFor } from "./wait-for.js";

/** One server in a container: the image, its port, and how to tell it answers. */
export interface ContainerSpec {
  kind: ServiceKind;
  image: string;
  port: number;
  command?: string[];
  environment?: Record<string, string>;
  url(host: string, port: number): string;
  ready(host: string, port: number): Promise<boolean>;
}

const DETECT_TIMEOUT_MS = 15_000;
const ENDING_SIGNALS: ReadonlySet<string> = new Set(["SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT", "SIGABRT"]);

let runtimeAnswers: Promise<boolean> | undefined;

/** Asks testcontainers for a container runtime, every time (containerRuntimeAnswers asks once). */
export async function detectContainerRuntime(): Promise<boolean> {
  let testcontainers: typeof import("testcontainers");
  try {
    testcontainers = await import("testcontainers");
  } catch {
    debug("testcontainers is not installed: no containers");
    return false;
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${DETECT_TIMEOUT_MS} ms`)), DETECT_TIMEOUT_MS);
    timer.unref();
  });
  try {
    // testcontainers' own detection: DOCKER_HOST, ~/.testcontainers.properties, the Docker
    // Desktop and rootless sockets; a DOCKER_HOST with no daemon behind it fails here.
    await Promise.race([testcontainers.getContainerRuntimeClient(), late]);
    return true;
  } catch (error) {
    debug("no container runtime: %s", (error as Error).message);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether a container runtime answers, as testcontainers finds it; asked once per process.
 * False when testcontainers is not installed or CHANNEL_LAYERS_CONTAINERS=0.
 */
export function containerRuntimeAnswers(): Promise<boolean> {
  if (process.env.CHANNEL_LAYERS_CONTAINERS === "0") return Promise.resolve(false);
  runtimeAnswers ??= detectContainerRuntime();
  return runtimeAnswers;
}

/** Starts `spec` in a container (testcontainers removes it when this process ends, through Ryuk). */
export async function startContainer(spec: ContainerSpec): Promise<TestService> {
  const { GenericContainer, getContainerRuntimeClient } = await import("testcontainers");
  let builder = new GenericContainer(spec.image).withExposedPorts(spec.port);
  if (spec.command) builder = builder.withCommand(spec.command);
  if (spec.environment) builder = builder.withEnvironment(spec.environment);
  const container = await builder.start();
  const address = () => ({ host: container.getHost(), port: container.getMappedPort(spec.port) });
  const answers = async () => {
    const { host, port } = address();
    await waitFor(`${spec.image} on ${host}:${port}`, () => spec.ready(host, port), 60_000);
  };
  try {
    await answers();
  } catch (error) {
    await container.stop().catch(() => undefined);
    throw error;
  }
  return {
    kind: spec.kind,
    source: "container",
    pid: undefined,
    get url() {
      const { host, port } = address();
      return spec.url(host, port);
    },
    async stop() {
      await container.stop();
    },
    async restart() {
      // testcontainers inspects the container again: the mapped port, and so `url`, may change.
      await container.restart();
      await answers();
    },
    async kill(signal = "SIGKILL") {
      const client = await getContainerRuntimeClient();
      const handle = client.container.getById(container.getId());
      await handle.kill({ signal });
      if (ENDING_SIGNALS.has(signal)) await handle.wait();
    },
    signalProcess() {
      throw new Error("signalProcess() works only on local servers, not on a container");
    },
  };
}
