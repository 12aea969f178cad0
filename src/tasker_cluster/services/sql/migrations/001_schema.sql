-- Tasks, their steps, and every state change either one went through.
--
-- State changes are made by guarded UPDATEs in queries.sql (`WHERE state = expected`); the triggers below only
-- record them and refuse any change the state machines do not allow, so a bug in a query cannot skip a state
-- silently. The instance that made a change is read from the session setting `tasker.instance`, which every
-- service connection sets at connect time.

CREATE TABLE tasker.tasks (
    task_uuid       uuid PRIMARY KEY,
    namespace       text NOT NULL,
    name            text NOT NULL,
    version         text NOT NULL,
    status          text NOT NULL
                    CHECK (status IN ('pending', 'steps_in_process', 'complete', 'error', 'cancelled')),
    context         jsonb NOT NULL,
    initiator       text,
    source_system   text,
    reason          text,
    tags            jsonb NOT NULL DEFAULT '[]',
    priority        integer NOT NULL DEFAULT 0,
    idempotency_key text UNIQUE,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    completed_at    timestamptz
);

CREATE INDEX tasks_created_at ON tasker.tasks (created_at DESC);
CREATE INDEX tasks_status_created_at ON tasker.tasks (status, created_at DESC);

CREATE TABLE tasker.steps (
    step_uuid      uuid PRIMARY KEY,
    task_uuid      uuid NOT NULL REFERENCES tasker.tasks ON DELETE CASCADE,
    name           text NOT NULL,
    position       integer NOT NULL,
    handler        text NOT NULL,
    depends_on     text[] NOT NULL DEFAULT '{}',
    queue          text NOT NULL,
    max_attempts   integer NOT NULL CHECK (max_attempts >= 1),
    backoff_ms     integer NOT NULL CHECK (backoff_ms >= 0),
    backoff_factor double precision NOT NULL CHECK (backoff_factor >= 1),
    state          text NOT NULL
                   CHECK (state IN ('pending', 'enqueued', 'in_progress', 'complete', 'waiting_for_retry', 'error',
                                    'cancelled')),
    attempts       integer NOT NULL DEFAULT 0,
    result         jsonb,
    error          text,
    processed_by   text,
    -- The queue message the current attempt holds: deleted together with the attempt's outcome.
    msg_id         bigint,
    updated_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (task_uuid, name)
);

CREATE TABLE tasker.task_transitions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_uuid   uuid NOT NULL,
    from_status text,
    to_status   text NOT NULL,
    instance    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX task_transitions_task ON tasker.task_transitions (task_uuid, id);

CREATE TABLE tasker.step_transitions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    step_uuid  uuid NOT NULL,
    task_uuid  uuid NOT NULL,
    step_name  text NOT NULL,
    attempt    integer NOT NULL,
    from_state text,
    to_state   text NOT NULL,
    instance   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX step_transitions_step ON tasker.step_transitions (step_uuid, id);
CREATE INDEX step_transitions_task ON tasker.step_transitions (task_uuid);
-- Exactly one claim per attempt, enforced by the database rather than trusted to the workers.
CREATE UNIQUE INDEX step_transitions_one_claim_per_attempt
    ON tasker.step_transitions (step_uuid, attempt) WHERE to_state = 'in_progress';

CREATE FUNCTION tasker.current_instance() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('tasker.instance', true), ''), session_user::text)
$$;

CREATE FUNCTION tasker.record_task_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    previous text := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.status END;
BEGIN
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

CREATE TRIGGER tasks_record_insert AFTER INSERT ON tasker.tasks
    FOR EACH ROW EXECUTE FUNCTION tasker.record_task_transition();
CREATE TRIGGER tasks_record_update AFTER UPDATE OF status ON tasker.tasks
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION tasker.record_task_transition();

CREATE FUNCTION tasker.record_step_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    previous text := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.state END;
BEGIN
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

CREATE TRIGGER steps_record_insert AFTER INSERT ON tasker.steps
    FOR EACH ROW EXECUTE FUNCTION tasker.record_step_transition();
CREATE TRIGGER steps_record_update AFTER UPDATE OF state, attempts ON tasker.steps
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.attempts IS DISTINCT FROM NEW.attempts)
    EXECUTE FUNCTION tasker.record_step_transition();

SELECT pgmq.create('orchestration_step_results');
