import { ENV_URL, type ServiceKind, type TestService } from "./service.js";

/** The server an environment URL names: shared with others, so never stopped, killed or restarted. */
export function sharedServer(kind: ServiceKind, url: string): TestService {
  const refuse = (what: string) => {
    throw new Error(
      `${ENV_URL[kind]} names a shared ${kind} server: tests may not ${what} it (ask for { throwaway: true })`,
    );
  };
  return {
    kind,
    url,
    source: "env",
    pid: undefined,
    stop: async () => undefined,
    kill: async () => refuse("kill"),
    restart: async () => refuse("restart"),
    signalProcess: () => refuse("signal"),
  };
}
