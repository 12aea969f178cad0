"""What `cluster export` prints: the files written and removed, the instances, and how to run and test them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasker_cluster.ui.console import print_line

if TYPE_CHECKING:
    from tasker_cluster.cluster.export.files import Exported
    from tasker_cluster.config.model import ClusterConfig


def print_exported(config: ClusterConfig, exported: Exported) -> None:
    project = config.project
    for path in exported.files:
        print_line(f"wrote   {project.shown(path)}")
    for path in exported.removed:
        print_line(f"removed {project.shown(path)} (its service is no longer in the configuration)")
    print_line(f"{len(config.instances)} instances: {', '.join(config.names())}")
    folder = project.shown(exported.folder)
    if exported.target == "compose":
        # The project named on the command line too: podman-compose 1.0 (Debian 12's) ignores the file's `name:` and
        # takes the folder's name, which is "compose" for every export. Both tools accept -p.
        run = f"-p {exported.project_name} -f {folder}/compose.yaml up -d"
        print_line(f"run it:  podman-compose {run}   (or docker compose {run})")
    elif exported.database_secret is not None:
        secret = f"the database Secret {exported.database_secret} first"
        print_line(f"run it:  kubectl apply -f {folder}/   (Kubernetes >= 1.28; {secret})")
    else:
        print_line(f"run it:  kubectl apply -f {folder}/   (Kubernetes >= 1.28)")
    # Scoped to the one command: exported in the shell, DATABASE_URL and the URL lists would steer every later local
    # `cluster` command to the deployment.
    print_line(f"test it: cluster test cluster --running --env-file {project.shown(exported.env_file)}")
