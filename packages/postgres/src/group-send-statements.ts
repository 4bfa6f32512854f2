/**
 * A NOTIFY payload must stay under 8,000 bytes. A wake-up lists the channels it is for, space
 * separated; a longer list is sent as "" and means "every channel you wait on".
 */
export const MAX_NOTIFY_LIST_BYTES = 7900;

/**
 * Where a groupSend's message comes from: `$2` as given, or (history) CTEs run before the members
 * are read that number it, and the expression of the numbered payload.
 */
export interface GroupSendSource {
  /** CTEs (each followed by a comma) that run before anything else; "" for a plain groupSend. */
  readonly before: string;
  /** Joined with the members, so no member's row is inserted before `before` ran; "" for none. */
  readonly membersJoin: string;
  /** The payload each member's row gets. */
  readonly payload: string;
}

const PLAIN_GROUP_SEND: GroupSendSource = { before: "", membersJoin: "", payload: "$2::bytea" };

/**
 * A groupSend ($1 group, $2 payload, $3 expiry ms, $4 notify base) up to CTE `wakes`: an insert
 * per unexpired member below the capacity recorded at groupAdd, then one (target, payload) per
 * NOTIFY channel to wake, from the instance id groupAdd stored (null: a named channel). Each
 * member is counted by a probe of its own rows, not a join with an aggregate, so the plan never
 * depends on the planner's guess of the table's size.
 */
export function groupSendCtes(message: string, membership: string, source: GroupSendSource = PLAIN_GROUP_SEND): string {
  return `WITH ${source.before} members AS (
    SELECT m.channel, m.capacity, m.instance_id FROM ${membership} m ${source.membersJoin}
    WHERE m.group_name = $1::text AND m.expires_at > statement_timestamp()
  ), sent AS (
    INSERT INTO ${message} (channel, expires_at, payload)
    SELECT m.channel, statement_timestamp() + $3::float8 * interval '1 millisecond', ${source.payload}
    FROM members m
    WHERE (SELECT count(*) FROM (
             SELECT 1 FROM ${message} h
             WHERE h.channel = m.channel AND h.expires_at > statement_timestamp()
             ORDER BY h.id LIMIT m.capacity
           ) unexpired) < m.capacity
    RETURNING channel
  ), wakes AS (
    SELECT target, CASE WHEN sum(octet_length(channel) + 1) <= ${MAX_NOTIFY_LIST_BYTES} THEN string_agg(channel, ' ') ELSE '' END AS payload
    FROM (
      SELECT CASE WHEN m.instance_id IS NULL THEN $4::text ELSE $4::text || '_' || m.instance_id END AS target, s.channel
      FROM sent s JOIN members m USING (channel)
    ) targeted
    GROUP BY target
  ), skipped AS (
    SELECT ((SELECT count(*) FROM members) - (SELECT count(*) FROM sent))::int AS n
  )`;
}

/** The two ways to end a groupSend's statement: NOTIFY in it, or return the wake-ups for WakeUps to send. */
export function groupSendEndings(ctes: string): { loud: string; quiet: string } {
  return {
    loud: `${ctes}
       SELECT (SELECT count(pg_notify(target, payload)) FROM wakes)::int AS wakes, (SELECT n FROM skipped) AS skipped`,
    quiet: `${ctes}
       SELECT (SELECT n FROM skipped) AS skipped, array_agg(target) AS targets, array_agg(payload) AS payloads FROM wakes`,
  };
}
