-- Faults written into the services' database behind their back, for the "sees the fault" tests (tamper.py). They
-- run in a transaction that is rolled back: the checks read them, nothing keeps them. Each picks its target among
-- the given tasks.

-- name: a_completed_step --
-- The last step of the first of the given tasks that completed.
SELECT s.task_uuid::text, s.name
FROM tasker.steps s
JOIN tasker.tasks t ON t.task_uuid = s.task_uuid
WHERE s.task_uuid = ANY(%(uuids)s::uuid[]) AND t.status = 'complete'
ORDER BY s.task_uuid, s.position DESC
LIMIT 1;

-- name: duplicate_completion --
-- The step's completion recorded once more, as a worker finishing an attempt twice would.
INSERT INTO tasker.step_transitions (step_uuid, task_uuid, step_name, attempt, from_state, to_state, instance)
SELECT step_uuid, task_uuid, step_name, attempt, from_state, to_state, 'tampered'
FROM tasker.step_transitions
WHERE task_uuid = %(task_uuid)s::uuid AND step_name = %(step)s AND to_state = 'complete';

-- name: run_again --
-- The step claimed by another attempt and completed again: it ran twice.
INSERT INTO tasker.step_transitions (step_uuid, task_uuid, step_name, attempt, from_state, to_state, instance)
SELECT s.step_uuid, s.task_uuid, s.name, s.attempts + 1, v.from_state, v.to_state, 'tampered'
FROM tasker.steps s, (VALUES (1, 'in_progress', 'in_progress'), (2, 'in_progress', 'complete')) AS v(n, from_state, to_state)
WHERE s.task_uuid = %(task_uuid)s::uuid AND s.name = %(step)s
ORDER BY v.n;

-- name: wrong_result --
-- The step's result replaced by a value no handler returns.
UPDATE tasker.steps SET result = '"tampered"'::jsonb
WHERE task_uuid = %(task_uuid)s::uuid AND name = %(step)s;

-- name: delete_task --
-- The task gone, steps and all (its transitions stay, as they would after a lost row).
DELETE FROM tasker.tasks WHERE task_uuid = %(task_uuid)s::uuid;

-- name: duplicate_task --
-- A second task for the same request under another idempotency key, tags (and so the test's marker) included:
-- what a creation retried without its key would leave.
INSERT INTO tasker.tasks (task_uuid, namespace, name, version, status, context, tags, idempotency_key, created_by)
SELECT gen_random_uuid(), namespace, name, version, 'steps_in_process', context, tags,
       'tampered-' || gen_random_uuid(), created_by
FROM tasker.tasks
WHERE task_uuid = %(task_uuid)s::uuid;

-- name: recreate_by --
-- The task recorded as created by another instance.
UPDATE tasker.tasks SET created_by = %(instance)s WHERE task_uuid = %(task_uuid)s::uuid;

-- name: without_step_triggers --
-- For the rest of the transaction a step row's change is not recorded or checked by the state machine (the
-- table's owner may do this; the lock it takes lasts until the rollback), so that a history can be written whole.
ALTER TABLE tasker.steps DISABLE TRIGGER steps_record_update;

-- name: clear_history --
-- The step's recorded transitions, gone (the next statement writes others).
DELETE FROM tasker.step_transitions
WHERE task_uuid = %(task_uuid)s::uuid AND step_name = %(step)s;

-- name: write_history --
-- The step's transitions written anew from %(history)s, a JSON list of [attempt, from, to] in order, by 'tampered',
-- and its row's attempts set to match: a history the services never made.
WITH target AS (
    SELECT step_uuid, task_uuid, name FROM tasker.steps WHERE task_uuid = %(task_uuid)s::uuid AND name = %(step)s
),
counted AS (
    UPDATE tasker.steps s SET attempts = %(attempts)s FROM target WHERE s.step_uuid = target.step_uuid
)
INSERT INTO tasker.step_transitions (step_uuid, task_uuid, step_name, attempt, from_state, to_state, instance)
SELECT target.step_uuid, target.task_uuid, target.name, (h.change ->> 0)::int, h.change ->> 1, h.change ->> 2,
       'tampered'
FROM target, jsonb_array_elements(%(history)s::jsonb) WITH ORDINALITY AS h(change, n)
ORDER BY h.n;

-- name: accept_refused_outcome --
-- One late outcome the database refused, recorded as accepted instead: its attempt completes the step too.
UPDATE tasker.step_transitions SET from_state = 'in_progress', to_state = 'complete'
WHERE id = (SELECT id FROM tasker.step_transitions
            WHERE task_uuid = ANY(%(uuids)s::uuid[]) AND to_state = 'refused' AND instance = %(instance)s
            ORDER BY id LIMIT 1);

-- name: forget_refused_outcomes --
-- The refused late outcomes of the given tasks, gone from the transitions: refused without a trace.
DELETE FROM tasker.step_transitions WHERE task_uuid = ANY(%(uuids)s::uuid[]) AND to_state = 'refused';

-- name: unarchive --
-- A step result gone from the results queue's archive: dropped rather than set aside.
DELETE FROM pgmq.a_orchestration_step_results WHERE msg_id = %(msg_id)s;

-- name: forget_archive_reason --
-- A step result archived without the reason its headers should carry.
UPDATE pgmq.a_orchestration_step_results SET headers = headers - 'tasker_archived' WHERE msg_id = %(msg_id)s;

-- name: archived_after_one_read --
-- A step result archived at its first read.
UPDATE pgmq.a_orchestration_step_results SET read_ct = 1 WHERE msg_id = %(msg_id)s;
