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
 * The capacity check and insert of a send ($1 channel, $2 payload, $3 expiry ms, $4 capacity),
 * ending in CTE `sent` that holds the channel when the message went in. The check bounds the
 * channel's messages by the span of their ids, from two probes at the ends of its index range
 * (no filter, so they stay index scans whatever the planner guesses about the channel's size),
 * and counts unexpired rows only when that span reaches capacity: a long backlog does not make
 * every send slower. It takes no lock: concurrent senders to one channel can each pass it, so a
 * channel may exceed capacity by the number of sends in flight to it at that moment.
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

/**
 * A groupSend ($1 group, $2 payload, $3 expiry ms, $4 notify base) up to CTE `wakes`: an insert
 * per unexpired member below the capacity recorded at groupAdd, and one (target, payload) per
 * NOTIFY channel to wake. Each member's messages are counted by a probe of its own rows (at most
 * about its capacity), not by a join with an aggregate over them: a join is planned on estimates,
 * and a nested loop planned while the table was empty would compare every member with every
 * message once the table is full again. The table never looks empty to the planner (see
 * schema.ts), so the probes stay index scans.
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
    // $1 channels, $2 how many each. For each channel, locks its oldest n + 1 messages (skipping
    // rows another receiver has locked, so each message goes to exactly one receiver across
    // processes) and deletes the oldest n unexpired ones and any expired ones among them: deleting
    // is what marks a message received, and the statement commits on its own. When all n + 1
    // were there, a row with a null id says "there is more", so an emptied channel costs no
    // further claim. The probe has no expiry filter so that it is an index scan in id order
    // whatever the planner guesses about a channel's size (a bitmap scan and sort would read the
    // channel's whole backlog on every claim); expired rows are dropped after locking instead.
    // Rows are numbered in the order the locking subquery yields them (by id), without a sort.
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
    // The same for many channels at once (a groupSend's members coming back): one index scan over
    // all of them instead of a probe per channel, locking every message of theirs (at most about
    // their capacity each) and deleting per channel the oldest n unexpired and every expired one.
    // The rows left locked are free again at commit, a moment later.
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
    // $1 process-local channels of this instance, $2 how many each. Reads the oldest messages of
    // each without deleting or locking them: only this instance receives these channels, and a
    // message stays in the table, counting against capacity for every sender, until a receive
    // takes it and its receipt deletes it. One index scan per channel in id order (no expiry
    // filter, so the plan stays that whatever the planner guesses); expired rows come back
    // without their payload (null), for the receipts to delete.
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
    // $1 lower bounds, $2 upper bounds, $3 rows per range at most. The same as read for many
    // process-local channels at once: every message in each range of channel names
    // (`<prefix>.<instance id>!` up to the next character), from one scan of that range of the
    // index instead of a descent per channel. Ranges compare bytes (collation "C", as the column
    // is declared), so a range holds exactly the names it should. In no particular order (an
    // ORDER BY made the planner sort the payloads, spilling to disk): the caller sorts each
    // channel's few rows by id.
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
    // $1 rows (ctids), $2 their ids, each space separated: the receipts of messages read and
    // taken. A ctid finds the
    // row without an index probe; the id makes sure it is still the row that was read (ids are
    // never reused, ctids are once a row is gone and vacuumed). A join, not "= ANY($2)": a
    // cached generic plan compares each row with the whole array.
    receipt: statement(
      "receipt",
      `DELETE FROM ${message} m
       USING unnest(string_to_array($1::text, ' ')::tid[], string_to_array($2::text, ' ')::bigint[]) AS taken(row, id)
       WHERE m.ctid = taken.row AND m.id = taken.id`,
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
