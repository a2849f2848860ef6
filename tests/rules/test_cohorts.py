"""What every generator's cohort must be, whoever wrote it: valid input to the backtest, and replayed
with every alert change inside the lifecycle contract (``lifecycle_contract``), so the histories the
engine is judged on keep the contract as the property test's random ones do. Each generator's own
features are tested in its own file (``test_cohort_<name>.py``)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from tests.rules.bench_modules import (
    assert_every_change_keeps_the_lifecycle,
    assert_the_backtest_accepts,
    load_bench,
)

# Each generator and its function of (seed, graduate's index, days) -> (history, truth).
GENERATORS = {
    "cohort.py": "graduate",
    "cohort_alt.py": "graduate",
    "cohort_ema.py": "graduate",
    "cohort_blind.py": "make_graduate",
    "cohort_blind2.py": "make_graduate",
}


@pytest.fixture(scope="module", params=sorted(GENERATORS))
def histories(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """300 graduates x 120 days of the generator, through JSON as the bench reads them."""
    make = getattr(load_bench(request.param), GENERATORS[request.param])
    return [msgspec.json.decode(msgspec.json.encode(make(5, index, 120)[0])) for index in range(300)]


def test_the_backtest_accepts_every_line(histories: list[dict[str, Any]]) -> None:
    assert_the_backtest_accepts(histories)


@pytest.mark.parametrize("resolve_after_days", [1, 3])
def test_every_alert_change_keeps_the_lifecycle(
    histories: list[dict[str, Any]], resolve_after_days: int
) -> None:
    assert_every_change_keeps_the_lifecycle(histories, resolve_after_days=resolve_after_days)
