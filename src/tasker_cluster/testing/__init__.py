"""The cluster test harness, importable by any test suite: configuration, clients, the test manager.

Import what you need from here. Names load on first use (PEP 562): the pytest plugin lives in this package and is
imported by every pytest run, which should not pay for httpx and pydantic unless a test uses the harness.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasker_cluster.testing.balancing import FirstHealthy, LoadBalancingStrategy, Random, RoundRobin, Sticky
    from tasker_cluster.testing.blocking import BlockingManager
    from tasker_cluster.testing.client import OrchestrationClient, Probe, ServiceClient
    from tasker_cluster.testing.cluster import OrchestrationCluster
    from tasker_cluster.testing.config import ClusterConfig
    from tasker_cluster.testing.consistency import CREATION_FIELDS, FieldDifference, compare_tasks
    from tasker_cluster.testing.errors import (
        ClusterNotHealthyError,
        HarnessError,
        IdempotencyKeyReusedError,
        InconsistentTaskError,
        TaskApiError,
        TaskTimeoutError,
    )
    from tasker_cluster.testing.faults import FaultDriver
    from tasker_cluster.testing.local_faults import LocalFaults
    from tasker_cluster.testing.manager import MultiInstanceTestManager, ServedRequest
    from tasker_cluster.testing.models import TERMINAL_TASK_STATES, CreatedTask, Step, Task, TaskRequest
    from tasker_cluster.testing.retry import RetriedRequest, RetryLog, RetryPolicy

_EXPORTS: dict[str, str] = {
    "BlockingManager": "blocking",
    "CREATION_FIELDS": "consistency",
    "ClusterConfig": "config",
    "ClusterNotHealthyError": "errors",
    "CreatedTask": "models",
    "FaultDriver": "faults",
    "FieldDifference": "consistency",
    "FirstHealthy": "balancing",
    "HarnessError": "errors",
    "IdempotencyKeyReusedError": "errors",
    "InconsistentTaskError": "errors",
    "LoadBalancingStrategy": "balancing",
    "LocalFaults": "local_faults",
    "MultiInstanceTestManager": "manager",
    "OrchestrationClient": "client",
    "OrchestrationCluster": "cluster",
    "Probe": "client",
    "Random": "balancing",
    "RetriedRequest": "retry",
    "RetryLog": "retry",
    "RetryPolicy": "retry",
    "RoundRobin": "balancing",
    "ServedRequest": "manager",
    "ServiceClient": "client",
    "Step": "models",
    "Sticky": "balancing",
    "TERMINAL_TASK_STATES": "models",
    "Task": "models",
    "TaskApiError": "errors",
    "TaskRequest": "models",
    "TaskTimeoutError": "errors",
    "compare_tasks": "consistency",
}

__all__ = [
    "CREATION_FIELDS",
    "TERMINAL_TASK_STATES",
    "BlockingManager",
    "ClusterConfig",
    "ClusterNotHealthyError",
    "CreatedTask",
    "FaultDriver",
    "FieldDifference",
    "FirstHealthy",
    "HarnessError",
    "IdempotencyKeyReusedError",
    "InconsistentTaskError",
    "LoadBalancingStrategy",
    "LocalFaults",
    "MultiInstanceTestManager",
    "OrchestrationClient",
    "OrchestrationCluster",
    "Probe",
    "Random",
    "RetriedRequest",
    "RetryLog",
    "RetryPolicy",
    "RoundRobin",
    "ServedRequest",
    "ServiceClient",
    "Step",
    "Sticky",
    "Task",
    "TaskApiError",
    "TaskRequest",
    "TaskTimeoutError",
    "compare_tasks",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
