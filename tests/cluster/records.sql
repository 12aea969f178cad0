-- What the cluster scenarios read straight from the services' database, to assert on server-side records rather
-- than on HTTP responses. Each query under a `-- name: x --` header, loaded by name (records.py).

-- name: tasks --
-- The task rows for the given task UUIDs.
SELECT task_uuid::text, status, created_by, namespace, name, version, context, idempotency_key
FROM tasker.tasks
WHERE task_uuid = ANY(%(uuids)s::uuid[]);

-- name: marked_tasks --
-- Every task carrying a test's marker tag, however it was created: what a test caused, duplicates included.
SELECT task_uuid::text
FROM tasker.tasks
WHERE tags @> jsonb_build_array(%(marker)s::text);

-- name: steps --
-- The step rows of the given tasks: state, attempts and result as the database holds them.
SELECT task_uuid::text, name, state, attempts, result
FROM tasker.steps
WHERE task_uuid = ANY(%(uuids)s::uuid[])
ORDER BY task_uuid, position;

-- name: step_transitions --
-- Every recorded step state change of the given tasks, in the order they were made.
SELECT step_uuid::text, task_uuid::text, step_name, attempt, from_state, to_state, instance
FROM tasker.step_transitions
WHERE task_uuid = ANY(%(uuids)s::uuid[])
ORDER BY id;

-- name: task_transitions --
-- Every recorded task status change of the given tasks, in the order they were made.
SELECT task_uuid::text, from_status, to_status, instance
FROM tasker.task_transitions
WHERE task_uuid = ANY(%(uuids)s::uuid[])
ORDER BY id;

-- name: unsettled_steps --
-- Steps of the given tasks still queued or running.
SELECT count(*)::int
FROM tasker.steps
WHERE task_uuid = ANY(%(uuids)s::uuid[]) AND state IN ('enqueued', 'in_progress');

-- name: claims_per_instance --
-- How many steps of the given tasks each instance has claimed (moved to in_progress) so far.
SELECT instance, count(*)::int AS claims
FROM tasker.step_transitions
WHERE task_uuid = ANY(%(uuids)s::uuid[]) AND to_state = 'in_progress'
GROUP BY instance;

-- name: running_steps --
-- The steps of the given tasks now in progress: which attempt, run by which instance.
SELECT task_uuid::text, name AS step_name, attempts AS attempt, processed_by AS instance
FROM tasker.steps
WHERE task_uuid = ANY(%(uuids)s::uuid[]) AND state = 'in_progress';

-- name: queued_results --
-- Step results waiting in the orchestration's queue, visible or not.
SELECT count(*)::int FROM pgmq.q_orchestration_step_results;

-- name: archived_result --
-- A step result set aside in the results queue's archive: its reads and the reason the archiving instance gave.
SELECT msg_id, read_ct, message, headers -> 'tasker_archived' AS archived
FROM pgmq.a_orchestration_step_results
WHERE msg_id = %(msg_id)s;
