import { BackendUnavailable, ChannelLayerError } from "@channel-layers/core";
import { Backoff, type LayerDiagnostics, redactUrl } from "@channel-layers/core/backend";
import {
  type ConsumerConfig,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { headers, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { NoResponders, type Requests } from "./requests.js";

/** JetStream API error codes the layer acts on. */
export const ApiCode = {
  /** A stream at max_msgs with discard "new" refused a message: the channel is full. */
  maximumMessages: 10077,
  /** Nats-Expected-Last-Subject-Sequence did not match: someone else wrote first. */
  wrongLastSequence: 10071,
  streamNotFound: 10059,
  /** No message matched a get. */
  noMessage: 10037,
  /** A message delete found no message at that sequence inside the stream (someone else deleted it first). */
  sequenceNotFound: 10043,
  /** A message delete failed; "no message found" when the sequence is below the stream's first (deleted first). */
  messageDeleteFailed: 10057,
  consumerNotFound: 10014,
  /** A stream of that name exists with another configuration. */
  streamNameInUse: 10058,
  /** The server could not make the stream's store (a directory on disk). */
  storeNotCreated: 10049,
  /** The account has no JetStream. */
  notEnabledForAccount: 10039,
  /** The server has no JetStream. */
  notEnabled: 10076,
  /** A cluster without a meta leader for the moment (a node just died). */
  clusterUnavailable: 10008,
  /** A cluster node that cannot take the request now (not the leader). */
  clusterNotLeader: 10009,
} as const;

/**
 * nats-server 2.9 removes an account's store directory with its last stream, so a stream created
 * at that moment can fail with 10049 though the next try succeeds: it is tried this often in all.
 */
const STORE_ATTEMPTS = 4;
const STORE_RETRY = { initialMs: 50, maxMs: 500 };

/** What to tell a user whose server has no JetStream. */
const NO_JETSTREAM =
  "the NATS server has no JetStream (named channels and the groups they join live in JetStream streams): start nats-server with -js, or enable JetStream for the account";

/** JetStream refused a publish; `code` is its err_code. */
export class StreamPublishError extends Error {
  constructor(
    readonly code: number,
    description: string,
  ) {
    super(`JetStream refused the message: ${description} (${code})`);
    this.name = "StreamPublishError";
  }
}

/** A stored message as a direct get returns it. */
export interface StoredMessage {
  seq: number;
  subject: string;
  /** When the stream stored it, by the server's clock (ms epoch). */
  storedAt: number;
  data: Uint8Array;
}

/** No stream listens on the subject (nobody answered the publish). */
export class NoStream extends Error {
  constructor(readonly subject: string) {
    super(`No JetStream stream takes ${subject}`);
    this.name = "NoStream";
  }
}

const decoder = new TextDecoder();

/** A stream's duplicate window (ns) may not exceed its max_age; the server's default is 2 minutes. */
export function duplicateWindowFor(maxAgeMs: number): number {
  return nanos(Math.min(maxAgeMs, 120_000));
}

/** Milliseconds as the whole nanoseconds JetStream's configuration takes. */
export function nanos(ms: number): number {
  return Math.round(ms * 1e6);
}

/** The JetStream calls the layer makes: hot ones on the shared reply inbox, the rest through nats.js. */
export class JetStreamCalls {
  private manager: Promise<JetStreamManager> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly requests: Requests,
    private readonly timeoutMs: number,
    private readonly diagnostics: LayerDiagnostics,
  ) {}

  /** Stores `payload` on `subject`; resolves with its stream sequence. */
  async publish(subject: string, payload: Uint8Array, expectLastSubjectSequence?: number): Promise<number> {
    let hdrs: MsgHdrs | undefined;
    if (expectLastSubjectSequence !== undefined) {
      hdrs = headers();
      hdrs.set("Nats-Expected-Last-Subject-Sequence", String(expectLastSubjectSequence));
    }
    let reply: Awaited<ReturnType<Requests["request"]>>;
    try {
      reply = await this.requests.request(subject, payload, { headers: hdrs });
    } catch (error) {
      throw error instanceof NoResponders ? new NoStream(subject) : error;
    }
    const ack = JSON.parse(decoder.decode(reply.data)) as {
      seq?: number;
      error?: { err_code: number; description: string };
    };
    if (ack.error) throw new StreamPublishError(ack.error.err_code, ack.error.description);
    return ack.seq ?? 0;
  }

  /**
   * The last message on `subject` in `stream`, or undefined when there is none (or no stream).
   * Not a direct get: one to a missing stream goes unanswered, where the API says so at once.
   */
  async lastOnSubject(stream: string, subject: string): Promise<{ seq: number; data: Uint8Array } | undefined> {
    const reply = await this.requests
      .request(`$JS.API.STREAM.MSG.GET.${stream}`, Buffer.from(JSON.stringify({ last_by_subj: subject })))
      .catch((error: unknown) => {
        throw unavailable(`read ${subject}`, error);
      });
    const answer = JSON.parse(decoder.decode(reply.data)) as {
      message?: { seq: number; data?: string };
      error?: { err_code: number; description: string };
    };
    if (answer.error) {
      if (answer.error.err_code === ApiCode.noMessage || answer.error.err_code === ApiCode.streamNotFound) {
        return undefined;
      }
      throw new BackendUnavailable(`JetStream could not read ${subject}: ${answer.error.description}`);
    }
    const message = answer.message;
    if (message === undefined) return undefined;
    return { seq: message.seq, data: Buffer.from(message.data ?? "", "base64") };
  }

  /**
   * The subjects matching `filter` that hold a message in `stream` now, from the stream's state
   * (one request, a consistent view); none when there is no stream.
   */
  async subjectsHolding(stream: string, filter: string): Promise<string[]> {
    const answer = await this.api(
      `STREAM.INFO.${stream}`,
      { subjects_filter: filter },
      `list the subjects of ${filter}`,
    );
    if (answer.error !== undefined) {
      if (answer.error.err_code === ApiCode.streamNotFound) return [];
      throw new BackendUnavailable(`JetStream could not list the subjects of ${filter}: ${answer.error.description}`);
    }
    const state = answer.state as { subjects?: Record<string, number> } | undefined;
    return Object.keys(state?.subjects ?? {});
  }

  /** The message at `seq` in `stream` (direct get). */
  async messageAt(stream: string, seq: number): Promise<Uint8Array> {
    const reply = await this.requests
      .request(`$JS.API.DIRECT.GET.${stream}`, Buffer.from(JSON.stringify({ seq })))
      .catch((error: unknown) => {
        throw unavailable(`read message ${seq} of ${stream}`, error);
      });
    const code = reply.headers?.code ?? 0;
    if (code >= 400) throw new BackendUnavailable(`JetStream has no message ${seq} in ${stream} (${code})`);
    return reply.data;
  }

  /**
   * A direct get (`{ seq }`, or `{ seq, next_by_subj }` for the first message on a subject at or
   * after seq): undefined when there is no such message, or no such stream (nobody answers).
   */
  async directGet(stream: string, request: { seq: number; next_by_subj?: string }): Promise<StoredMessage | undefined> {
    let reply: Awaited<ReturnType<Requests["request"]>>;
    try {
      reply = await this.requests.request(`$JS.API.DIRECT.GET.${stream}`, Buffer.from(JSON.stringify(request)));
    } catch (error) {
      if (error instanceof NoResponders) return undefined;
      throw unavailable(`read stream ${stream}`, error);
    }
    const headers = reply.headers;
    if (headers === undefined || headers.code >= 400) return undefined;
    return {
      seq: Number(headers.get("Nats-Sequence")),
      subject: headers.get("Nats-Subject"),
      storedAt: Date.parse(headers.get("Nats-Time-Stamp")),
      data: reply.data,
    };
  }

  /**
   * Deletes the message at `seq`; false when it was not there. The server removes a message once,
   * so of several instances deleting one sequence exactly one gets true.
   */
  async deleteMessage(stream: string, seq: number): Promise<boolean> {
    const answer = await this.api(`STREAM.MSG.DELETE.${stream}`, { seq, no_erase: true }, `delete message ${seq}`);
    if (answer.error === undefined) return answer.success === true;
    const { err_code: code, description } = answer.error;
    if (code === ApiCode.sequenceNotFound || code === ApiCode.streamNotFound) return false;
    if (code === ApiCode.messageDeleteFailed && description === "no message found") return false;
    throw new BackendUnavailable(`JetStream could not delete message ${seq} of ${stream}: ${answer.error.description}`);
  }

  /** Removes every message on `subject`; resolves with how many this call removed (0 when another did first). */
  async purgeSubject(stream: string, subject: string): Promise<number> {
    const answer = await this.api(`STREAM.PURGE.${stream}`, { filter: subject }, `purge ${subject}`);
    if (answer.error === undefined) return typeof answer.purged === "number" ? answer.purged : 0;
    if (answer.error.err_code === ApiCode.streamNotFound) return 0;
    throw new BackendUnavailable(`JetStream could not purge ${subject}: ${answer.error.description}`);
  }

  /**
   * Creates an ephemeral consumer; undefined when the stream does not exist. Its answer says when
   * the server made it (the server's clock) and how many messages it has to deliver.
   */
  async createEphemeralConsumer(
    stream: string,
    config: Partial<ConsumerConfig>,
  ): Promise<{ name: string; createdAt: number; pending: number } | undefined> {
    const answer = await this.api(`CONSUMER.CREATE.${stream}`, { stream_name: stream, config }, `read ${stream}`);
    if (answer.error?.err_code === ApiCode.streamNotFound) return undefined;
    if (answer.error !== undefined) {
      throw new BackendUnavailable(`JetStream could not read ${stream}: ${answer.error.description}`);
    }
    return {
      name: String(answer.name),
      createdAt: Date.parse(String(answer.created)),
      pending: Number(answer.num_pending ?? 0),
    };
  }

  /** Deletes a consumer without waiting for the answer (its inactive_threshold removes it anyway). */
  dropConsumer(stream: string, name: string): void {
    this.requests.request(`$JS.API.CONSUMER.DELETE.${stream}.${name}`, new Uint8Array(0)).catch(() => undefined);
  }

  /**
   * Creates a stream, or leaves it be when it exists: with the same configuration the server says
   * so; with another one (another instance's options), the first creator's configuration stays.
   */
  async addStream(config: Partial<StreamConfig> & { name: string }): Promise<void> {
    const jsm = await this.jsm();
    const backoff = new Backoff(STORE_RETRY);
    for (;;) {
      try {
        await jsm.streams.add(config);
        return;
      } catch (error) {
        if (error instanceof JetStreamApiError && error.code === ApiCode.streamNameInUse) return;
        const storeRace = error instanceof JetStreamApiError && error.code === ApiCode.storeNotCreated;
        if (!storeRace || backoff.failures >= STORE_ATTEMPTS - 1)
          throw unavailable(`create stream ${config.name}`, error);
        this.diagnostics.backgroundError(error, { stream: config.name, retrying: true });
        await backoff.wait();
      }
    }
  }

  /** Creates a consumer; the server's refusal is thrown as it is (StreamNotFoundError...), the caller decides. */
  async addConsumer(stream: string, config: Partial<ConsumerConfig>): Promise<void> {
    const jsm = await this.jsm();
    await jsm.consumers.add(stream, config);
  }

  async consumerExists(stream: string, consumer: string): Promise<boolean> {
    const jsm = await this.jsm();
    try {
      await jsm.consumers.info(stream, consumer);
      return true;
    } catch {
      return false;
    }
  }

  /** Names of the streams that take any subject matching `subject`. */
  async streamNames(subject: string): Promise<string[]> {
    const jsm = await this.jsm();
    const names: string[] = [];
    try {
      for await (const name of jsm.streams.names(subject)) names.push(name);
    } catch (error) {
      throw unavailable(`list the streams of ${subject}`, error);
    }
    return names;
  }

  async purgeStream(stream: string): Promise<void> {
    const jsm = await this.jsm();
    try {
      await jsm.streams.purge(stream);
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === ApiCode.streamNotFound) return;
      throw unavailable(`purge stream ${stream}`, error);
    }
  }

  /** One JetStream API request on the shared inbox; its JSON answer (with `error` when refused). */
  private async api(
    call: string,
    body: unknown,
    doing: string,
  ): Promise<{ error?: { err_code: number; description: string }; [field: string]: unknown }> {
    try {
      const reply = await this.requests.request(`$JS.API.${call}`, Buffer.from(JSON.stringify(body)));
      return JSON.parse(decoder.decode(reply.data)) as { error?: { err_code: number; description: string } };
    } catch (error) {
      throw unavailable(doing, error);
    }
  }

  private jsm(): Promise<JetStreamManager> {
    this.manager ??= jetstreamManager(this.nc, { checkAPI: false, timeout: this.timeoutMs });
    return this.manager;
  }
}

/** Whether the server has no JetStream for this connection's account (it said so, or nobody answers its API). */
function jetStreamMissing(error: unknown): boolean {
  if (error instanceof ChannelLayerError) return jetStreamMissing(error.cause);
  if (error instanceof JetStreamApiError) {
    return error.code === ApiCode.notEnabled || error.code === ApiCode.notEnabledForAccount;
  }
  if (error instanceof NoResponders) return error.subject.startsWith("$JS.API.");
  return error instanceof Error && error.name === "JetStreamNotEnabled";
}

/**
 * Whether JetStream answered with a refusal (no JetStream, no permission, a bad request), as
 * opposed to not answering at all (the server is down): a refusal will not go away by waiting.
 */
export function refusedByServer(error: unknown): boolean {
  const cause = error instanceof ChannelLayerError ? error.cause : error;
  if (cause instanceof JetStreamApiError) {
    return cause.code !== ApiCode.clusterUnavailable && cause.code !== ApiCode.clusterNotLeader;
  }
  return jetStreamMissing(cause);
}

/** `error` as a ChannelLayerError: BACKEND_UNAVAILABLE (saying how to turn JetStream on if it is off), unless it is one already. */
export function unavailable(doing: string, error: unknown): ChannelLayerError {
  if (error instanceof ChannelLayerError) return error;
  if (jetStreamMissing(error)) return new BackendUnavailable(`Could not ${doing}: ${NO_JETSTREAM}`, { cause: error });
  const reason = error instanceof Error ? error.message : String(error);
  return new BackendUnavailable(`Could not ${doing} on NATS JetStream: ${redactUrl(reason)}`, { cause: error });
}
