"""``lattice-curl``'s progress meter: one line on stderr for a long upload or download.

`_Progress` stays quiet until a transfer has moved 1 MiB, then redraws itself four
times a second with the bytes moved, the total and percentage when known, and the rate;
`_size` writes a byte count in B, KiB, MiB or GiB.
"""

from __future__ import annotations

import time
from typing import TextIO

# The progress meter appears once a transfer has moved this much (short ones stay quiet).
_PROGRESS_AFTER = 1024 * 1024
_PROGRESS_INTERVAL = 0.25


class _Progress:
    """A one-line meter on stderr, drawn once a transfer passes 1 MiB, redrawn 4 times a second."""

    def __init__(self, stream: TextIO, label: str, total: int | None) -> None:
        self._stream = stream
        self._label = label
        self._total = total
        self._done = 0
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._shown = False

    def add(self, count: int) -> None:
        self._done += count
        if self._done < _PROGRESS_AFTER:
            return
        now = time.monotonic()
        if now - self._drawn_at >= _PROGRESS_INTERVAL:
            self._draw(now)

    def finish(self) -> None:
        if self._shown:
            self._draw(time.monotonic())
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self, now: float) -> None:
        self._shown = True
        self._drawn_at = now
        rate = self._done / max(now - self._started, 1e-3)
        text = f"{self._label} {_size(self._done)}"
        if self._total:
            text += f" / {_size(self._total)} {100 * self._done // self._total:3d}%"
        self._stream.write(f"\r{text}  {_size(rate)}/s\x1b[K")
        self._stream.flush()


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
