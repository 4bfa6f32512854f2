/**
 * The seam for resume after reconnect (issue 15, item 3). A server frame that carries a string
 * `group` and an `offset` (string or number, opaque to the client: a Redis stream id, a JetStream
 * sequence, a table id) moves that group's position; on every new connection the client first
 * sends a hello frame built from the positions, by default
 * `{"type": "channel_layers.resume", "offsets": {"<group>": <offset>, ...}}` when there are any.
 */

/** A position in a group's history, as the server numbered it. */
export type Offset = string | number;

/** Where a frame stands: the group (or stream) it came through and its offset there. */
export interface StreamPosition {
  readonly stream: string;
  readonly offset: Offset;
}

/** What the hello builder gets on each new connection. */
export interface HelloContext {
  /** The last offset seen per group (a copy). */
  readonly offsets: Readonly<Record<string, Offset>>;
  /** False on the first connection of this client (or after connect()), true after a reconnect. */
  readonly reconnected: boolean;
}

/** The type of the default hello frame. */
export const RESUME_TYPE = "channel_layers.resume";

/** The type of the frame the runtime sends when a group's history no longer reaches back to the client's offset. */
export const GAP_TYPE = "channel_layers.gap";

/** The group of a `channel_layers.gap` frame, else undefined. */
export function gapGroupOf(content: unknown): string | undefined {
  if (typeof content !== "object" || content === null) return undefined;
  const { type, group } = content as { type?: unknown; group?: unknown };
  return type === GAP_TYPE && typeof group === "string" ? group : undefined;
}

/** The default position reader: `group` (a string) and `offset` (a string or finite number) on the frame. */
export function readGroupOffset(content: unknown): StreamPosition | undefined {
  if (typeof content !== "object" || content === null) return undefined;
  const { group, offset } = content as { group?: unknown; offset?: unknown };
  if (typeof group !== "string") return undefined;
  if (typeof offset === "string" || (typeof offset === "number" && Number.isFinite(offset))) {
    return { stream: group, offset };
  }
  return undefined;
}

/**
 * The default hello: the offsets as a channel_layers.resume frame, on every connection, also with
 * none (`"offsets": {}`): a runtime consumer in a history group waits for this first frame before
 * it hands the client live messages, so replayed ones come first; an empty one ends that wait at once.
 */
export function resumeHello(context: HelloContext): { type: string; offsets: Record<string, Offset> } {
  return { type: RESUME_TYPE, offsets: { ...context.offsets } };
}

/** resumeHello only when there are offsets: for a server that does not know the resume frame. */
export function resumeHelloWithOffsets(
  context: HelloContext,
): { type: string; offsets: Record<string, Offset> } | undefined {
  return Object.keys(context.offsets).length === 0 ? undefined : resumeHello(context);
}
