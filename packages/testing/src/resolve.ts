import { debuglog } from "node:util";

export const debug = debuglog("channel-layers:testing");

/** The ways to get one server, in the order they are tried, and what to do with none. */
export interface ServicePlan<T> {
  /** Named in errors: "Redis", "a Redis Sentinel set". */
  what: string;
  /** Says how to get a server when there is none. */
  hint: string;
  /** The environment's URL (REDIS_URL, ...), used unless `throwaway`. */
  envUrl?: string | undefined;
  fromEnv?: (url: string) => T;
  throwaway: boolean;
  /** Whether a container runtime answers; asked only when `container` is given. */
  containerRuntime: () => Promise<boolean>;
  /** Starts a container; undefined where containers do not apply. */
  container?: (() => Promise<T>) | undefined;
  /** Starts the local binary; undefined when it is not installed (or turned off). */
  local?: (() => Promise<T>) | undefined;
  /** Reject with the reasons instead of resolving undefined. */
  required: boolean;
}

/**
 * Finds a server in the order the design fixes: the environment URL (unless `throwaway`); a
 * container when a runtime answers (one that fails to start falls back); the local binary; else
 * undefined, or a rejection naming what was tried when `required`.
 */
export async function resolveService<T>(plan: ServicePlan<T>): Promise<T | undefined> {
  if (plan.envUrl && plan.fromEnv && !plan.throwaway) return plan.fromEnv(plan.envUrl);
  const tried: string[] = [];
  if (plan.container) {
    if (await plan.containerRuntime()) {
      try {
        return await plan.container();
      } catch (error) {
        tried.push(`its container did not start (${(error as Error).message})`);
        debug("%s: the container did not start, trying the local binary: %s", plan.what, (error as Error).message);
      }
    } else {
      tried.push("no container runtime answered");
    }
  }
  if (plan.local) return plan.local();
  tried.push("no local binary");
  const reason = `${plan.what}: ${plan.hint} (${tried.join("; ")})`;
  if (plan.required) throw new Error(`${reason}. Required because CI=true or REQUIRE_SERVICES=1 (or required: true)`);
  debug("skipping: %s", reason);
  return undefined;
}
