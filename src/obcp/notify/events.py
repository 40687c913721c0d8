"""What a channel can be told of, how a subscription filters it, and the JSON body of each event."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from obcp.engine import SettledTask, TaskState
from obcp.timefmt import iso_ms


class Event(StrEnum):
    TASK_FAILED = "TASK_FAILED"
    TASK_SUCCESSFUL = "TASK_SUCCESSFUL"
    PARAMETER_PENDING_RESTART = "PARAMETER_PENDING_RESTART"


TASK_EVENTS = {TaskState.FAILED.value: Event.TASK_FAILED, TaskState.SUCCESSFUL.value: Event.TASK_SUCCESSFUL}


@dataclass(frozen=True)
class Subscription:
    """One event of a channel; a filter left empty lets every task name or cluster through."""

    event: Event
    task_names: tuple[str, ...] = ()
    cluster_ids: tuple[int, ...] = ()

    def matches(self, event: Event, task_name: str | None, cluster_id: int | None) -> bool:
        if event is not self.event:
            return False
        if self.task_names and task_name not in self.task_names:
            return False
        return not self.cluster_ids or cluster_id in self.cluster_ids

    def as_json(self) -> dict[str, Any]:
        return {
            "event": self.event.value,
            "taskNames": list(self.task_names),
            "clusterIds": list(self.cluster_ids),
        }


def subscriptions_from_text(text: str) -> list[Subscription]:
    return [
        Subscription(Event(s["event"]), tuple(s.get("taskNames") or ()), tuple(s.get("clusterIds") or ()))
        for s in json.loads(text)
    ]


def subscriptions_to_text(subscriptions: list[Subscription]) -> str:
    return json.dumps([s.as_json() for s in subscriptions])


def task_payload(
    event: Event, task: SettledTask, cluster_name: str | None, delivery_id: str, now: int
) -> dict[str, Any]:
    cluster = None if task.cluster_id is None else {"id": task.cluster_id, "name": cluster_name}
    return {
        "deliveryId": delivery_id,
        "event": event.value,
        "occurredAt": iso_ms(now),
        "traceId": task.trace_id,
        "task": {
            "id": task.id,
            "name": task.name,
            "status": task.state,
            "operation": task.operation,
            "creator": task.creator,
            "clusterId": task.cluster_id,
            "traceId": task.trace_id,
            "createTime": iso_ms(task.created_at),
            "finishTime": iso_ms(task.end_time),
        },
        "cluster": cluster,
    }


@dataclass(frozen=True)
class PendingParameter:
    name: str
    old_value: str | None
    new_value: str
    server_ids: tuple[int, ...]


def parameter_payload(
    cluster_id: int,
    cluster_name: str | None,
    parameters: list[PendingParameter],
    *,
    changed_by: str,
    trace_id: str | None,
    delivery_id: str,
    now: int,
) -> dict[str, Any]:
    return {
        "deliveryId": delivery_id,
        "event": Event.PARAMETER_PENDING_RESTART.value,
        "occurredAt": iso_ms(now),
        "traceId": trace_id,
        "cluster": {"id": cluster_id, "name": cluster_name},
        "changedBy": changed_by,
        "parameters": [
            {
                "name": p.name,
                "oldValue": p.old_value,
                "newValue": p.new_value,
                "pendingServerIds": list(p.server_ids),
            }
            for p in parameters
        ],
    }
