"""A worker instance: one step consumer per namespace it serves, sharing a limit on steps run at once."""

from __future__ import annotations

from tasker_cluster.services.common.consumer import QueueConsumer
from tasker_cluster.services.common.queues import RESULTS_QUEUE, step_queue
from tasker_cluster.services.common.service import Service
from tasker_cluster.services.common.settings import ServiceSettings
from tasker_cluster.services.worker.steps import Slots, StepConsumer
from tasker_cluster.services.workflow.examples import EXAMPLE_HANDLERS
from tasker_cluster.services.workflow.handlers import HandlerRegistry


class WorkerService(Service):
    role = "worker"

    def __init__(self, settings: ServiceSettings, handlers: HandlerRegistry = EXAMPLE_HANDLERS) -> None:
        self.handlers = handlers
        super().__init__(settings)

    def consumed_queues(self) -> list[str]:
        return [step_queue(namespace) for namespace in self.settings.namespaces]

    def created_queues(self) -> list[str]:
        return [*self.consumed_queues(), RESULTS_QUEUE]

    def make_consumers(self) -> list[QueueConsumer]:
        slots = Slots(self.settings.concurrency)
        return [
            StepConsumer(
                instance=self.settings.name,
                queue=queue,
                pool=self.pool,
                wakeup=self.listener.wakeup_for(queue),
                handlers=self.handlers,
                slots=slots,
                poll_interval=self.settings.poll_interval,
                batch_window=self.settings.batch_window,
                waker=self.waker,
                visibility_timeout=self.settings.visibility_timeout,
                availability=self.availability,
            )
            for queue in self.consumed_queues()
        ]
