-- Fewer index writes per state change (measured with the linear template's statement sequence).
--
-- An UPDATE that changes no indexed column and finds room on its page is a HOT update: no index is touched.
-- tasks.status was indexed (for filtering the task list), so each of a task's status changes rewrote all four of
-- its indexes; the list is a newest-first page, served by tasks_created_at alone. step_transitions was indexed
-- twice; readers select by task. Free space on each page lets state changes stay on the page (HOT).

DROP INDEX tasker.tasks_status_created_at;
DROP INDEX tasker.step_transitions_step;
ALTER TABLE tasker.tasks SET (fillfactor = 80);
ALTER TABLE tasker.steps SET (fillfactor = 70);
