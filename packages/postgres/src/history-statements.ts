import { groupSendCtes, groupSendEndings } from "./group-send-statements.js";
import type { LayerNames } from "./layer-names.js";
import type { PreparedStatement, StatementMaker } from "./statements.js";

/** The statements of group histories (docs/postgres.md, "Group history"). */
export interface HistoryStatements {
  groupSendHistory: PreparedStatement;
  groupSendHistoryQuiet: PreparedStatement;
  historyRead: PreparedStatement;
  historyCleanup: PreparedStatement;
}

/** A SQL string literal. */
function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** When a kept message lapses: `$7` ms (the rule's maxAgeMs) from now, or never. */
const KEPT_UNTIL = `CASE WHEN $7::float8 IS NULL THEN 'infinity'::timestamptz
  ELSE statement_timestamp() + $7::float8 * interval '1 millisecond' END`;

export function historyStatements(names: LayerNames, statement: StatementMaker): HistoryStatements {
  const { historyTable: history, historyGroupTable: groups } = names;
  const nextOffset = `nextval(${literal(names.historyOffsetSequence)})`;
  // $1 group, $2 payload holding a placeholder offset (int64) at byte $5 (1-based), $3 expiry ms,
  // $4 notify base, $6 maxLength, $7 maxAgeMs (null: no age limit). `numbered` upserts the
  // group's row, so concurrent sends to one group (any instance, any transaction) wait for each
  // other here, and only then take their offset, write it into the payload, keep it, and insert
  // the members' rows: offsets increase in commit order, and so in each member's id order. The
  // members are joined with `numbered` so that no member row (and its id) comes before the lock.
  // A group's positions (sent_count) start at its first offset: every send takes at least one
  // offset, so a group forgotten and started again never reuses a position.
  const ctes = groupSendCtes(names.messageTable, names.membershipTable, {
    before: `numbered AS (
      INSERT INTO ${groups} AS g (group_name, last_offset, prev_offset, sent_count, expires_at)
      SELECT $1::text, fresh.n, NULL, fresh.n, ${KEPT_UNTIL} FROM (SELECT ${nextOffset} AS n) fresh
      ON CONFLICT (group_name) DO UPDATE
      SET last_offset = ${nextOffset}, prev_offset = g.last_offset, sent_count = g.sent_count + 1,
          expires_at = excluded.expires_at
      RETURNING g.last_offset, g.prev_offset, g.sent_count,
                overlay($2::bytea PLACING int8send(g.last_offset) FROM $5::int FOR 8) AS payload
    ), kept AS (
      INSERT INTO ${history} (group_name, position, history_offset, prev_offset, expires_at, payload)
      SELECT $1::text, sent_count, last_offset, prev_offset, ${KEPT_UNTIL}, payload FROM numbered
    ), trimmed AS (
      DELETE FROM ${history} h
      WHERE h.group_name = $1::text AND h.position <= (SELECT sent_count FROM numbered) - $6::bigint
    ),`,
    membersJoin: "CROSS JOIN numbered",
    payload: "(SELECT payload FROM numbered)",
  });
  const send = groupSendEndings(ctes);
  return {
    groupSendHistory: statement("group_send_history", send.loud),
    groupSendHistoryQuiet: statement("group_send_history_quiet", send.quiet),
    // $1 group, $2 the caller's offset (null unless a number), $3 maxLength. The live messages are
    // the newest maxLength unexpired ones. Complete when $2 is the newest offset, or when the live
    // message that followed $2 (its prev_offset) is there and so is every one after it (their
    // positions are contiguous). One row per message after $2 (all of them when $2 is no offset
    // of this group), or one with null columns; no row when the group has no history.
    historyRead: statement(
      "history_read",
      `WITH g AS (
         SELECT last_offset, sent_count FROM ${groups} WHERE group_name = $1::text
       ), live AS (
         SELECT h.position, h.history_offset, h.prev_offset, h.payload
         FROM ${history} h CROSS JOIN g
         WHERE h.group_name = $1::text AND h.position > g.sent_count - $3::bigint
           AND h.expires_at > statement_timestamp()
       ), follower AS (
         SELECT min(position) AS position FROM live WHERE prev_offset = $2::bigint
       ), state AS (
         SELECT coalesce($2::bigint = g.last_offset, false)
                OR coalesce((SELECT count(*) FROM live, follower f WHERE live.position >= f.position)
                            = g.sent_count - (SELECT position FROM follower) + 1, false) AS complete,
                CASE WHEN $2::bigint <= g.last_offset THEN $2::bigint ELSE -1 END AS after
         FROM g
       )
       SELECT s.complete, l.history_offset::text AS "offset", l.payload
       FROM state s LEFT JOIN live l ON l.history_offset > s.after
       ORDER BY l.position`,
    ),
    // $1 batch size: kept messages past their age, and the rows of groups whose every message has
    // lapsed and is gone (a later send starts them afresh), skipping rows others have locked.
    // Deleting lapsed messages needs no bookkeeping: reads ignore them and tell gaps by the chain.
    historyCleanup: statement(
      "history_cleanup",
      `WITH aged AS (
         DELETE FROM ${history}
         WHERE (group_name, position) IN (
           SELECT group_name, position FROM ${history} WHERE expires_at <= now() LIMIT $1::int FOR UPDATE SKIP LOCKED
         ) AND expires_at <= now()
         RETURNING 1
       ), forgotten AS (
         DELETE FROM ${groups} g
         WHERE g.group_name IN (
           SELECT group_name FROM ${groups} WHERE expires_at <= now() LIMIT $1::int FOR UPDATE SKIP LOCKED
         ) AND g.expires_at <= now()
           AND NOT EXISTS (SELECT 1 FROM ${history} h WHERE h.group_name = g.group_name)
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM aged)::int AS messages, (SELECT count(*) FROM forgotten)::int AS groups`,
    ),
  };
}
