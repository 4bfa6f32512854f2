import { groupSendCtes, groupSendEndings } from "./group-send-statements.js";
import { type HistoryStatements, historyStatements } from "./history-statements.js";
import type { LayerNames } from "./layer-names.js";
import { type PresenceStatements, presenceStatements } from "./presence-statements.js";

/** A statement pg prepares once per connection (by `name`) and then only binds and runs. */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

/** Builds a statement named after the layer's NOTIFY base (so two layers on one connection never share a name). */
export type StatementMaker = (role: string, text: string) => PreparedStatement;

/** Every statement a layer runs, built once per (schema, prefix). */
export interface Statements extends HistoryStatements, PresenceStatements {
  send: PreparedStatement;
  sendQuiet: PreparedStatement;
  groupSend: PreparedStatement;
  groupSendQuiet: PreparedStatement;
  notify: PreparedStatement;
  claim: PreparedStatement;
  claimWide: PreparedStatement;
  read: PreparedStatement;
  readRange: PreparedStatement;
  receipt: PreparedStatement;
  putBack: PreparedStatement;
  groupAdd: PreparedStatement;
  groupDiscard: PreparedStatement;
  discardChannel: PreparedStatement;
  flush: PreparedStatement;
  cleanup: PreparedStatement;
}

/**
 * A send's capacity check and insert ($1 channel, $2 payload, $3 expiry ms, $4 capacity), ending
 * in CTE `sent` that holds the channel when the message went in. Two index probes bound the
 * channel's messages by the span of their ids, and it counts unexpired rows only when that span
 * reaches capacity, so a backlog does not slow every send. No lock: concurrent senders to one
 * channel can each pass the check (docs/postgres.md, "Capacity").
 */
function sendCtes(message: string): string {
  return `WITH span AS (
    SELECT (SELECT id FROM ${message} WHERE channel = $1::text ORDER BY id LIMIT 1) AS first,
           (SELECT id FROM ${message} WHERE channel = $1::text ORDER BY id DESC LIMIT 1) AS last
  ), held AS (
    SELECT CASE
      WHEN first IS NULL THEN 0
      WHEN last - first + 1 < $4::int THEN last - first + 1
      ELSE (SELECT count(*) FROM (
              SELECT 1 FROM ${message} WHERE channel = $1::text AND expires_at > statement_timestamp() ORDER BY id LIMIT $4::int
            ) unexpired)
    END AS n
    FROM span
  ), sent AS (
    INSERT INTO ${message} (channel, expires_at, payload)
    SELECT $1::text, statement_timestamp() + $3::float8 * interval '1 millisecond', $2::bytea FROM held WHERE n < $4::int
    RETURNING channel
  )`;
}

export function buildStatements(names: LayerNames): Statements {
  const { messageTable: message, membershipTable: membership, notifyBase } = names;
  const statement = (role: string, text: string): PreparedStatement => ({ name: `${notifyBase}_${role}`, text });
  const plainGroupSend = groupSendEndings(groupSendCtes(message, membership));
  return {
    ...historyStatements(names, statement),
    ...presenceStatements(names, statement),
    // $1 channel, $2 payload, $3 expiry ms, $4 capacity, $5 NOTIFY channel: check, insert and
    // NOTIFY in one round trip; no row back means the channel was full (the transaction lives on).
    send: statement("send", `${sendCtes(message)} SELECT pg_notify($5::text, channel) FROM sent`),
    sendQuiet: statement("send_quiet", `${sendCtes(message)} SELECT channel FROM sent`),
    // $1 group, $2 payload, $3 expiry ms, $4 notify base: the whole group in one statement, one
    // NOTIFY per instance that owns members and one for the named ones; `skipped`: full members.
    groupSend: statement("group_send", plainGroupSend.loud),
    // The same, returning the wake-ups (targets[i], payloads[i]) for WakeUps to send.
    groupSendQuiet: statement("group_send_quiet", plainGroupSend.quiet),
    // $1 NOTIFY channels, $2 payloads: the wake-ups of many sends in one transaction.
    notify: statement(
      "notify",
      `SELECT count(pg_notify(target, payload))::int AS wakes FROM unnest($1::text[], $2::text[]) AS wake(target, payload)`,
    ),
    // $1 channels, $2 how many each. Locks each channel's oldest n + 1 rows (SKIP LOCKED: each
    // message goes to one receiver across processes), deletes the oldest n unexpired and any
    // expired among them (deleting is receiving), and returns a null-id row when all n + 1 were
    // there ("there is more"). No expiry filter in the probe, so it stays an index scan in id order.
    claim: statement(
      "claim",
      `WITH locked AS (
         SELECT x.channel, x.row, x.live, x.live_rank, x.locked, wanted.n
         FROM unnest($1::text[], $2::int[]) AS wanted(channel, n)
         CROSS JOIN LATERAL (
           SELECT oldest.channel, oldest.row, oldest.live,
                  count(*) FILTER (WHERE oldest.live) OVER (ROWS UNBOUNDED PRECEDING) AS live_rank,
                  count(*) OVER () AS locked
           FROM (
             SELECT m.channel, m.ctid AS row, m.expires_at > now() AS live FROM ${message} m
             WHERE m.channel = wanted.channel
             ORDER BY m.id LIMIT wanted.n + 1
             FOR UPDATE SKIP LOCKED
           ) oldest
         ) x
       ), taken AS (
         DELETE FROM ${message} m WHERE m.ctid = ANY(ARRAY(SELECT row FROM locked WHERE NOT live OR live_rank <= n))
         RETURNING m.channel, m.id, m.expires_at, m.payload
       )
       SELECT channel, id::text AS id, (extract(epoch FROM expires_at) * 1000)::float8 AS "expiresAt", payload
       FROM taken WHERE expires_at > now()
       UNION ALL
       SELECT DISTINCT channel, NULL::text, NULL::float8, NULL::bytea FROM locked WHERE locked = n + 1`,
    ),
    // The same for many channels (a groupSend's members coming back): one index scan over all of
    // their rows instead of a probe per channel; the rows it locks and leaves are free at commit.
    claimWide: statement(
      "claim_wide",
      `WITH locked AS (
         SELECT m.channel, m.id, m.ctid AS row, m.expires_at > now() AS live FROM ${message} m
         WHERE m.channel = ANY($1::text[])
         FOR UPDATE SKIP LOCKED
       ), ranked AS (
         SELECT locked.channel, locked.row, locked.live, wanted.n,
                count(*) FILTER (WHERE locked.live)
                  OVER (PARTITION BY locked.channel ORDER BY locked.id ROWS UNBOUNDED PRECEDING) AS live_rank
         FROM locked JOIN unnest($1::text[], $2::int[]) AS wanted(channel, n) ON wanted.channel = locked.channel
       ), taken AS (
         DELETE FROM ${message} m WHERE m.ctid = ANY(ARRAY(SELECT row FROM ranked WHERE NOT live OR live_rank <= n))
         RETURNING m.channel, m.id, m.expires_at, m.payload
       )
       SELECT channel, id::text AS id, (extract(epoch FROM expires_at) * 1000)::float8 AS "expiresAt", payload
       FROM taken WHERE expires_at > now()
       UNION ALL
       SELECT DISTINCT channel, NULL::text, NULL::float8, NULL::bytea FROM ranked WHERE live AND live_rank > n`,
    ),
    // $1 this instance's process-local channels, $2 how many each: their oldest rows, neither
    // locked nor deleted (only this instance receives them; receipts delete them). Expired rows
    // come without payload, for the receipts to delete.
    read: statement(
      "read",
      `SELECT x.channel, x.id::text AS id, x.row, (extract(epoch FROM x.expires_at) * 1000)::float8 AS "expiresAt",
              CASE WHEN x.live THEN x.payload END AS payload
       FROM unnest($1::text[], $2::int[]) AS wanted(channel, n)
       CROSS JOIN LATERAL (
         SELECT m.channel, m.id, m.ctid::text AS row, m.expires_at, m.expires_at > now() AS live, m.payload
         FROM ${message} m WHERE m.channel = wanted.channel
         ORDER BY m.id LIMIT wanted.n
       ) x`,
    ),
    // $1 lower bounds, $2 upper bounds, $3 rows per range at most: read for every channel in each
    // range of names (byte order, collation "C"), one index range scan each. Unordered: an ORDER BY
    // made the planner sort payloads; the caller sorts each channel's few rows.
    readRange: statement(
      "read_range",
      `SELECT x.channel, x.id::text AS id, x.row, (extract(epoch FROM x.expires_at) * 1000)::float8 AS "expiresAt",
              CASE WHEN x.live THEN x.payload END AS payload
       FROM unnest($1::text[], $2::text[]) AS bounds(low, high)
       CROSS JOIN LATERAL (
         SELECT m.channel, m.id, m.ctid::text AS row, m.expires_at, m.expires_at > now() AS live, m.payload
         FROM ${message} m
         WHERE m.channel COLLATE "C" >= bounds.low AND m.channel COLLATE "C" < bounds.high
         LIMIT $3::int
       ) x`,
    ),
    // $1 rows (ctids), $2 their ids, space separated: deletes the rows received from reads. The
    // ctid finds the row without an index probe; the id proves it is still that row.
    receipt: statement(
      "receipt",
      `DELETE FROM ${message} m
       USING unnest(string_to_array($1::text, ' ')::tid[], string_to_array($2::text, ' ')::bigint[]) AS taken(row, id)
       WHERE m.ctid = taken.row AND m.id = taken.id`,
    ),
    // $1 id, $2 channel, $3 expires at (ms epoch), $4 payload, $5 NOTIFY channel: a claimed
    // message nobody took goes back under its old id, so it keeps its place.
    putBack: statement(
      "put_back",
      `WITH back AS (
         INSERT INTO ${message} (id, channel, expires_at, payload) OVERRIDING SYSTEM VALUE
         VALUES ($1::bigint, $2::text, to_timestamp($3::float8 / 1000), $4::bytea)
         ON CONFLICT DO NOTHING
         RETURNING channel
       )
       SELECT pg_notify($5::text, channel) FROM back`,
    ),
    // $1 group, $2 channel, $3 its capacity, $4 group expiry ms, $5 the instance that receives it (null: named).
    groupAdd: statement(
      "group_add",
      `INSERT INTO ${membership} (group_name, channel, capacity, expires_at, instance_id)
       VALUES ($1::text, $2::text, $3::int, statement_timestamp() + $4::float8 * interval '1 millisecond', $5::text)
       ON CONFLICT (group_name, channel)
       DO UPDATE SET capacity = excluded.capacity, expires_at = excluded.expires_at, instance_id = excluded.instance_id`,
    ),
    groupDiscard: statement(
      "group_discard",
      `DELETE FROM ${membership} WHERE group_name = $1::text AND channel = $2::text`,
    ),
    // $1 channel, $2 groups to leave, $3 whether to drop its messages (own process-local channels).
    discardChannel: statement(
      "discard_channel",
      `WITH left_groups AS (
         DELETE FROM ${membership} WHERE channel = $1::text AND group_name = ANY($2::text[])
       )
       DELETE FROM ${message} WHERE channel = $1::text AND $3::boolean`,
    ),
    // Histories and presences too; the offset sequence stays, so no offset is ever reissued.
    flush: statement(
      "flush",
      `WITH messages AS (DELETE FROM ${message}), histories AS (DELETE FROM ${names.historyTable}),
            history_groups AS (DELETE FROM ${names.historyGroupTable}), presences AS (DELETE FROM ${names.presenceTable}),
            presence_instances AS (DELETE FROM ${names.presenceInstanceTable})
       DELETE FROM ${membership}`,
    ),
    // $1 batch size: expired messages and lapsed memberships, skipping rows others have locked,
    // so any number of instances can run it at once.
    cleanup: statement(
      "cleanup",
      `WITH expired AS (
         DELETE FROM ${message}
         WHERE (channel, id) IN (
           SELECT channel, id FROM ${message} WHERE expires_at <= now() LIMIT $1::int FOR UPDATE SKIP LOCKED
         )
         RETURNING 1
       ), lapsed AS (
         DELETE FROM ${membership}
         WHERE (group_name, channel) IN (
           SELECT group_name, channel FROM ${membership} WHERE expires_at <= now() LIMIT $1::int FOR UPDATE SKIP LOCKED
         ) AND expires_at <= now()
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM expired)::int AS messages, (SELECT count(*) FROM lapsed)::int AS memberships`,
    ),
  };
}
