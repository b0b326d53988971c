"""An alarm on a service's error rate, and its state.

Real API: CloudWatch ``PutMetricAlarm`` with metric math (``Metrics``: ``errors`` and
``requests`` as ``Sum`` of the service-wide series, and ``100 * errors / requests`` as the
value compared with the threshold), ``DescribeAlarms`` and ``SetAlarmState``.

Real CloudWatch evaluates alarms itself, every period. The sandbox's CloudWatch (moto) stores
alarms but never evaluates them (a new alarm stays ``OK`` forever) and cannot compute metric
math beyond naming one query. So in the sandbox :func:`state` evaluates the alarm the way
CloudWatch documents it: the last ``EvaluationPeriods`` periods of the alarm's own queries,
read with ``GetMetricData`` over the sliding evaluation window that ends now (the
default ``EvaluationWindow``); the expression computed per period; ``DatapointsToAlarm``
breaching periods out of them make ``ALARM``; missing periods follow ``TreatMissingData``.
It then records the result with ``SetAlarmState``, giving the data in the reason. Against
AWS :func:`state` only reads what CloudWatch decided.
"""

from __future__ import annotations

import ast
import json
import math
import operator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from soa_sdk import validate
from soa_sdk.errors import ValidationError
from soa_sdk.observe.metrics import NAMESPACE

COMPARISONS = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
ALARM_PERIODS = (10, 30)  # high-resolution alarms; otherwise multiples of 60


def alarm_name(runtime: str, service: str) -> str:
    return f"soa-lab-{runtime}-{service}-error-rate"


def definition(
    runtime: str,
    service: str,
    threshold_percent: float,
    period: int,
    evaluation_periods: int,
    datapoints_to_alarm: int,
) -> dict[str, Any]:
    """The ``PutMetricAlarm`` parameters (checked before any call)."""
    validate.number(threshold_percent, "threshold_percent", high=100, above=0)
    validate.whole(period, "period", 1, unit=" seconds")
    validate.whole(evaluation_periods, "evaluation_periods", 1)
    validate.whole(datapoints_to_alarm, "datapoints_to_alarm", 1)
    if period not in ALARM_PERIODS and (period < 60 or period % 60):
        raise ValidationError(
            f"An alarm period is 10 or 30 seconds or a multiple of 60, not {period}."
        )
    if not 1 <= datapoints_to_alarm <= evaluation_periods:
        raise ValidationError(
            "datapoints_to_alarm must be between 1 and evaluation_periods "
            f"({datapoints_to_alarm} of {evaluation_periods})."
        )

    def stat(metric: str) -> dict[str, Any]:
        return {
            "Id": metric.lower(),
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": [{"Name": "Service", "Value": service}],
                },
                "Period": period,
                "Stat": "Sum",
            },
            "ReturnData": False,
        }

    return {
        "AlarmName": alarm_name(runtime, service),
        "AlarmDescription": f"More than {threshold_percent}% of requests to {service} fail (5xx)",
        "Metrics": [
            stat("Errors"),
            stat("Requests"),
            {
                "Id": "error_rate",
                "Expression": "100 * errors / requests",
                "Label": "Error rate (%)",
                "ReturnData": True,
            },
        ],
        "Threshold": float(threshold_percent),
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": evaluation_periods,
        "DatapointsToAlarm": datapoints_to_alarm,
        "TreatMissingData": "notBreaching",
        "Tags": [{"Key": "soa-lab:runtime", "Value": runtime}],
    }


@dataclass
class AlarmStatus:
    """An alarm's state, who decided it, and the values it was decided on."""

    name: str
    state: str
    reason: str
    evaluated_by: str
    datapoints: list[tuple[datetime, float]] = field(default_factory=list)


def describe(cloudwatch: Any, name: str) -> dict[str, Any] | None:
    alarms = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarms[0] if alarms else None


def evaluate(cloudwatch: Any, alarm: dict[str, Any], now: datetime | None = None) -> AlarmStatus:
    """Evaluate a metric-math alarm from its data, as CloudWatch would, and record the state."""
    queries = [q for q in alarm["Metrics"] if "MetricStat" in q]
    expression = next(q for q in alarm["Metrics"] if q.get("ReturnData", True))
    period = int(queries[0]["MetricStat"]["Period"])
    periods = int(alarm["EvaluationPeriods"])
    needed = int(alarm.get("DatapointsToAlarm") or periods)
    now = now or datetime.now(UTC)
    # CloudWatch's default evaluation window slides: the last N periods up to now.
    end = datetime.fromtimestamp(int(now.timestamp()) + 1, UTC)
    start = end - timedelta(seconds=period * periods)
    reply = cloudwatch.get_metric_data(
        MetricDataQueries=[{**q, "ReturnData": True} for q in queries],
        StartTime=start,
        EndTime=end,
    )
    data: dict[str, dict[datetime, float]] = {
        r["Id"]: dict(zip(r["Timestamps"], r["Values"], strict=True))
        for r in reply["MetricDataResults"]
    }
    stamps = sorted({t for values in data.values() for t in values})
    points = []
    for stamp in stamps:
        value = compute(
            expression.get("Expression") or expression["Id"],
            {k: v.get(stamp) for k, v in data.items()},
        )
        if value is not None:
            points.append((stamp, value))
    compare = COMPARISONS[alarm["ComparisonOperator"]]
    threshold = float(alarm["Threshold"])
    breaching = sum(1 for _, v in points if compare(v, threshold))
    missing = periods - len(points)
    treat = alarm.get("TreatMissingData", "missing")
    if treat == "breaching":
        breaching += missing
    if breaching >= needed:
        state = "ALARM"
    elif not points and treat == "missing":
        state = "INSUFFICIENT_DATA"
    elif not points and treat == "ignore":
        state = alarm["StateValue"]  # "ignore": the current state is maintained
    else:
        state = "OK"
    shown = ", ".join(f"{v:.1f}" for _, v in points) or "none"
    reason = (
        f"Evaluated by soa-lab in the sandbox (moto does not evaluate alarms): {breaching} of "
        f"the last {periods} periods of {period} s breach the threshold {threshold:g} "
        f"({needed} needed); values: [{shown}]."
    )
    if state != alarm["StateValue"]:
        cloudwatch.set_alarm_state(
            AlarmName=alarm["AlarmName"],
            StateValue=state,
            StateReason=reason[:1023],
            StateReasonData=json.dumps(
                {
                    "version": "1.0",
                    "evaluatedDatapoints": [
                        {"timestamp": t.isoformat(), "value": v} for t, v in points
                    ],
                    "threshold": threshold,
                }
            ),
        )
    return AlarmStatus(alarm["AlarmName"], state, reason, "soa-lab (sandbox)", points)


_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def compute(expression: str, values: dict[str, float | None]) -> float | None:
    """Metric math's arithmetic (``+ - * /``, numbers, query ids) for one period; None when
    a query has no value there or a division by zero leaves no data point (as in CloudWatch)."""

    def walk(node: ast.AST) -> float | None:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in values:
                raise ValidationError(f"The alarm's expression names an unknown id '{node.id}'.")
            return values[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, right = walk(node.left), walk(node.right)
            if left is None or right is None:
                return None
            if isinstance(node.op, ast.Div) and right == 0:
                return None
            return _OPERATORS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = walk(node.operand)
            return None if inner is None else -inner
        raise ValidationError(
            f"The sandbox evaluates metric math with + - * / only, not {expression!r}."
        )

    result = walk(ast.parse(expression, mode="eval"))
    return None if result is None or math.isnan(result) else result
