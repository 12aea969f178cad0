from tasker_cluster.testing import CREATION_FIELDS, Task, compare_tasks


def _task(status: str, step_status: str, result: object = None) -> Task:
    return Task.model_validate(
        {
            "task_uuid": "t-1",
            "namespace": "examples",
            "name": "linear",
            "status": status,
            "created_by": "orchestration-1",
            "steps": [{"name": "a", "status": step_status, "attempts": 1, "result": result}],
        }
    )


def test_identical_views_have_no_differences() -> None:
    views = {"http://a": _task("complete", "complete", 4), "http://b": _task("complete", "complete", 4)}
    assert compare_tasks(views) == []


def test_a_step_result_difference_names_the_field_and_each_instances_value() -> None:
    views = {"http://a": _task("complete", "complete", 4), "http://b": _task("complete", "complete", 5)}
    [difference] = compare_tasks(views)
    assert difference.field == "steps[a].result"
    assert difference.values == {"http://a": 4, "http://b": 5}
    assert "http://a=4" in difference.describe()


def test_a_step_missing_on_one_instance_is_a_difference() -> None:
    full = _task("complete", "complete", 4)
    empty = full.model_copy(update={"steps": []})
    fields = {difference.field for difference in compare_tasks({"http://a": full, "http://b": empty})}
    assert "steps" in fields
    assert "steps[a].status" in fields


def test_creation_fields_ignore_progress_that_may_differ_while_running() -> None:
    views = {"http://a": _task("pending", "pending"), "http://b": _task("steps_in_process", "in_progress")}
    assert compare_tasks(views, only=CREATION_FIELDS) == []
    assert {d.field for d in compare_tasks(views)} == {"status", "steps[a].status"}
