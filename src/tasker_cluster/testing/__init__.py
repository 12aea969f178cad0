"""The cluster test harness, importable by any test suite: configuration, clients, the test manager.

Import what you need from here; the pytest plugin (`tasker_cluster.testing.plugin`) builds on the same pieces.
"""

from tasker_cluster.testing.balancing import FirstHealthy, LoadBalancingStrategy, Random, RoundRobin, Sticky
from tasker_cluster.testing.blocking import BlockingManager
from tasker_cluster.testing.client import OrchestrationClient, Probe, ServiceClient
from tasker_cluster.testing.cluster import OrchestrationCluster
from tasker_cluster.testing.config import ClusterConfig
from tasker_cluster.testing.consistency import CREATION_FIELDS, FieldDifference, compare_tasks
from tasker_cluster.testing.errors import (
    ClusterNotHealthyError,
    HarnessError,
    InconsistentTaskError,
    TaskApiError,
    TaskTimeoutError,
)
from tasker_cluster.testing.manager import MultiInstanceTestManager, ServedRequest
from tasker_cluster.testing.models import TERMINAL_TASK_STATES, CreatedTask, Step, Task, TaskRequest
from tasker_cluster.testing.retry import RetryPolicy

__all__ = [
    "CREATION_FIELDS",
    "TERMINAL_TASK_STATES",
    "BlockingManager",
    "ClusterConfig",
    "ClusterNotHealthyError",
    "CreatedTask",
    "FieldDifference",
    "FirstHealthy",
    "HarnessError",
    "InconsistentTaskError",
    "LoadBalancingStrategy",
    "MultiInstanceTestManager",
    "OrchestrationClient",
    "OrchestrationCluster",
    "Probe",
    "Random",
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
