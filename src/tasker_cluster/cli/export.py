"""`cluster export compose | kubernetes`: the configuration as files another engine runs."""

from __future__ import annotations

from pathlib import Path

from tasker_cluster.project import Project


def compose(
    project: Project,
    *,
    output: Path | None,
    image: str,
    database_image: str,
    orchestration: int | None,
    workers: int | None,
) -> int:
    from tasker_cluster.cluster.export.compose import ComposeOptions
    from tasker_cluster.cluster.export.environment import project_name
    from tasker_cluster.cluster.export.files import export_compose
    from tasker_cluster.config.load import load_config
    from tasker_cluster.ui.export_report import print_exported

    config = load_config(project, orchestration=orchestration, workers=workers)
    options = ComposeOptions(image, project_name(project.root.name), database_image)
    print_exported(config, export_compose(config, _folder(project, output, "compose"), options))
    return 0


def kubernetes(
    project: Project,
    *,
    output: Path | None,
    image: str,
    database_secret: str,
    database_secret_key: str,
    orchestration: int | None,
    workers: int | None,
) -> int:
    from tasker_cluster.cluster.export.environment import project_name
    from tasker_cluster.cluster.export.files import export_kubernetes
    from tasker_cluster.cluster.export.kubernetes import KubernetesOptions
    from tasker_cluster.config.load import load_config
    from tasker_cluster.ui.export_report import print_exported

    config = load_config(project, orchestration=orchestration, workers=workers)
    options = KubernetesOptions(image, project_name(project.root.name), database_secret, database_secret_key)
    print_exported(config, export_kubernetes(config, _folder(project, output, "kubernetes"), options))
    return 0


def _folder(project: Project, output: Path | None, engine: str) -> Path:
    return output.resolve() if output is not None else project.root / "deploy" / engine
