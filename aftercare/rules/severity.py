"""An alert's severity and its order: the one word every part of the rules shares (the engine's hits,
the lifecycle's raises, an episode's last alert in the aggregates, the response targets and the
escalation ladder), so it lives below all of them."""

from __future__ import annotations

from typing import Literal

Severity = Literal["warning", "high", "critical"]
SEVERITY_RANK: dict[Severity, int] = {"warning": 1, "high": 2, "critical": 3}
