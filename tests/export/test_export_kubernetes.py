"""`cluster export kubernetes`: manifests that Kubernetes' own schemas accept in strict mode, for several versions,
and that hold together where the schemas cannot see (selectors, names, ports, variable references)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import tomli_w
import yaml
from export_cli import run_cli, set_probes

from tasker_cluster.config.load import load_config
from tasker_cluster.project import Project
from tasker_cluster.testing.config import ClusterConfig

# The oldest version the manifests claim (StatefulSet start ordinals, the pod-index label) and later ones.
VERSIONS = ["1.28.0", "1.31.0", "1.34.0", "1.37.0"]
DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
VARIABLE_REFERENCE = re.compile(r"(?<!\$)\$\(([^)]*)\)")


def export(project: Project, *args: str) -> dict[str, list[dict[str, Any]]]:
    result = run_cli(project, "export", "kubernetes", *args)
    assert result.returncode == 0, result.stderr
    folder = project.root / "deploy" / "kubernetes"
    return {path.stem: list(yaml.safe_load_all(path.read_text())) for path in sorted(folder.glob("*.yaml"))}


def resources(manifests: dict[str, list[dict[str, Any]]], kind: str) -> list[dict[str, Any]]:
    return [resource for documents in manifests.values() for resource in documents if resource["kind"] == kind]


def edit_topology(project: Project, **services: dict[str, Any]) -> None:
    data = tomllib.loads(project.config_file.read_text())
    for name, keys in services.items():
        data["services"].setdefault(name, {}).update(keys)
    project.config_file.write_text(tomli_w.dumps(data))


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_passes_strict_validation_against_the_official_schema(project: Project, version: str) -> None:
    edit_topology(project, orchestration={"env": {"SHARD": "{index}-{name}"}})
    manifests = export(project)
    assert sorted(manifests) == ["orchestration", "worker-a", "worker-b"]
    for documents in manifests.values():
        for resource in documents:
            kubernetes_validate.validate(resource, version, strict=True)


def test_strict_validation_rejects_a_field_the_schema_does_not_know(project: Project) -> None:
    [stateful_set, *_] = resources(export(project), "StatefulSet")
    stateful_set["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(stateful_set, VERSIONS[0], strict=True)
    # And why 1.28 is the floor: a version that predates start ordinals refuses the field.
    [stateful_set, *_] = resources(export(project), "StatefulSet")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(stateful_set, "1.25.0", strict=True)


def test_pods_are_named_like_the_instances_start_all_starts(project: Project) -> None:
    manifests = export(project, "--orchestration", "3", "--workers", "5")
    pods = []
    for stateful_set in resources(manifests, "StatefulSet"):
        spec = stateful_set["spec"]
        start = spec["ordinals"]["start"]
        pods += [f"{stateful_set['metadata']['name']}-{n}" for n in range(start, start + spec["replicas"])]
        assert spec["podManagementPolicy"] == "Parallel"
    assert pods == load_config(project, orchestration=3, workers=5).names()
    assert all(DNS_LABEL.match(pod) and len(pod) <= 63 for pod in pods)


def test_every_selector_selects_the_pods_of_its_statefulset_and_no_other(project: Project) -> None:
    manifests = export(project)
    pod_labels = {
        s["metadata"]["name"]: s["spec"]["template"]["metadata"]["labels"].items()
        for s in resources(manifests, "StatefulSet")
    }
    for stateful_set in resources(manifests, "StatefulSet"):
        selector = stateful_set["spec"]["selector"]["matchLabels"].items()
        assert [name for name, labels in pod_labels.items() if selector <= labels] == [stateful_set["metadata"]["name"]]
    for service in resources(manifests, "Service"):
        selector = service["spec"]["selector"].items()
        assert len([name for name, labels in pod_labels.items() if selector <= labels]) == 1, service["metadata"]


def test_names_are_dns_labels_and_each_statefulset_is_governed_by_a_headless_service(project: Project) -> None:
    manifests = export(project)
    services = {service["metadata"]["name"]: service for service in resources(manifests, "Service")}
    for documents in manifests.values():
        for resource in documents:
            name = resource["metadata"]["name"]
            assert DNS_LABEL.match(name) and len(name) <= 63, name
    for stateful_set in resources(manifests, "StatefulSet"):
        governing = services[stateful_set["spec"]["serviceName"]]
        assert governing["spec"]["clusterIP"] == "None"
        assert governing["spec"]["publishNotReadyAddresses"] is True
    assert services["orchestration"]["spec"]["type"] == "ClusterIP"
    assert {"worker-a", "worker-b"}.isdisjoint(services), "only orchestration is load-balanced"


def test_every_probe_and_service_port_names_a_port_the_container_exposes(project: Project) -> None:
    manifests = export(project)
    services = resources(manifests, "Service")
    for stateful_set in resources(manifests, "StatefulSet"):
        [container] = stateful_set["spec"]["template"]["spec"]["containers"]
        exposed = {port["name"] for port in container["ports"]} | {port["containerPort"] for port in container["ports"]}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["port"] in exposed, probe
        pod_labels = stateful_set["spec"]["template"]["metadata"]["labels"]
        for service in services:
            if service["spec"]["selector"].items() <= pod_labels.items():
                assert all(port["targetPort"] in exposed for port in service["spec"]["ports"])


def test_every_variable_reference_names_a_variable_defined_before_it(project: Project) -> None:
    edit_topology(project, orchestration={"env": {"SHARD": "{index}-{name}", "PRICE": "$(NOT_A_REFERENCE)"}})
    for stateful_set in resources(export(project), "StatefulSet"):
        [container] = stateful_set["spec"]["template"]["spec"]["containers"]
        defined: list[str] = []
        for variable in container["env"]:
            for name in VARIABLE_REFERENCE.findall(variable.get("value", "")):
                assert name in defined, (variable, defined)
            defined.append(variable["name"])
        for arg in container["command"]:
            assert set(VARIABLE_REFERENCE.findall(arg)) <= set(defined), arg


def test_placeholders_reach_the_pod_through_the_downward_api(project: Project) -> None:
    edit_topology(project, orchestration={"env": {"SHARD": "{index}-{name}", "HOME_DIR": "{project_dir}"}})
    [orchestration, *_] = resources(export(project), "StatefulSet")
    [container] = orchestration["spec"]["template"]["spec"]["containers"]
    env = {variable["name"]: variable for variable in container["env"]}

    assert env["TASKER_INSTANCE_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    pod_index = "metadata.labels['apps.kubernetes.io/pod-index']"
    assert env["TASKER_INSTANCE_INDEX"]["valueFrom"] == {"fieldRef": {"fieldPath": pod_index}}
    assert env["SHARD"]["value"] == "$(TASKER_INSTANCE_INDEX)-$(TASKER_INSTANCE_ID)"
    assert env["HOME_DIR"]["value"] == "/app"
    assert env["TASKER_BIND_ADDRESS"]["value"] == "0.0.0.0"
    assert container["command"] == [
        "python3",
        "-m",
        "tasker_cluster.services.orchestration",
        "--port",
        "8080",
        "--name",
        "$(TASKER_INSTANCE_ID)",
    ]


def test_a_literal_dollar_is_escaped_so_kubernetes_does_not_expand_it(project: Project) -> None:
    edit_topology(project, orchestration={"env": {"PRICE": "$5 and $(HOME)"}})
    [orchestration, *_] = resources(export(project), "StatefulSet")
    [container] = orchestration["spec"]["template"]["spec"]["containers"]
    env = {variable["name"]: variable for variable in container["env"]}
    assert env["PRICE"]["value"] == "$$5 and $$(HOME)"


def test_the_database_url_comes_from_a_secret_and_is_never_inlined(project: Project) -> None:
    manifests = export(project, "--database-secret", "tasker-db-app", "--database-secret-key", "uri")
    text = "\n".join((project.root / "deploy" / "kubernetes" / f"{name}.yaml").read_text() for name in manifests)
    assert "postgresql://" not in text
    for stateful_set in resources(manifests, "StatefulSet"):
        [container] = stateful_set["spec"]["template"]["spec"]["containers"]
        [database] = [variable for variable in container["env"] if variable["name"] == "DATABASE_URL"]
        reference = {"secretKeyRef": {"name": "tasker-db-app", "key": "uri"}}
        assert database == {"name": "DATABASE_URL", "valueFrom": reference}


@pytest.mark.parametrize(("mode", "advice"), [("local", "; the database Secret tasker-db first)"), ("none", ")")])
def test_the_run_line_asks_for_the_database_secret_only_when_the_manifests_read_one(
    project: Project, mode: str, advice: str
) -> None:
    data = tomllib.loads(project.config_file.read_text())
    data["database"]["mode"] = mode
    project.config_file.write_text(tomli_w.dumps(data))

    result = run_cli(project, "export", "kubernetes", "--database-secret", "tasker-db")

    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("run it:")]
    assert line == f"run it:  kubectl apply -f deploy/kubernetes/   (Kubernetes >= 1.28{advice}"


def test_probes_and_grace_period_come_from_the_topology(project: Project) -> None:
    settings = {"ready_path": "/health/ready?deep=1", "health_path": "/alive", "startup_timeout": 9, "stop_grace": 7.5}
    edit_topology(project, **{"worker-b": settings})
    [worker_b] = [s for s in resources(export(project), "StatefulSet") if s["metadata"]["name"] == "worker-b"]
    pod = worker_b["spec"]["template"]["spec"]
    [container] = pod["containers"]

    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready?deep=1"
    assert container["livenessProbe"]["httpGet"]["path"] == "/alive"
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/alive"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 9
    assert pod["terminationGracePeriodSeconds"] > 7.5
    env = {variable["name"]: variable.get("value") for variable in container["env"]}
    assert 0 < float(env["TASKER_STOP_GRACE"]) < 7.5
    assert env["TASKER_STARTUP_TIMEOUT"] == "9"


def test_the_env_file_names_each_instance_by_its_dns_name_inside_the_cluster(project: Project) -> None:
    export(project)
    config = ClusterConfig.from_env(project.root / "deploy" / "kubernetes" / "cluster.env", environ={})
    assert config.orchestration_urls == (
        "http://orchestration-1.orchestration-headless:8080",
        "http://orchestration-2.orchestration-headless:8080",
    )
    assert config.worker_urls[-1] == "http://worker-b-2.worker-b-headless:8102"


def test_a_service_no_longer_in_the_topology_loses_its_manifest_but_other_files_stay(project: Project) -> None:
    export(project)
    folder = project.root / "deploy" / "kubernetes"
    (folder / "secret.yaml").write_text("kind: Secret\n")
    data = tomllib.loads(project.config_file.read_text())
    del data["services"]["worker-b"]
    project.config_file.write_text(tomli_w.dumps(data))

    result = run_cli(project, "export", "kubernetes")
    assert result.returncode == 0, result.stderr
    assert "removed deploy/kubernetes/worker-b.yaml" in result.stdout
    assert sorted(path.name for path in folder.glob("*.yaml")) == ["orchestration.yaml", "secret.yaml", "worker-a.yaml"]


@pytest.mark.parametrize(
    ("service", "keys", "message"),
    [
        (
            "a" * 53,
            {"role": "worker", "count": 1, "base_port": 8110, "command": ["x"]},
            "a StatefulSet's name may have at most 52",
        ),
        ("worker-a", {"env": {"MY KEY": "x"}}, "services.worker-a.env.MY KEY: Kubernetes does not accept"),
        (
            "orchestration-headless",
            {"role": "orchestration", "count": 1, "base_port": 8090, "command": ["x"]},
            "would be named orchestration-headless, like the one of services.orchestration",
        ),
    ],
)
def test_what_kubernetes_cannot_take_is_refused_with_the_fix_and_nothing_is_written(
    project: Project, service: str, keys: dict[str, Any], message: str
) -> None:
    edit_topology(project, **{service: keys})
    result = run_cli(project, "export", "kubernetes")
    assert result.returncode == 2, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert lines[1].startswith("  fix: ")
    assert not (project.root / "deploy").exists()


def test_a_secret_name_kubernetes_cannot_take_is_refused(project: Project) -> None:
    result = run_cli(project, "export", "kubernetes", "--database-secret", "Not_Valid")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --database-secret 'Not_Valid' is not a valid Secret name\n  fix: ")
    assert not Path(project.root / "deploy").exists()


def test_each_probe_kind_becomes_its_kubernetes_probe_and_none_has_none(project: Project) -> None:
    set_probes(
        project,
        orchestration={"probe": "tcp"},
        **{
            "worker-a": {"probe": "exec", "probe_command": ["{python}", "check.py", "--port", "{port}", "$x"]},
            "worker-b": {"probe": "none"},
        },
    )
    manifests = export(project)
    containers = {
        s["metadata"]["name"]: s["spec"]["template"]["spec"]["containers"][0]
        for s in resources(manifests, "StatefulSet")
    }

    kinds = ("startupProbe", "readinessProbe", "livenessProbe")
    for kind in kinds:
        assert containers["orchestration"][kind]["tcpSocket"] == {"port": "http"}
        assert "httpGet" not in containers["orchestration"][kind]
        # The kubelet expands no $(VAR) in an exec probe: a literal $ stays as it is.
        assert containers["worker-a"][kind]["exec"] == {"command": ["python3", "check.py", "--port", "8100", "$x"]}
        assert kind not in containers["worker-b"]
    for documents in manifests.values():
        for resource in documents:
            kubernetes_validate.validate(resource, VERSIONS[0], strict=True)


def test_an_exec_probe_naming_the_instance_is_refused_for_kubernetes_with_the_fix(project: Project) -> None:
    set_probes(project, orchestration={"probe": "exec", "probe_command": ["check", "{name}"]})
    result = run_cli(project, "export", "kubernetes")
    assert result.returncode == 2, result.stderr
    assert (
        "services.orchestration.probe_command: {name} cannot be written into a Kubernetes exec probe" in result.stderr
    )
    assert "fix: read TASKER_INSTANCE_ID" in result.stderr


def test_a_probe_timeout_becomes_every_probes_timeout_seconds_rounded_up_and_the_default_stays_2(
    project: Project,
) -> None:
    set_probes(project, orchestration={"probe_timeout": 7}, **{"worker-a": {"probe": "tcp", "probe_timeout": 0.5}})
    manifests = export(project)
    containers = {
        s["metadata"]["name"]: s["spec"]["template"]["spec"]["containers"][0]
        for s in resources(manifests, "StatefulSet")
    }

    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert containers["orchestration"][kind]["timeoutSeconds"] == 7
        assert containers["worker-a"][kind]["timeoutSeconds"] == 1
        assert containers["worker-b"][kind]["timeoutSeconds"] == 2
    for documents in manifests.values():
        for resource in documents:
            kubernetes_validate.validate(resource, VERSIONS[0], strict=True)
