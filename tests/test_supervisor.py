"""A refused credential ends ``lovelorn run``; an outage does not.

The children are tiny Python scripts instead of ``lovelorn poll``/``score``: one that
fails at once (like a poller whose Redis refuses its password) and one that runs until
it is told to stop.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

import pytest

from monitor.errors import StoreError, StoreUnavailable
from monitor.supervisor import Child, Supervisor

pytestmark = pytest.mark.unit  # the fast layer: no broker, Redis, Paddle or network

FAILS = "import sys; sys.exit(1)"
RUNS = "import time; time.sleep(60)"


@dataclass
class Script(Child):
    code: str = RUNS

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-c", self.code]


class Check:
    """Passes ``passes`` times, then raises ``error`` every time."""

    def __init__(self, error: Exception, passes: int = 0) -> None:
        self.error, self.passes, self.calls = error, passes, 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.calls > self.passes:
            raise self.error


REFUSED = StoreError("PING: Redis refused the credentials; check LOVELORN_REDIS__PASSWORD")


async def test_a_credential_refused_after_a_failure_ends_the_run_without_restarts() -> None:
    poller, scorer = Script("poller", [], code=FAILS), Script("scorer", [])
    check = Check(REFUSED, passes=1)  # fine at the start, refused once the poller failed
    supervisor = Supervisor([poller, scorer], check=check)
    stop = asyncio.Event()
    with pytest.raises(StoreError, match="refused the credentials"):
        await asyncio.wait_for(supervisor.run(stop), 30)
    assert stop.is_set() and check.calls == 2
    assert poller.restarts == 0
    assert scorer.process is None  # stopped, its life folded into the totals


async def test_a_credential_refused_at_the_start_starts_nothing() -> None:
    child = Script("poller", [])
    with pytest.raises(StoreError):
        await Supervisor([child], check=Check(REFUSED)).run(asyncio.Event())
    assert child.process is None and child.restarts == 0


async def _run_until_a_restart(supervisor: Supervisor, poller: Script) -> None:
    """Run until ``poller`` was restarted once (or 10 s), then stop on request: no error."""
    stop = asyncio.Event()
    running = asyncio.create_task(supervisor.run(stop))
    for _ in range(200):
        if poller.restarts >= 1:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(running, 30)


async def test_an_outage_is_not_a_refusal_the_child_is_restarted() -> None:
    poller = Script("poller", [], code=FAILS)
    check = Check(StoreUnavailable("PING: Redis unavailable (connection refused)"))
    await _run_until_a_restart(Supervisor([poller], check=check), poller)
    assert poller.restarts >= 1 and check.calls >= 2


async def test_a_check_that_breaks_is_no_verdict() -> None:
    async def broken() -> None:
        raise RuntimeError("the probe itself failed")

    poller = Script("poller", [], code=FAILS)
    await _run_until_a_restart(Supervisor([poller], check=broken), poller)
    assert poller.restarts >= 1
