-- Each task writes about twenty transition rows, and each row paid for a primary-key index nobody looks up: readers
-- select a task's transitions (indexed by task) and order them by id. The ids stay unique (an identity column);
-- only their index goes.

ALTER TABLE tasker.step_transitions DROP CONSTRAINT step_transitions_pkey;
ALTER TABLE tasker.task_transitions DROP CONSTRAINT task_transitions_pkey;
