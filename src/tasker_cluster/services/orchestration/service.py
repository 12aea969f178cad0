"""An orchestration instance: the task API plus result consumers, over the templates loaded at start-up."""

from __future__ import annotations

from tasker_cluster.services.common.consumer import QueueConsumer
from tasker_cluster.services.common.endpoints import Endpoint
from tasker_cluster.services.common.queues import RESULTS_QUEUE, step_queue
from tasker_cluster.services.common.service import Service
from tasker_cluster.services.common.settings import ServiceSettings
from tasker_cluster.services.orchestration.api import task_endpoints
from tasker_cluster.services.orchestration.results import ResultConsumer
from tasker_cluster.services.orchestration.store import TaskStore
from tasker_cluster.services.workflow.examples import EXAMPLE_HANDLERS
from tasker_cluster.services.workflow.handlers import HandlerRegistry
from tasker_cluster.services.workflow.templates import load_templates


class OrchestrationService(Service):
    role = "orchestration"

    def __init__(self, settings: ServiceSettings, handlers: HandlerRegistry = EXAMPLE_HANDLERS) -> None:
        assert settings.templates_dir is not None
        # Before any connection exists: a bad template stops the instance without touching the database.
        self.catalog = load_templates(settings.templates_dir, handlers.names())
        super().__init__(settings)
        self.store = TaskStore(self.pool, settings.name, self.waker)

    def consumed_queues(self) -> list[str]:
        return [RESULTS_QUEUE]

    def created_queues(self) -> list[str]:
        return [RESULTS_QUEUE, *(step_queue(namespace) for namespace in self.catalog.namespaces)]

    def make_consumers(self) -> list[QueueConsumer]:
        return [
            ResultConsumer(
                index=index,
                instance=self.settings.name,
                pool=self.pool,
                wakeup=self.listener.wakeup_for(RESULTS_QUEUE),
                batch_size=self.settings.batch_size,
                poll_interval=self.settings.poll_interval,
                batch_window=self.settings.batch_window,
                waker=self.waker,
                visibility_timeout=self.settings.visibility_timeout,
            )
            for index in range(1, self.settings.consumers + 1)
        ]

    def endpoints(self) -> list[Endpoint]:
        return task_endpoints(self.store, self.catalog)
