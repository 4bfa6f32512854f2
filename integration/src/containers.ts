import { existsSync } from "node:fs";
import { request } from "node:http";
import type { Service, ServiceKind } from "./service.js";

const IMAGES: Record<ServiceKind, { image: string; port: number; command?: string[]; env?: Record<string, string> }> = {
  redis: { image: "redis:7-alpine", port: 6379 },
  postgres: { image: "postgres:16-alpine", port: 5432, env: { POSTGRES_HOST_AUTH_METHOD: "trust" } },
  nats: { image: "nats:2.10-alpine", port: 4222, command: ["-js"] },
};

function dockerSocket(): string | undefined {
  const host = process.env.DOCKER_HOST;
  if (host?.startsWith("unix://")) return host.slice("unix://".length);
  if (host) return undefined;
  return existsSync("/var/run/docker.sock") ? "/var/run/docker.sock" : undefined;
}

/** Whether a container runtime answers its ping; false fast where none is installed. */
export function containerRuntimeAnswers(): Promise<boolean> {
  if (process.env.DOCKER_HOST && !process.env.DOCKER_HOST.startsWith("unix://")) return Promise.resolve(true);
  const socketPath = dockerSocket();
  if (!socketPath) return Promise.resolve(false);
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** Starts a container for `kind` when a runtime answers; testcontainers is imported only then. */
export async function startContainer(kind: ServiceKind): Promise<Service | undefined> {
  if (!(await containerRuntimeAnswers())) return undefined;
  const { GenericContainer } = await import("testcontainers");
  const spec = IMAGES[kind];
  let builder = new GenericContainer(spec.image).withExposedPorts(spec.port);
  if (spec.command) builder = builder.withCommand(spec.command);
  if (spec.env) builder = builder.withEnvironment(spec.env);
  const container = await builder.start();
  const host = container.getHost();
  const port = container.getMappedPort(spec.port);
  const url =
    kind === "redis"
      ? `redis://${host}:${port}`
      : kind === "nats"
        ? `nats://${host}:${port}`
        : `postgres://postgres@${host}:${port}/postgres`;
  return {
    kind,
    url,
    source: "container",
    stop: async () => {
      await container.stop();
    },
    kill: async () => {
      await container.stop({ timeout: 0, remove: false });
    },
    restart: async () => {
      await container.restart();
    },
  };
}
