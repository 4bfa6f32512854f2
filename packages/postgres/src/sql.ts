import { createHash } from "node:crypto";

/** A PostgreSQL identifier in double quotes, with embedded quotes doubled. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Where one layer's rows live and what it LISTENs to, all derived from its schema and prefix. */
export interface LayerNames {
  readonly schema: string;
  readonly prefix: string;
  /** `"schema"."<prefix>_message"`: one row per message not yet received or expired. */
  readonly messageTable: string;
  /** `"schema"."<prefix>_membership"`: one row per (group, channel) with its expiry. */
  readonly membershipTable: string;
  /**
   * NOTIFY channel for named channels, shared by every instance on the prefix. A per-instance
   * channel is this plus `_<instanceId>`. A hash keeps both under PostgreSQL's 63-byte limit
   * whatever the schema and prefix, and apart from other layers in the same database.
   */
  readonly notifyBase: string;
}

export function layerNames(schema: string, prefix: string): LayerNames {
  const digest = createHash("md5").update(`${schema}\0${prefix}`).digest("hex").slice(0, 12);
  return {
    schema,
    prefix,
    messageTable: `${quoteIdentifier(schema)}.${quoteIdentifier(`${prefix}_message`)}`,
    membershipTable: `${quoteIdentifier(schema)}.${quoteIdentifier(`${prefix}_membership`)}`,
    notifyBase: `cl_${digest}`,
  };
}

/** Length of the instance id in process-local channel names (`<prefix>.<instanceId>!<local>`). */
const INSTANCE_ID_LENGTH = 16;

/**
 * The NOTIFY channel that wakes whoever can receive `channel`: the instance named in a
 * process-local channel, or every instance for a named one. The SQL in groupSend computes the
 * same (`notifyTargetSql`), so both must change together.
 */
export function notifyTarget(names: LayerNames, channel: string): string {
  const bang = channel.indexOf("!");
  if (bang === -1) return names.notifyBase;
  return `${names.notifyBase}_${channel.slice(Math.max(0, bang - INSTANCE_ID_LENGTH), bang)}`;
}

/** notifyTarget() in SQL, for a `channel` column. */
function notifyTargetSql(base: string): string {
  return `CASE WHEN strpos(channel, '!') = 0 THEN ${base}
    ELSE ${base} || '_' || substr(channel, greatest(1, strpos(channel, '!') - ${INSTANCE_ID_LENGTH}), least(${INSTANCE_ID_LENGTH}, strpos(channel, '!') - 1)) END`;
}

/**
 * A NOTIFY payload must stay under 8,000 bytes. A wake-up lists the channels it is for, space
 * separated; a longer list is sent as "" and means "every channel you wait on".
 */
export const MAX_NOTIFY_LIST_BYTES = 7900;

/** A statement pg prepares once per connection (by `name`) and then only binds and runs. */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

/** Every statement a layer runs, built once per (schema, prefix). */
export interface Statements {
  send: PreparedStatement;
  sendQuiet: PreparedStatement;
  groupSend: PreparedStatement;
  groupSendQuiet: PreparedStatement;
  notify: PreparedStatement;
  claim: PreparedStatement;
  claimWide: PreparedStatement;
  putBack: PreparedStatement;
  groupAdd: PreparedStatement;
  groupDiscard: PreparedStatement;
  discardChannel: PreparedStatement;
  flush: PreparedStatement;
  cleanup: PreparedStatement;
}

/**
 * The capacity check and insert of a send ($1 channel, $2 payload, $3 expiry ms, $4 capacity),
 * ending in CTE `sent` that holds the channel when the message went in. The check counts
 * unexpired committed rows, but first bounds their number by the span of their ids (two index
 * probes): only a channel whose span reaches capacity is counted, so a long backlog does not make
 * every send slower. It takes no lock: concurrent senders to one channel can each pass it, so a
 * channel may exceed capacity by the number of sends in flight to it at that moment.
 */
function sendCtes(message: string): string {
  return `WITH span AS (
    SELECT (SELECT id FROM ${message} WHERE channel = $1::text AND expires_at > statement_timestamp()
            ORDER BY id LIMIT 1) AS first,
           (SELECT id FROM ${message} WHERE channel = $1::text ORDER BY id DESC LIMIT 1) AS last
  ), held AS (
    SELECT CASE
      WHEN first IS NULL THEN 0
      WHEN last - first + 1 < $4::int THEN last - first + 1
      ELSE (SELECT count(*) FROM (
              SELECT 1 FROM ${message} WHERE channel = $1::text AND expires_at > statement_timestamp()
              ORDER BY id LIMIT $4::int
            ) unexpired)
    END AS n
    FROM span
  ), sent AS (
    INSERT INTO ${message} (channel, expires_at, payload)
    SELECT $1::text, statement_timestamp() + $3::float8 * interval '1 millisecond', $2::bytea FROM held WHERE n < $4::int
    RETURNING channel
  )`;
}

/**
 * A groupSend ($1 group, $2 payload, $3 expiry ms, $4 notify base) up to CTE `wakes`: an insert
 * per unexpired member below the capacity recorded at groupAdd, and one (target, payload) per
 * NOTIFY channel to wake. Each member's messages are counted by an index scan in id order (not a
 * bitmap scan, nor a hash join over the whole table): a plain index scan can mark the entries of
 * received messages dead as it passes them, and its cost follows the member's own rows only.
 */
function groupSendCtes(message: string, membership: string): string {
  return `WITH members AS (
    SELECT channel, capacity FROM ${membership}
    WHERE group_name = $1::text AND expires_at > statement_timestamp()
  ), sent AS (
    INSERT INTO ${message} (channel, expires_at, payload)
    SELECT m.channel, statement_timestamp() + $3::float8 * interval '1 millisecond', $2::bytea
    FROM members m
    WHERE (SELECT count(*) FROM (
             SELECT 1 FROM ${message} h
             WHERE h.channel = m.channel AND h.expires_at > statement_timestamp()
             ORDER BY h.id LIMIT m.capacity
           ) unexpired) < m.capacity
    RETURNING channel
  ), wakes AS (
    SELECT target, CASE WHEN sum(octet_length(channel) + 1) <= ${MAX_NOTIFY_LIST_BYTES} THEN string_agg(channel, ' ') ELSE '' END AS payload
    FROM (SELECT ${notifyTargetSql("$4::text")} AS target, channel FROM sent) targeted
    GROUP BY target
  )`;
}

export function buildStatements(names: LayerNames): Statements {
  const { messageTable: message, membershipTable: membership, notifyBase } = names;
  const statement = (role: string, text: string): PreparedStatement => ({ name: `${notifyBase}_${role}`, text });
  return {
    // $1 channel, $2 payload, $3 expiry ms, $4 capacity, $5 NOTIFY channel. One round trip: the
    // capacity check, an insert only below capacity, a NOTIFY only when it inserted; no row back
    // means the channel was full. sendQuiet is the same without the NOTIFY (see WakeUps).
    send: statement("send", `${sendCtes(message)} SELECT pg_notify($5::text, channel) FROM sent`),
    sendQuiet: statement("send_quiet", `${sendCtes(message)} SELECT channel FROM sent`),
    // $1 group, $2 payload, $3 expiry ms, $4 notify base. One statement for the whole group, with
    // one NOTIFY per instance that owns members (listing them) and one for the named members.
    // groupSendQuiet returns those wake-ups as rows (target, payload) instead.
    groupSend: statement(
      "group_send",
      `${groupSendCtes(message, membership)}
       SELECT count(pg_notify(target, payload))::int AS wakes FROM wakes`,
    ),
    groupSendQuiet: statement(
      "group_send_quiet",
      `${groupSendCtes(message, membership)} SELECT target, payload FROM wakes`,
    ),
    // $1 NOTIFY channels, $2 payloads: the wake-ups of many sends in one transaction.
    notify: statement(
      "notify",
      `SELECT count(pg_notify(target, payload))::int AS wakes FROM unnest($1::text[], $2::text[]) AS wake(target, payload)`,
    ),
    // $1 channels, $2 how many each. Locks the oldest unexpired messages of each channel, one more
    // than asked for, skipping rows another receiver has locked (so each message goes to exactly
    // one receiver across processes), and deletes all but that extra one: deleting is what marks a
    // message received, and the statement commits on its own. The extra one comes back as a row
    // with a null id, saying "there is more", so an emptied channel costs no further claim.
    claim: statement(
      "claim",
      `WITH locked AS (
         SELECT x.channel, x.id, x.row, x.rank, wanted.n
         FROM unnest($1::text[], $2::int[]) AS wanted(channel, n)
         CROSS JOIN LATERAL (
           -- Numbered in the order the subquery yields them (by id): no sort per channel.
           SELECT oldest.channel, oldest.id, oldest.row, row_number() OVER () AS rank
           FROM (
             SELECT m.channel, m.id, m.ctid AS row FROM ${message} m
             WHERE m.channel = wanted.channel AND m.expires_at > now()
             ORDER BY m.id LIMIT wanted.n + 1
             FOR UPDATE SKIP LOCKED
           ) oldest
         ) x
       ), taken AS (
         DELETE FROM ${message} m WHERE m.ctid = ANY(ARRAY(SELECT row FROM locked WHERE rank <= n))
         RETURNING m.channel, m.id, m.expires_at, m.payload
       )
       SELECT channel, id::text AS id, (extract(epoch FROM expires_at) * 1000)::float8 AS "expiresAt", payload
       FROM taken
       UNION ALL
       SELECT channel, NULL, NULL, NULL FROM locked WHERE rank > n`,
    ),
    // The same for many channels at once (a groupSend's members): one index scan over all of them
    // instead of a probe per channel, locking every unexpired message of theirs (at most their
    // capacity each) and deleting the oldest n per channel; the rows left locked are free again
    // at commit, a moment later.
    claimWide: statement(
      "claim_wide",
      `WITH locked AS (
         SELECT m.channel, m.id, m.ctid AS row FROM ${message} m
         WHERE m.channel = ANY($1::text[]) AND m.expires_at > now()
         FOR UPDATE SKIP LOCKED
       ), ranked AS (
         SELECT locked.channel, locked.row, wanted.n,
                row_number() OVER (PARTITION BY locked.channel ORDER BY locked.id) AS rank
         FROM locked JOIN unnest($1::text[], $2::int[]) AS wanted(channel, n) ON wanted.channel = locked.channel
       ), taken AS (
         DELETE FROM ${message} m WHERE m.ctid = ANY(ARRAY(SELECT row FROM ranked WHERE rank <= n))
         RETURNING m.channel, m.id, m.expires_at, m.payload
       )
       SELECT channel, id::text AS id, (extract(epoch FROM expires_at) * 1000)::float8 AS "expiresAt", payload
       FROM taken
       UNION ALL
       SELECT channel, NULL, NULL, NULL FROM ranked WHERE rank = n + 1`,
    ),
    // $1 id, $2 channel, $3 expires at (ms epoch), $4 payload, $5 NOTIFY channel. Returns a claimed
    // message nobody took (its receiver went away meanwhile) under its old id, so it keeps its place.
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
    // $1 group, $2 channel, $3 capacity of the channel, $4 group expiry ms.
    groupAdd: statement(
      "group_add",
      `INSERT INTO ${membership} (group_name, channel, capacity, expires_at)
       VALUES ($1::text, $2::text, $3::int, statement_timestamp() + $4::float8 * interval '1 millisecond')
       ON CONFLICT (group_name, channel)
       DO UPDATE SET capacity = excluded.capacity, expires_at = excluded.expires_at`,
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
    flush: statement("flush", `WITH messages AS (DELETE FROM ${message}) DELETE FROM ${membership}`),
    // Removes expired messages and lapsed memberships in bounded batches, skipping rows others
    // have locked, so any number of instances can run it at once.
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
