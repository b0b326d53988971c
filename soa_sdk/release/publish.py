"""Publish every weight change and decision of a release in the runtime's own AWS account.

Two channels, as a platform team would wire them:

- CloudWatch metrics (``PutMetricData``), namespace ``SoaLab/Release``, dimensions
  ``Runtime``, ``Service``, ``Version``: ``CanaryWeight`` (percent of traffic on the version),
  ``Decision`` (one per analysis window, with the extra dimension ``Verdict``: continue, hold,
  rollback, promote) and ``CanaryErrorRate``. Dashboards and alarms read them.
- EventBridge events (``PutEvents`` on the ``default`` bus), source ``soa-lab.release``,
  detail types ``Canary weight changed`` and ``Canary decision``; the detail carries the
  config entry's ``ModifyIndex``, the time and the evidence. Other teams subscribe with their
  own rules (chat notifications, deployment tracking).
- The same events as JSON lines in CloudWatch Logs (``PutLogEvents``), group
  ``/soa-lab/releases``, one stream per release: the audit trail, readable and queryable with
  Logs Insights. (An EventBridge rule targeting the group would do the same with one call
  fewer, but moto delivers each such event in about 0.4 s, too slow for the lab; on AWS it
  also needs a resource policy on the group.)

Publishing never slows the release: a worker thread sends in batches, in order;
:meth:`Publisher.flush` waits for it and raises the first failure.
"""

from __future__ import annotations

import json
import queue
import threading
from datetime import UTC, datetime
from typing import Any

from soa_sdk.awsclient import translate_client_error

NAMESPACE = "SoaLab/Release"
EVENT_SOURCE = "soa-lab.release"
LOG_GROUP = "/soa-lab/releases"
VERDICT_VALUES = {"continue": 0, "hold": 1, "rollback": 2, "promote": 3}


class Publisher:
    """Metrics and events of one service's releases, through a session in its account."""

    def __init__(self, session: Any, region: str, runtime: str, service: str) -> None:
        self.cloudwatch = session.client("cloudwatch", region_name=region)
        self.events = session.client("events", region_name=region)
        self.logs = session.client("logs", region_name=region)
        self.region = region
        self.runtime = runtime
        self.service = service
        self.stream = ""
        self._queue: queue.Queue[tuple[list[dict[str, Any]], str, datetime, dict] | None] = (
            queue.Queue()
        )
        self._errors: list[Exception] = []
        self._worker: threading.Thread | None = None
        self.published = 0

    def ensure(self) -> None:
        """The audit log group and this release's stream in it (idempotent)."""
        try:
            groups = self.logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]
            if not any(g["logGroupName"] == LOG_GROUP for g in groups):
                self.logs.create_log_group(logGroupName=LOG_GROUP)
                self.logs.put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=400)
            self.stream = f"{self.service}/{datetime.now(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}"
            self.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=self.stream)
        except Exception as error:
            raise translate_client_error(error, "set up the release audit log") from None

    def _dimensions(self, version: str, **extra: str) -> list[dict[str, str]]:
        dims = {"Runtime": self.runtime, "Service": self.service, "Version": version, **extra}
        return [{"Name": k, "Value": v} for k, v in dims.items()]

    def weight(self, when: float, weights: dict[str, float], detail: dict[str, Any]) -> None:
        """A weight change: one CanaryWeight datum per version, and one event."""
        stamp = datetime.fromtimestamp(when, UTC)
        data = [
            {
                "MetricName": "CanaryWeight",
                "Dimensions": self._dimensions(version),
                "Timestamp": stamp,
                "Value": float(weight),
                "Unit": "Percent",
            }
            for version, weight in weights.items()
        ]
        self._put(data, "Canary weight changed", stamp, detail)

    def decision(
        self,
        when: float,
        version: str,
        verdict: str,
        error_rate: float | None,
        detail: dict[str, Any],
    ) -> None:
        """A decision: a Decision datum (dimension Verdict), the canary's error rate, an event."""
        stamp = datetime.fromtimestamp(when, UTC)
        data: list[dict[str, Any]] = [
            {
                "MetricName": "Decision",
                "Dimensions": self._dimensions(version, Verdict=verdict),
                "Timestamp": stamp,
                "Value": float(VERDICT_VALUES[verdict]),
                "Unit": "None",
            }
        ]
        if error_rate is not None:
            data.append(
                {
                    "MetricName": "CanaryErrorRate",
                    "Dimensions": self._dimensions(version),
                    "Timestamp": stamp,
                    "Value": 100.0 * error_rate,
                    "Unit": "Percent",
                }
            )
        self._put(data, "Canary decision", stamp, detail)

    def _put(
        self, data: list[dict[str, Any]], detail_type: str, stamp: datetime, detail: dict
    ) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._drain, name="release-publish", daemon=True)
            self._worker.start()
        self._queue.put((data, detail_type, stamp, detail))

    def flush(self) -> int:
        """Wait until everything queued is published; raise the first failure, if any."""
        if self._worker is not None and self._worker.is_alive():
            self._queue.put(None)
            self._worker.join()
        self._worker = None
        if self._errors:
            error, self._errors = self._errors[0], []
            raise error
        return self.published

    def _drain(self) -> None:
        # Batches: PutEvents takes up to 10 entries, PutMetricData up to 1000 data points.
        done = False
        while not done:
            batch = [self._queue.get()]
            while len(batch) < 10:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if None in batch:
                done = True
                batch = [item for item in batch if item is not None]
            if not batch:
                continue
            try:
                self._send(batch)  # type: ignore[arg-type]
                self.published += len(batch)
            except Exception as error:
                self._errors.append(error)

    def _send(self, batch: list[tuple[list[dict[str, Any]], str, datetime, dict]]) -> None:
        entries = [
            {
                "Time": stamp,
                "Source": EVENT_SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(
                    {"runtime": self.runtime, "service": self.service, **detail}, default=str
                ),
                "EventBusName": "default",
            }
            for _, detail_type, stamp, detail in batch
        ]
        detail_type = ", ".join(sorted({e["DetailType"] for e in entries}))
        try:
            self.cloudwatch.put_metric_data(
                Namespace=NAMESPACE, MetricData=[d for data, *_ in batch for d in data]
            )
            reply = self.events.put_events(Entries=entries)
            if self.stream:
                lines = [
                    {
                        "timestamp": int(e["Time"].timestamp() * 1000),
                        "message": json.dumps(
                            {"detail-type": e["DetailType"], "detail": json.loads(e["Detail"])}
                        ),
                    }
                    for e in entries
                ]
                # PutLogEvents wants a batch in time order.
                lines.sort(key=lambda line: line["timestamp"])
                self.logs.put_log_events(
                    logGroupName=LOG_GROUP, logStreamName=self.stream, logEvents=lines
                )
        except Exception as error:
            raise translate_client_error(error, f"publish '{detail_type}'") from None
        if reply.get("FailedEntryCount"):
            raise translate_client_error(
                RuntimeError(str(reply.get("Entries"))), f"publish '{detail_type}'"
            )
