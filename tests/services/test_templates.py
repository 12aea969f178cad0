"""Task templates: the shipped ones load, and every kind of broken template is refused naming its file."""

from __future__ import annotations

from pathlib import Path

import pytest
from service_instances import TEMPLATES

from tasker_cluster.errors import ConfigError
from tasker_cluster.services.workflow.examples import EXAMPLE_HANDLERS
from tasker_cluster.services.workflow.templates import load_templates

HANDLERS = EXAMPLE_HANDLERS.names()


def write(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(body)
    return path


def step(name: str, handler: str = "square_previous", depends_on: tuple[str, ...] = ()) -> str:
    deps = ", ".join(f'"{d}"' for d in depends_on)
    return f'[[steps]]\nname = "{name}"\nhandler = "{handler}"\ndepends_on = [{deps}]\n'


HEADER = 'namespace = "ns"\nname = "t"\nversion = "1.0.0"\n'


def test_the_shipped_templates_load_with_their_step_graphs() -> None:
    catalog = load_templates(TEMPLATES, HANDLERS)
    assert {t.name for t in catalog.templates} == {"linear", "diamond", "fail_once", "always_fail", "slow"}
    diamond = catalog.find("examples", "diamond")
    assert diamond is not None
    assert {s.name: s.depends_on for s in diamond.steps}["end"] == ("branch_b", "branch_c")
    assert catalog.namespaces == ("examples",)


def test_without_a_version_the_highest_one_is_found(tmp_path: Path) -> None:
    for version in ("1.2.0", "1.10.0", "1.9.5"):
        write(tmp_path, f"t{version}", HEADER.replace("1.0.0", version) + step("a", "square_even_number"))
    catalog = load_templates(tmp_path, HANDLERS)
    found = catalog.find("ns", "t")
    assert found is not None and found.version == "1.10.0"
    assert catalog.find("ns", "t", "1.2.0") is not None
    assert catalog.find("ns", "t", "2.0.0") is None


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (HEADER + step("a", depends_on=("b",)) + step("b", depends_on=("a",)), "cycle: a -> b -> a"),
        (HEADER + step("a", depends_on=("ghost",)), "unknown steps: ghost"),
        (HEADER + step("a") + step("a"), "repeated: a"),
        (HEADER + step("a", handler="no_such_handler"), "handlers that do not exist: no_such_handler"),
        (HEADER, "steps"),
        (HEADER + 'surprise = "field"\n' + step("a"), "surprise"),
        (HEADER + "[[steps]\n", "TOML"),
    ],
    ids=["cycle", "unknown-dependency", "duplicate-step", "unknown-handler", "no-steps", "extra-field", "bad-toml"],
)
def test_a_broken_template_is_refused_naming_its_file_and_problem(tmp_path: Path, body: str, complaint: str) -> None:
    path = write(tmp_path, "broken", body)
    with pytest.raises(ConfigError) as raised:
        load_templates(tmp_path, HANDLERS)
    assert str(path) in raised.value.message
    assert complaint in raised.value.message or complaint in raised.value.fix
    assert raised.value.exit_code == 2


def test_two_files_declaring_the_same_template_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "one", HEADER + step("a", "square_even_number"))
    write(tmp_path, "two", HEADER + step("b", "square_even_number"))
    with pytest.raises(ConfigError, match="defined twice"):
        load_templates(tmp_path, HANDLERS)


def test_a_missing_template_folder_names_the_option_that_fixes_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_templates(tmp_path / "nowhere", HANDLERS)
    assert "--templates" in raised.value.fix
