"""Run ``credit-risk`` and make it die, for real, at one step of a load.

    python -m tests.integration.crash_load STEP TARGET SERVER_PID -- credit-risk arguments...

STEP is "write rows" (while the rows are written) or a step of ``LoadTransaction``
("prepare transactions", "prepare main", "commit main", "commit transactions"). TARGET
``client``: the process kills itself with SIGKILL just before the step (what the server sees
when a worker is OOM-killed: connections drop, no rollback is sent). TARGET ``server``: it
kills the (private) server by its PID just before the step and goes on, so the step meets a
dead server, as after a power cut of the database host.
"""

from __future__ import annotations

import os
import signal
import sys

from credit_risk.warehouse.load_transaction import LoadTransaction


def die_before(step: str, target: str, server_pid: int) -> None:
    victim = os.getpid() if target == "client" else server_pid
    if step == "write rows":  # while the rows are being written, before any commit step
        from credit_risk.warehouse import bulk, load

        bulk_load = bulk.bulk_load

        def write_or_die(cursor, table, *args, **kwargs):
            if table == "statements":
                os.kill(victim, signal.SIGKILL)
            return bulk_load(cursor, table, *args, **kwargs)

        bulk.bulk_load = load.bulk_load = write_or_die
        return
    verb, branch = step.split()
    original = getattr(LoadTransaction, f"_{verb}")

    def step_or_die(self, which):
        if which == branch:
            os.kill(victim, signal.SIGKILL)
        return original(self, which)

    setattr(LoadTransaction, f"_{verb}", step_or_die)


if __name__ == "__main__":
    step, target, server_pid, separator, *arguments = sys.argv[1:]
    assert separator == "--", "usage: STEP TARGET SERVER_PID -- arguments"
    die_before(step, target, int(server_pid))
    from credit_risk.cli import app

    app(arguments, prog_name="credit-risk")
