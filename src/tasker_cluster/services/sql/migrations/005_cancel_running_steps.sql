-- Cancelling a task cancels its running steps too (in_progress -> cancelled): left in_progress, a running attempt
-- of a cancelled task recorded `complete` with its result when its handler returned, and one whose worker died was
-- taken over and run again. Now its late outcome is refused by the attempt guard like any other late write, and
-- recorded as a `refused` transition from `cancelled`.

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
        ('in_progress', 'cancelled'),
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
