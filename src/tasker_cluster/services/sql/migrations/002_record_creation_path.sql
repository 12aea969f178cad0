-- A task is created already started, and its root steps already enqueued, by one statement (create_task): the
-- separate insert-then-update took three more statements per task. A row inserted past its initial state records
-- the whole path it took, so the transitions tables still show pending -> steps_in_process (tasks) and
-- pending -> enqueued (root steps), made by the creating instance at the same moment.

CREATE OR REPLACE FUNCTION tasker.record_task_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    previous text := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.status END;
BEGIN
    IF TG_OP = 'INSERT' AND NEW.status <> 'pending' THEN
        INSERT INTO tasker.task_transitions (task_uuid, from_status, to_status, instance)
        VALUES (NEW.task_uuid, NULL, 'pending', tasker.current_instance());
        previous := 'pending';
    END IF;
    IF (coalesce(previous, ''), NEW.status) NOT IN (
        ('', 'pending'),
        ('pending', 'steps_in_process'),
        ('pending', 'cancelled'),
        ('steps_in_process', 'complete'),
        ('steps_in_process', 'error'),
        ('steps_in_process', 'cancelled')
    ) THEN
        RAISE EXCEPTION 'illegal task transition % -> % for task %', previous, NEW.status, NEW.task_uuid
            USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO tasker.task_transitions (task_uuid, from_status, to_status, instance)
    VALUES (NEW.task_uuid, previous, NEW.status, tasker.current_instance());
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION tasker.record_step_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    previous text := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.state END;
BEGIN
    IF TG_OP = 'INSERT' AND NEW.state <> 'pending' THEN
        INSERT INTO tasker.step_transitions (step_uuid, task_uuid, step_name, attempt, from_state, to_state,
                                             instance)
        VALUES (NEW.step_uuid, NEW.task_uuid, NEW.name, NEW.attempts, NULL, 'pending', tasker.current_instance());
        previous := 'pending';
    END IF;
    -- in_progress -> in_progress is a new attempt taking over one whose worker died (its message came back).
    IF (coalesce(previous, ''), NEW.state) NOT IN (
        ('', 'pending'),
        ('pending', 'enqueued'),
        ('pending', 'cancelled'),
        ('enqueued', 'in_progress'),
        ('enqueued', 'cancelled'),
        ('in_progress', 'in_progress'),
        ('in_progress', 'complete'),
        ('in_progress', 'waiting_for_retry'),
        ('in_progress', 'error'),
        ('waiting_for_retry', 'enqueued'),
        ('waiting_for_retry', 'cancelled')
    ) THEN
        RAISE EXCEPTION 'illegal step transition % -> % for step %', previous, NEW.state, NEW.step_uuid
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.state = 'in_progress' AND NEW.attempts <> coalesce(OLD.attempts, 0) + 1 THEN
        RAISE EXCEPTION 'a claim must start attempt %, not % (step %)', coalesce(OLD.attempts, 0) + 1,
            NEW.attempts, NEW.step_uuid USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO tasker.step_transitions (step_uuid, task_uuid, step_name, attempt, from_state, to_state, instance)
    VALUES (NEW.step_uuid, NEW.task_uuid, NEW.name, NEW.attempts, previous, NEW.state, tasker.current_instance());
    RETURN NULL;
END
$$;
