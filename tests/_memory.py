"""Measuring this process's memory while a block runs (Linux: samples /proc/self/statm)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

import pytest

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

needs_proc = pytest.mark.skipif(
    not Path("/proc/self/statm").exists(), reason="samples RSS from /proc (Linux)"
)


class RssSampler:
    """The peak growth of this process's resident set size while the block runs."""

    def __init__(self, interval: float = 0.002) -> None:
        self.baseline = self.peak = self._rss()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._rss())

    @property
    def growth(self) -> int:
        """Bytes of RSS growth at the highest sample."""
        return self.peak - self.baseline

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())
