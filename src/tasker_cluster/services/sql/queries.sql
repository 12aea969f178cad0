-- Every query the services run, each under a `-- name: x --` header, loaded by name (see common/queries.py).
-- State changes are guarded compare-and-set UPDATEs (`WHERE state = expected`): the database decides who wins a
-- race, and the loser's statement simply changes nothing. Triggers (migrations/001) record each change.
--
-- Queues are PGMQ's: created with pgmq.create, inspected with pgmq.metrics, their messages extended with
-- pgmq.set_vt. But the hot path (read, send, delete) runs pgmq's own statements inlined on the queue tables
-- (`{queue_table}` = pgmq.q_<queue>, bound by common/queries.queue_query): pgmq's plpgsql functions build their
-- SQL dynamically and re-plan it on every call (measured 0.2-0.4 ms a call), while an inlined statement is
-- prepared once per connection and can share one statement, and one snapshot, with the state change it goes with.
--
-- Snapshot rule: a statement that decides from step states must see every step change committed with the
-- messages it read: either the read is in the same statement (claim_steps), or in an earlier one (advance_tasks).
--
-- Wake-ups (`wake_consumers`) are sent after the sending transaction commits, never inside it: a transaction that
-- NOTIFYs holds a database-wide lock from pre-commit until its commit is flushed, which would serialize every
-- sender on the WAL flush (measured: 39 tasks/s instead of hundreds).

-- name: wake_consumers --
-- Ring the consumers of each queue: payload '' means "readable now", a number the delay in milliseconds.
SELECT count(pg_notify('tasker_' || w.queue, w.payload))
FROM unnest(%(queues)s::text[], %(payloads)s::text[]) AS w(queue, payload);

-- name: schema_version --
-- The highest applied migration, or NULL before the first one.
SELECT max(version) FROM tasker.schema_migrations;

-- name: ensure_queues --
-- Create the PGMQ queues that do not exist yet (pgmq.create takes its own lock, so racing creators are safe).
SELECT pgmq.create(q.name)
FROM unnest(%(queues)s::text[]) AS q(name)
WHERE NOT EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = q.name);

-- name: read_results --
-- Take up to qty visible step results, hiding them for vt seconds (pgmq.read's statement).
-- MATERIALIZED, as in pgmq: a plain subquery may be planned as the inner side of a nested loop and run again,
-- locking again, for every row of the queue (measured: 2.7 ms a read instead of 0.1).
WITH next AS MATERIALIZED (
    SELECT msg_id
    FROM pgmq.q_orchestration_step_results
    WHERE vt <= clock_timestamp()
    ORDER BY msg_id
    LIMIT %(qty)s
    FOR UPDATE SKIP LOCKED
)
UPDATE pgmq.q_orchestration_step_results m
SET last_read_at = clock_timestamp(),
    vt = clock_timestamp() + make_interval(secs => %(vt)s),
    read_ct = m.read_ct + 1
FROM next
WHERE m.msg_id = next.msg_id
RETURNING m.msg_id, extract(epoch FROM clock_timestamp() - m.enqueued_at)::float8 AS waited_s, m.message, m.read_ct;

-- name: archive_result --
-- Set aside a step result the orchestration cannot process (pgmq.archive's statement): moved to the queue's archive
-- with the reason and the instance in its headers, so that it neither blocks the results read with it nor is lost.
WITH moved AS (
    DELETE FROM pgmq.q_orchestration_step_results
    WHERE msg_id = %(msg_id)s
    RETURNING msg_id, vt, read_ct, enqueued_at, last_read_at, message, headers
)
INSERT INTO pgmq.a_orchestration_step_results (msg_id, vt, read_ct, enqueued_at, last_read_at, message, headers)
SELECT msg_id, vt, read_ct, enqueued_at, last_read_at, message,
       coalesce(headers, jsonb_build_object())
       || jsonb_build_object('tasker_archived', jsonb_build_object('reason', %(reason)s::text,
                                                                   'instance', %(instance)s::text))
FROM moved
RETURNING msg_id;

-- name: extend_visibility --
-- Keep messages hidden while their steps still run (a heartbeat), or release them now with vt = 0.
SELECT count(*) FROM pgmq.set_vt(%(queue)s, %(msg_ids)s::bigint[], %(vt)s);

-- name: queue_depths --
-- Messages waiting in each queue, and the age of the oldest one.
SELECT m.queue_name, m.queue_length, m.oldest_msg_age_sec
FROM unnest(%(queues)s::text[]) AS q(name), LATERAL pgmq.metrics(q.name) AS m;

-- name: create_task --
-- Create a task, started, with its steps: root steps enqueued (a message each in {queue_table}), the others
-- pending. Nothing at all when its idempotency key was used before, or when the task exists already (a creation
-- run again after its connection ended, whose first try had committed: the caller then reads that task back).
-- The triggers record each row's path from pending (migrations/002). The context is taken from the request's own
-- text (%(request_body)s), so jsonb's numeric reads the client's digits, never a Python float's approximation of
-- them.
WITH task AS (
    INSERT INTO tasker.tasks (task_uuid, namespace, name, version, status, context, initiator, source_system,
                              reason, tags, priority, idempotency_key, created_by)
    VALUES (%(task_uuid)s, %(namespace)s, %(name)s, %(version)s, 'steps_in_process',
            coalesce(%(request_body)s::jsonb -> 'context', '{{}}'::jsonb), %(initiator)s,
            %(source_system)s, %(reason)s, %(tags)s, %(priority)s, %(idempotency_key)s, %(instance)s)
    ON CONFLICT DO NOTHING
    RETURNING task_uuid
),
steps AS (
    INSERT INTO tasker.steps (step_uuid, task_uuid, name, position, handler, depends_on, queue, max_attempts,
                              backoff_ms, backoff_factor, state)
    SELECT gen_random_uuid(), task.task_uuid, s.name, s.position, s.handler, s.depends_on, %(queue)s,
           s.max_attempts, s.backoff_ms, s.backoff_factor,
           CASE WHEN cardinality(s.depends_on) = 0 THEN 'enqueued' ELSE 'pending' END
    FROM task,
         jsonb_to_recordset(%(steps)s::jsonb) AS s(name text, position integer, handler text, depends_on text[],
                                                   max_attempts integer, backoff_ms integer,
                                                   backoff_factor double precision)
    RETURNING step_uuid, task_uuid, state
),
sent AS (
    INSERT INTO pgmq.{queue_table} (vt, message)
    SELECT clock_timestamp(), jsonb_build_object('task_uuid', steps.task_uuid, 'step_uuid', steps.step_uuid)
    FROM steps
    WHERE steps.state = 'enqueued'
    RETURNING msg_id
)
SELECT (SELECT count(*) FROM task) AS created, (SELECT count(*) FROM sent) AS enqueued;

-- name: get_task --
-- One task with its steps as JSON text, so every instance answers with identical bytes.
SELECT json_build_object(
    'task_uuid', t.task_uuid,
    'namespace', t.namespace,
    'name', t.name,
    'version', t.version,
    'status', t.status,
    'context', t.context,
    'initiator', t.initiator,
    'source_system', t.source_system,
    'reason', t.reason,
    'tags', t.tags,
    'priority', t.priority,
    'idempotency_key', t.idempotency_key,
    'created_by', t.created_by,
    'created_at', t.created_at,
    'updated_at', greatest(t.updated_at, max(s.updated_at)),
    'completed_at', t.completed_at,
    'total_steps', count(*),
    'completed_steps', count(*) FILTER (WHERE s.state = 'complete'),
    'failed_steps', count(*) FILTER (WHERE s.state = 'error'),
    'completion_percentage', round(100.0 * count(*) FILTER (WHERE s.state = 'complete') / count(*), 1),
    'steps', json_agg(json_build_object(
        'name', s.name,
        'status', s.state,
        'attempts', s.attempts,
        'max_attempts', s.max_attempts,
        'depends_on', s.depends_on,
        'result', s.result,
        'error', s.error,
        'processed_by', s.processed_by) ORDER BY s.position)
)::text
FROM tasker.tasks t
JOIN tasker.steps s ON s.task_uuid = t.task_uuid
WHERE t.task_uuid = %(task_uuid)s
GROUP BY t.task_uuid;

-- name: find_task_by_idempotency_key --
-- The task an idempotency key created, and the fields in which a request with the same key differs from the one
-- that created it (create_task's parameters; the template as resolved, context compared as jsonb values: 1.0 equals
-- 1.00, key order does not matter).
SELECT t.task_uuid,
       array_remove(ARRAY[
           CASE WHEN t.namespace <> %(namespace)s THEN 'namespace' END,
           CASE WHEN t.name <> %(name)s THEN 'name' END,
           CASE WHEN t.version <> %(version)s THEN 'version' END,
           CASE WHEN t.context <> coalesce(%(request_body)s::jsonb -> 'context', '{}'::jsonb) THEN 'context' END,
           CASE WHEN t.initiator IS DISTINCT FROM %(initiator)s::text THEN 'initiator' END,
           CASE WHEN t.source_system IS DISTINCT FROM %(source_system)s::text THEN 'source_system' END,
           CASE WHEN t.reason IS DISTINCT FROM %(reason)s::text THEN 'reason' END,
           CASE WHEN t.tags <> %(tags)s::jsonb THEN 'tags' END,
           CASE WHEN t.priority <> %(priority)s::integer THEN 'priority' END
       ], NULL) AS differs
FROM tasker.tasks t
WHERE t.idempotency_key = %(idempotency_key)s;

-- name: list_tasks --
-- A page of tasks, newest first, without their steps, as JSON text.
SELECT json_build_object(
    'tasks', coalesce(json_agg(page ORDER BY page.created_at DESC, page.task_uuid), '[]'::json),
    'limit', %(limit)s::integer,
    'offset', %(offset)s::integer
)::text
FROM (
    SELECT task_uuid, namespace, name, version, status, created_by, created_at, updated_at, completed_at
    FROM tasker.tasks
    WHERE (%(status)s::text IS NULL OR status = %(status)s::text)
      AND (%(namespace)s::text IS NULL OR namespace = %(namespace)s::text)
    ORDER BY created_at DESC, task_uuid
    LIMIT %(limit)s OFFSET %(offset)s
) AS page;

-- name: cancel_task --
-- pending|steps_in_process -> cancelled; returns whether this call cancelled the task and the status it had when
-- this call got its row lock, or no row when the task does not exist. The status is read under the lock (FOR NO KEY
-- UPDATE waits for a concurrent change and then reads its result): read from the statement's snapshot, a task that
-- a concurrent transaction had just completed would be reported as still steps_in_process.
WITH task AS (
    SELECT task_uuid, status
    FROM tasker.tasks
    WHERE task_uuid = %(task_uuid)s
    FOR NO KEY UPDATE
),
cancelled AS (
    UPDATE tasker.tasks t
    SET status = 'cancelled', completed_at = clock_timestamp(), updated_at = clock_timestamp()
    FROM task
    WHERE t.task_uuid = task.task_uuid AND task.status IN ('pending', 'steps_in_process')
    RETURNING t.task_uuid
)
SELECT EXISTS (SELECT 1 FROM cancelled) AS cancelled_now, task.status AS previous_status
FROM task;

-- name: cancel_open_steps --
-- After a task was cancelled: its unfinished steps will never finish (-> cancelled). A running attempt's handler
-- may go on to its end, but its outcome is then refused by record_outcomes' guard (and recorded as `refused`) and
-- its message deleted; should its worker die instead, claim_steps leaves the message behind: a cancelled task's
-- step is never completed nor run again. A separate statement from the task update, so that it sees the steps as they are once the task
-- row is locked (an outcome or a claim committed meanwhile included).
UPDATE tasker.steps
SET state = 'cancelled', updated_at = clock_timestamp()
WHERE task_uuid = ANY(%(task_uuids)s::uuid[])
  AND state IN ('pending', 'enqueued', 'in_progress', 'waiting_for_retry');

-- name: lock_tasks --
-- Lock the tasks a batch of results will advance, in one order, so that two orchestrators never deadlock.
SELECT task_uuid FROM tasker.tasks
WHERE task_uuid = ANY(%(task_uuids)s::uuid[])
ORDER BY task_uuid
FOR NO KEY UPDATE;

-- name: advance_tasks --
-- Advance the tasks of one queue named by a batch of step results (their rows are locked by lock_tasks):
--   all steps complete -> task complete; a step in error -> task error and its open steps cancelled;
--   otherwise pending steps whose dependencies are all complete, and steps waiting for a retry, are enqueued in
--   {queue_table}, the queue %(queue)s (a retry with its backoff as the message's delay).
-- Returns the finalized tasks, and the delays of retries (for the wake-up that the caller sends after commit).
WITH task AS (
    SELECT t.task_uuid, t.status
    FROM tasker.tasks t
    WHERE t.task_uuid = ANY(%(task_uuids)s::uuid[])
),
tally AS (
    SELECT s.task_uuid,
           count(*) AS total,
           count(*) FILTER (WHERE s.state = 'complete') AS complete,
           count(*) FILTER (WHERE s.state = 'error') AS failed
    FROM tasker.steps s
    -- By key rather than joined with `task`, so that the planner reads the steps through their index.
    WHERE s.task_uuid = ANY(%(task_uuids)s::uuid[])
    GROUP BY s.task_uuid
),
finished AS (
    UPDATE tasker.tasks t
    SET status = CASE WHEN tally.failed > 0 THEN 'error' ELSE 'complete' END,
        completed_at = clock_timestamp(),
        updated_at = clock_timestamp()
    FROM tally
    WHERE t.task_uuid = tally.task_uuid
      AND t.status = 'steps_in_process'
      AND (tally.failed > 0 OR tally.complete = tally.total)
    RETURNING t.task_uuid, t.status
),
abandoned AS (
    UPDATE tasker.steps s
    SET state = 'cancelled', updated_at = clock_timestamp()
    FROM task
    LEFT JOIN finished ON finished.task_uuid = task.task_uuid
    WHERE s.task_uuid = task.task_uuid
      AND coalesce(finished.status, task.status) IN ('error', 'cancelled')
      AND s.state IN ('pending', 'enqueued', 'waiting_for_retry')
    RETURNING s.step_uuid
),
ready AS (
    SELECT s.step_uuid, s.state,
           CASE WHEN s.state = 'waiting_for_retry'
                THEN s.backoff_ms * power(s.backoff_factor, greatest(s.attempts - 1, 0))
                ELSE 0 END AS delay_ms
    FROM tasker.steps s
    JOIN task ON task.task_uuid = s.task_uuid
    JOIN tally ON tally.task_uuid = s.task_uuid
    WHERE task.status = 'steps_in_process'
      AND tally.failed = 0
      AND s.queue = %(queue)s
      AND (s.state = 'waiting_for_retry'
           OR (s.state = 'pending'
               AND NOT EXISTS (SELECT 1 FROM tasker.steps d
                               WHERE d.task_uuid = s.task_uuid
                                 AND d.name = ANY (s.depends_on)
                                 AND d.state <> 'complete')))
),
enqueued AS (
    UPDATE tasker.steps s
    SET state = 'enqueued', updated_at = clock_timestamp()
    FROM ready
    WHERE s.step_uuid = ready.step_uuid AND s.state = ready.state
    RETURNING s.step_uuid, s.task_uuid, ready.delay_ms
),
sent AS (
    INSERT INTO pgmq.{queue_table} (vt, message)
    SELECT clock_timestamp() + make_interval(secs => e.delay_ms / 1000.0),
           jsonb_build_object('task_uuid', e.task_uuid, 'step_uuid', e.step_uuid)
    FROM enqueued e
    RETURNING msg_id
)
SELECT (SELECT count(*) FROM sent) AS enqueued,
       (SELECT count(*) FROM enqueued WHERE delay_ms = 0) AS enqueued_now,
       array(SELECT task_uuid FROM finished WHERE status = 'complete') AS completed,
       array(SELECT task_uuid FROM finished WHERE status = 'error') AS failed,
       (SELECT count(*) FROM abandoned) AS cancelled_steps,
       array(SELECT DISTINCT ceil(delay_ms)::bigint FROM enqueued WHERE delay_ms > 0) AS retry_delays_ms;

-- name: delete_results --
-- Consume step results once their tasks were advanced (same transaction).
DELETE FROM pgmq.q_orchestration_step_results WHERE msg_id = ANY(%(msg_ids)s::bigint[]);

-- name: claim_steps --
-- Take up to qty visible step messages (hiding them for vt seconds) and claim their steps, in one statement:
-- enqueued -> in_progress starts the next attempt, and in_progress -> in_progress takes over an attempt whose
-- worker died (its message became visible again: a live worker keeps extending the visibility of what it runs).
-- A taken-over attempt counts, so a step whose every worker dies (a poison message) cannot loop forever: once
-- its last attempt was abandoned, in_progress -> error, reported to the orchestration like any failed attempt
-- (the Oban / graphile-worker rule: attempts never exceed max_attempts, whoever ends them; PGMQ's read_ct
-- would count the same deliveries, but per message rather than per step).
-- A message whose step is in any other state was left behind (cancelled, finished), and so is the message of a
-- step failed here: it comes back with a NULL step_uuid, for the caller to delete (`abandoned` says it failed a
-- step). One statement, so one snapshot: a message it can see was committed with its step's state, which the
-- claim therefore sees too.
WITH next AS MATERIALIZED (
    -- MATERIALIZED for the reason given at read_results.
    SELECT msg_id
    FROM pgmq.{queue_table}
    WHERE vt <= clock_timestamp()
    ORDER BY msg_id
    LIMIT %(qty)s
    FOR UPDATE SKIP LOCKED
),
msg AS (
    UPDATE pgmq.{queue_table} m
    SET last_read_at = clock_timestamp(),
        vt = clock_timestamp() + make_interval(secs => %(vt)s),
        read_ct = m.read_ct + 1
    FROM next
    WHERE m.msg_id = next.msg_id
    RETURNING m.msg_id,
              extract(epoch FROM clock_timestamp() - m.enqueued_at)::float8 AS waited_s,
              CASE WHEN m.message ->> 'step_uuid' ~ '^[0-9a-f-]{{36}}$'
                   THEN (m.message ->> 'step_uuid')::uuid END AS step_uuid
),
claimed AS (
    UPDATE tasker.steps s
    SET state = 'in_progress',
        attempts = s.attempts + 1,
        processed_by = %(instance)s,
        msg_id = msg.msg_id,
        updated_at = clock_timestamp()
    FROM msg
    WHERE s.step_uuid = msg.step_uuid
      AND (s.state = 'enqueued' OR (s.state = 'in_progress' AND s.attempts < s.max_attempts))
    RETURNING s.msg_id, s.step_uuid, s.task_uuid, s.name, s.handler, s.attempts, s.max_attempts,
              (SELECT t.context FROM tasker.tasks t WHERE t.task_uuid = s.task_uuid) AS context,
              (SELECT coalesce(jsonb_object_agg(d.name, d.result), jsonb_build_object())
               FROM tasker.steps d
               WHERE d.task_uuid = s.task_uuid AND d.name = ANY (s.depends_on)) AS dependencies
),
abandoned AS (
    UPDATE tasker.steps s
    SET state = 'error',
        error = format('attempt %%s of %%s stopped without an outcome (its worker died or was stopped, and its '
                       'message came back after the visibility timeout); no attempt is left', s.attempts,
                       s.max_attempts),
        updated_at = clock_timestamp()
    FROM msg
    WHERE s.step_uuid = msg.step_uuid AND s.state = 'in_progress' AND s.attempts >= s.max_attempts
    RETURNING msg.msg_id, s.step_uuid, s.task_uuid, s.attempts, s.queue
),
reported AS (
    INSERT INTO pgmq.q_orchestration_step_results (vt, message)
    SELECT clock_timestamp(),
           jsonb_build_object('task_uuid', a.task_uuid, 'step_uuid', a.step_uuid, 'state', 'error',
                              'attempt', a.attempts, 'queue', a.queue)
    FROM abandoned a
    RETURNING msg_id
)
SELECT msg.msg_id, msg.waited_s, c.step_uuid, c.task_uuid, c.name, c.handler, c.attempts, c.max_attempts,
       c.context, c.dependencies, a.msg_id IS NOT NULL AS abandoned
FROM msg
LEFT JOIN claimed c ON c.msg_id = msg.msg_id
LEFT JOIN abandoned a ON a.msg_id = msg.msg_id;

-- name: record_outcomes --
-- Record attempts' outcomes (in_progress -> complete | waiting_for_retry | error), guarded by the attempt number
-- so that an attempt taken over by another worker, or one whose task was cancelled while it ran, cannot record
-- anything. In the same statement: report each recorded outcome to the orchestration, record each refused one as a
-- transition to 'refused' (from the state the step stays in, with the late attempt's number and instance: a worker
-- paused past its visibility timeout, or a step cancelled under its handler, leaves a visible trace), and delete
-- from {queue_table} the messages of the recorded attempts, of the attempts whose step was cancelled (nothing will
-- ever run them: left in the queue, they would come back after the visibility timeout only to be left behind) and
-- the left-behind ones (stale_msg_ids). Returns the counts, `cancelled` being the refused outcomes of cancelled
-- steps.
WITH outcome AS (
    SELECT *
    FROM jsonb_to_recordset(%(outcomes)s::jsonb) AS o(step_uuid uuid, attempt integer, state text, result jsonb,
                                                       error text)
),
recorded AS (
    UPDATE tasker.steps s
    SET state = outcome.state, result = outcome.result, error = outcome.error, updated_at = clock_timestamp()
    FROM outcome
    -- The explicit key list makes the planner find the steps by primary key: joined with the outcomes alone it
    -- estimates few in_progress rows and scans the whole table.
    WHERE s.step_uuid = ANY(%(step_uuids)s::uuid[])
      AND s.step_uuid = outcome.step_uuid AND s.state = 'in_progress' AND s.attempts = outcome.attempt
    RETURNING s.step_uuid, s.task_uuid, s.state, s.attempts, s.msg_id
),
refused AS (
    INSERT INTO tasker.step_transitions (step_uuid, task_uuid, step_name, attempt, from_state, to_state, instance)
    SELECT s.step_uuid, s.task_uuid, s.name, outcome.attempt, s.state, 'refused', tasker.current_instance()
    FROM outcome
    JOIN tasker.steps s ON s.step_uuid = outcome.step_uuid
    WHERE s.step_uuid = ANY(%(step_uuids)s::uuid[])
      AND outcome.step_uuid NOT IN (SELECT step_uuid FROM recorded)
    RETURNING step_uuid, from_state
),
reported AS (
    INSERT INTO pgmq.q_orchestration_step_results (vt, message)
    SELECT clock_timestamp(),
           jsonb_build_object('task_uuid', r.task_uuid, 'step_uuid', r.step_uuid, 'state', r.state,
                              'attempt', r.attempts, 'queue', %(queue)s::text)
    FROM recorded r
    RETURNING msg_id
),
cancelled_messages AS (
    SELECT s.msg_id
    FROM outcome
    JOIN tasker.steps s ON s.step_uuid = outcome.step_uuid
    WHERE s.step_uuid = ANY(%(step_uuids)s::uuid[]) AND s.state = 'cancelled' AND s.attempts = outcome.attempt
),
consumed AS (
    DELETE FROM pgmq.{queue_table}
    WHERE msg_id = ANY(array(SELECT msg_id FROM recorded) || array(SELECT msg_id FROM cancelled_messages)
                       || %(stale_msg_ids)s::bigint[])
    RETURNING msg_id
)
SELECT (SELECT count(*) FROM recorded) AS recorded,
       (SELECT count(*) FROM refused) AS refused,
       (SELECT count(*) FROM reported) AS reported,
       (SELECT count(*) FROM consumed) AS consumed,
       (SELECT count(*) FROM refused WHERE from_state = 'cancelled') AS cancelled;
