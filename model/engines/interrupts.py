"""Ctrl-C that always stops a long command (`handover triage`), promptly, with exit status 130.

Python turns SIGINT into a KeyboardInterrupt raised wherever the main thread happens to be. If
that is inside a garbage-collector callback (Hypothesis registers one to time collections), or a
`__del__`, the exception is printed as "Exception ignored in ..." and dropped, and the run goes
on. `Guard` makes the interrupt sticky: its SIGINT handler records the request and raises; while
the request stands and the guarded block has not ended, a timer raises KeyboardInterrupt again
every `REPEAT` seconds, so a swallowed one is raised again at the next opportunity; `check()`
raises it between units of work; and if the process is still running `HARD_STOP` seconds after
the request, it exits with status 130 at once (`os._exit`), the last resort.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time

REPEAT = 0.25
"""Seconds between re-raises of a recorded interrupt."""

HARD_STOP = 10.0
"""Seconds after Ctrl-C after which the process exits with 130 whatever it is doing."""


class Guard:
    """`with Guard() as g: ... g.check() ...`: Ctrl-C inside the block raises KeyboardInterrupt,
    again and again until the block is left. Outside the main thread, or where there are no
    interval timers (Windows), it does nothing and Python's own Ctrl-C handling applies."""

    def __init__(self, message: str = "handover: interrupted") -> None:
        self.message = message
        self.requested_at: float | None = None
        self.active = False
        self._old: dict = {}

    @property
    def requested(self) -> bool:
        return self.requested_at is not None

    def _on_sigint(self, signum, frame):
        if self.requested_at is None:
            self.requested_at = time.monotonic()
            signal.setitimer(signal.ITIMER_REAL, REPEAT, REPEAT)
        raise KeyboardInterrupt

    def _on_alarm(self, signum, frame):
        if not self.active or self.requested_at is None:
            return
        if time.monotonic() - self.requested_at > HARD_STOP:
            sys.stderr.write(self.message + " (forced)\n")
            sys.stderr.flush()
            os._exit(130)
        raise KeyboardInterrupt

    def check(self) -> None:
        """Between units of work: raise if Ctrl-C was pressed (and its exception swallowed)."""
        if self.requested_at is not None:
            raise KeyboardInterrupt

    def __enter__(self) -> "Guard":
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            self._old = {signal.SIGINT: signal.signal(signal.SIGINT, self._on_sigint),
                         signal.SIGALRM: signal.signal(signal.SIGALRM, self._on_alarm)}
            self.active = True
        return self

    def __exit__(self, *exc) -> None:
        if self.active:
            self.active = False
            signal.setitimer(signal.ITIMER_REAL, 0, 0)
            for sig, old in self._old.items():
                signal.signal(sig, old)
