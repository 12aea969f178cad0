"""Restarting instances: `cluster/stop` then `cluster/start` for the same instances, all at once or rolling.

A rolling restart takes one instance at a time, orchestration first, then each worker type in the configuration's
order, and stops the next one only once the last one answers its ready path: with two or more orchestration
instances, the orchestration API keeps answering throughout. The first instance that fails (survives SIGKILL, or
is not ready in time) ends the roll; the report says which instances were restarted and which were not reached.

Which names are valid is `observe()`'s rule, as for `stop` and `logs`: a running extra instance (started with a
larger count, as docker compose keeps a scaled replica in its project) is restarted too, as its service now
defines it, on the port it was started on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple

from tasker_cluster.cluster.start import start_instances
from tasker_cluster.cluster.start_results import StartEvent, StartReport
from tasker_cluster.cluster.state import InstanceState, observe
from tasker_cluster.cluster.stop import SUCCESSFUL as STOPPED
from tasker_cluster.cluster.stop import InstanceStop, stop_instances
from tasker_cluster.config.model import ROLES, ClusterConfig, Instance
from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.clock import SYSTEM_CLOCK, Clock
from tasker_cluster.proc.groups import GroupStop, stop_groups
from tasker_cluster.proc.probes import NETWORK, Prober
from tasker_cluster.proc.spawn import Spawner, spawn


class RestartStep(NamedTuple):
    """One stop-then-start, of one instance (rolling) or of all at once. `started` is None when the stop failed:
    nothing is started on a port a survivor may still hold."""

    names: list[str]
    stopped: list[InstanceStop]
    started: StartReport | None

    @property
    def stop_failed(self) -> list[InstanceStop]:
        return [result for result in self.stopped if result.outcome not in STOPPED]

    @property
    def ok(self) -> bool:
        return not self.stop_failed and self.started is not None and self.started.ok


class RestartReport(NamedTuple):
    """The steps taken, in order (the last one failed when `ok` is false), and the instances the roll did not reach
    because it ended early: they still run as before."""

    steps: list[RestartStep]
    not_reached: list[str]
    rolling: bool

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    @property
    def failed(self) -> RestartStep | None:
        return next((step for step in self.steps if not step.ok), None)

    @property
    def restarted(self) -> list[str]:
        return [name for step in self.steps if step.ok for name in step.names]

    @property
    def started(self) -> StartReport:
        """Every step's start, as one report (the instances in the order they were started)."""
        reports = [step.started for step in self.steps if step.started is not None]
        urls = [report.database_url for report in reports if report.database_url is not None]
        instances = [instance for report in reports for instance in report.instances]
        return StartReport(instances, urls[-1] if urls else None)


def restart_targets(config: ClusterConfig, names: Sequence[str]) -> list[Instance]:
    """The instances to restart: the named instances and services (default: all), each configured one as the
    topology gives it and each running extra one as its service now would (`extra_instance`). A stopped extra one
    is left out of a service or of the default, and named alone it is an error: nothing runs to restart.
    UnknownInstance for a name `observe()` does not know."""
    state = observe(config.project, config)
    chosen = state.select(names) if names else state.instances
    for instance in chosen:
        if instance.configured is None and not instance.alive and instance.name in names:
            raise ClusterError(
                f"{instance.name} is not running and the topology no longer has it: there is nothing to restart",
                f"`cluster stop {instance.name}` removes its PID file; `cluster start-all` with a larger count starts "
                "it again",
            )
    return [
        instance.configured or extra_instance(config, instance)
        for instance in chosen
        if instance.configured is not None or instance.alive
    ]


def extra_instance(config: ClusterConfig, state: InstanceState) -> Instance:
    """A running instance beyond its service's count, as its service now defines it (command, env, probe), on the
    port its record says it runs on. ClusterError when its service is gone: the record keeps its command but not the
    environment the service gave it, so it could not be started as it was."""
    from tasker_cluster.config.placement import service_instance

    service = next((service for service in config.services if service.name == state.service), None)
    index = state.name.removeprefix(f"{state.service}-")
    if service is None or not index.isdigit() or state.record is None:
        raise ClusterError(
            f"{state.name} runs, but the topology no longer has its service {state.service or '(unknown)'}: its PID "
            "record keeps its command, not the environment its service gave it, so it cannot be started again as it "
            "was",
            f"`cluster stop {state.name}` stops it; to restart it instead, put [services.{state.service}] back in "
            f"{config.config_file}",
        )
    return service_instance(service, int(index), config.project, port=state.record.port)


def rolling_order(instances: Sequence[Instance]) -> list[Instance]:
    """Orchestration instances first, then each worker type, each in the configuration's order."""
    return sorted(instances, key=lambda instance: ROLES.index(instance.role))


def restart_instances(
    config: ClusterConfig,
    instances: Sequence[Instance],
    *,
    rolling: bool = False,
    timeout: float | None = None,
    grace: float | None = None,
    on_stopping: Callable[[Sequence[str]], None] = lambda names: None,
    on_stopped: Callable[[InstanceStop], None] = lambda result: None,
    on_event: Callable[[StartEvent], None] = lambda event: None,
    spawner: Spawner = spawn,
    prober: Prober = NETWORK,
    clock: Clock = SYSTEM_CLOCK,
    stopper: Callable[..., list[GroupStop]] = stop_groups,
) -> RestartReport:
    """Stop `instances` (`grace`: seconds before SIGKILL, default each service's stop_grace), then start them and
    wait until they are ready (`timeout`: seconds, default each service's startup_timeout); with `rolling`, one at
    a time in `rolling_order`, ending at the first failure.

    Instances that were not running are started. `on_stopping` is called once the named instances have their
    SIGTERM, `on_stopped` once per stop outcome, `on_event` with each start event.
    """
    batches = [[instance] for instance in rolling_order(instances)] if rolling else [list(instances)]
    steps: list[RestartStep] = []
    for position, batch in enumerate(batches):
        names = [instance.name for instance in batch]
        stopped = stop_instances(
            config.project,
            config,
            names,
            timeout=grace,
            meanwhile=partial(on_stopping, names),
            stopper=stopper,
        )
        for result in stopped:
            on_stopped(result)
        step = RestartStep(names, stopped, None)
        if not step.stop_failed:
            started = start_instances(
                config, batch, timeout=timeout, on_event=on_event, spawner=spawner, prober=prober, clock=clock
            )
            step = step._replace(started=started)
        steps.append(step)
        if not step.ok:
            rest = [instance.name for later in batches[position + 1 :] for instance in later]
            return RestartReport(steps, rest, rolling)
    return RestartReport(steps, [], rolling)
