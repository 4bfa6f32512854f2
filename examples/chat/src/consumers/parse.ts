import type { WebsocketData } from "@channel-layers/runtime";

/** json.loads for the consumers' text frames: the object sent, or undefined for anything else. */
export function parseObject(data: WebsocketData): Record<string, unknown> | undefined {
  if (typeof data !== "string") return undefined;
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
