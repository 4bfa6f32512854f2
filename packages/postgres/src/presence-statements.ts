import type { LayerNames } from "./layer-names.js";
import type { PreparedStatement, StatementMaker } from "./statements.js";

/** The statements of presence (docs/postgres.md, "Presence"). */
export interface PresenceStatements {
  presenceTrack: PreparedStatement;
  presenceUntrack: PreparedStatement;
  presenceList: PreparedStatement;
  presenceRefresh: PreparedStatement;
  presenceSweep: PreparedStatement;
  presenceRelease: PreparedStatement;
}

/** `$n` milliseconds from now, on the server's clock. */
const fromNow = (parameter: string) => `statement_timestamp() + ${parameter}::float8 * interval '1 millisecond'`;

export function presenceStatements(names: LayerNames, statement: StatementMaker): PresenceStatements {
  const { presenceTable: presence, presenceInstanceTable: instances } = names;
  return {
    // $1 group, $2 ref, $3 channel, $4 instance, $5 entry (key and meta), $6 ttl ms, $7 the ref it
    // replaces (null: none). The instance's row lives $6 ms more; the replaced track goes in the
    // same statement, and `replaced_was_there` says whether this DELETE had it: false when a sweep
    // deleted it first (and sent its leave; row locks give it to one of them). A ref is new per
    // track, so the insert conflicts only when a track the base thought swept is still there (it
    // then stays as it is).
    presenceTrack: statement(
      "presence_track",
      `WITH alive AS (
         INSERT INTO ${instances} (instance_id, expires_at) VALUES ($4::text, ${fromNow("$6")})
         ON CONFLICT (instance_id) DO UPDATE SET expires_at = excluded.expires_at
       ), replaced AS (
         DELETE FROM ${presence} WHERE group_name = $1::text AND ref = $7::text AND instance_id = $4::text
         RETURNING 1
       ), inserted AS (
         INSERT INTO ${presence} (group_name, ref, channel, instance_id, entry)
         VALUES ($1::text, $2::text, $3::text, $4::text, $5::bytea)
         ON CONFLICT (group_name, ref) DO NOTHING
       )
       SELECT $7::text IS NULL OR EXISTS (SELECT 1 FROM replaced) AS replaced_was_there`,
    ),
    // $1 groups, $2 refs: deletes those tracks, returning the ones this statement deleted (row
    // locks let one of a concurrent untrack and sweep have each row), so each leave is sent once.
    presenceUntrack: statement(
      "presence_untrack",
      `DELETE FROM ${presence} p USING unnest($1::text[], $2::text[]) AS gone(group_name, ref)
       WHERE p.group_name = gone.group_name AND p.ref = gone.ref
       RETURNING p.group_name, p.ref`,
    ),
    // $1 group: its tracks, of every instance (a lapsed one's until a sweep removes it and says so).
    presenceList: statement(
      "presence_list",
      `SELECT ref, channel, instance_id, entry FROM ${presence} WHERE group_name = $1::text`,
    ),
    // $1 instance, $2 ttl ms, $3 groups, $4 refs of its tracks: extends the instance's row (never
    // making it again) and returns the ordinals (1-based) of the tracks that are gone: all of them
    // when the row was swept (a sweep deletes it and its tracks together; one committing while
    // this runs deletes the row this UPDATE would lock, so it updates nothing), else the missing ones.
    presenceRefresh: statement(
      "presence_refresh",
      `WITH alive AS (
         UPDATE ${instances} SET expires_at = ${fromNow("$2")} WHERE instance_id = $1::text RETURNING 1
       )
       SELECT tracked.i::int AS i FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS tracked(group_name, ref, i)
       WHERE NOT EXISTS (SELECT 1 FROM alive)
          OR NOT EXISTS (SELECT 1 FROM ${presence} p WHERE p.group_name = tracked.group_name AND p.ref = tracked.ref)`,
    ),
    // Deletes every lapsed instance's row (SKIP LOCKED: one sweep has each) and its tracks,
    // returning them: each is removed, and its leave sent, by exactly one sweep of one instance.
    presenceSweep: statement(
      "presence_sweep",
      `WITH lapsed AS (
         DELETE FROM ${instances}
         WHERE instance_id IN (
           SELECT instance_id FROM ${instances} WHERE expires_at <= statement_timestamp() FOR UPDATE SKIP LOCKED
         ) AND expires_at <= statement_timestamp()
         RETURNING instance_id
       )
       DELETE FROM ${presence} p WHERE p.instance_id = ANY(ARRAY(SELECT instance_id FROM lapsed))
       RETURNING p.group_name, p.ref, p.channel, p.instance_id, p.entry`,
    ),
    // $1 instance: on close, its row goes unless tracks of it are left (an untrack failed); those
    // then lapse and are swept like a dead process's.
    presenceRelease: statement(
      "presence_release",
      `DELETE FROM ${instances}
       WHERE instance_id = $1::text AND NOT EXISTS (SELECT 1 FROM ${presence} WHERE instance_id = $1::text)`,
    ),
  };
}
