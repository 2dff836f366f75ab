"""How a run's items are numbered into chunks: the one rule every planner follows (the start's
own small runs, the planner's batches in Python and in SQL), so that the same scope gets the
same chunks whichever path plans it.

A chunk is what a worker process takes at a time, so the last chunk taken decides how the run
ends: it runs on one process while the others have nothing left. At 500 people a chunk and
200 ms a call that was ~1.5 s on one process's 128 threads, half the workers' capacity idle
(docs/benchmarks.md, "The run's start and end"). So a run of many chunks ends in smaller ones: the
last chunk's worth of items in quarters, the one before it in halves. Every other chunk is
whole, and a run of a few chunks keeps whole chunks only: smaller ones would cost a claim, a
lease and a write each for no gain at its end, as its chunks are all in hand at once.
"""

from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate

# The run's last levels, first to last: each is one chunk's worth of items in this many chunks.
TAIL_SPLITS = (2, 4)
# A run of fewer chunks' worth of items than this keeps whole chunks only.
TAPER_FROM_CHUNKS = 8


@dataclass(frozen=True)
class ChunkLayout:
    """The chunks of a run planned for `total` items, `size` a chunk: `full` whole chunks, then
    the `tail` chunks' sizes, up to `total`. Positions (0-based, in the scope's stable order)
    past `total` (the list grew after the start counted it) go on in whole chunks."""

    total: int
    size: int
    full: int
    tail: tuple[int, ...]

    @property
    def chunk_count(self) -> int:
        """The chunks that hold `total` items."""
        return self.full + len(self.tail)

    def chunk_no(self, position: int) -> int:
        """The chunk of the item at `position`."""
        tail_from = self.full * self.size
        if position < tail_from:
            return position // self.size
        if position < self.total:
            return self.full + bisect_right(self._tail_starts, position - tail_from) - 1
        return self.chunk_count + (position - self.total) // self.size

    def start(self, chunk_no: int) -> int:
        """The position of the chunk's first item."""
        if chunk_no <= self.full:
            return chunk_no * self.size
        if chunk_no < self.chunk_count:
            return self.full * self.size + self._tail_starts[chunk_no - self.full]
        return self.total + (chunk_no - self.chunk_count) * self.size

    def chunks_holding(self, items: int) -> int:
        """How many chunks the first `items` positions fill (the last one perhaps in part)."""
        return self.chunk_no(items - 1) + 1 if items > 0 else 0

    @cached_property
    def _tail_starts(self) -> tuple[int, ...]:
        return (0, *accumulate(self.tail))


def chunk_layout(*, total: int, size: int) -> ChunkLayout:
    """The layout of a run of `total` items in chunks of `size` (SLUICE_CHUNK_SIZE)."""
    if total < TAPER_FROM_CHUNKS * size:
        full, rest = divmod(total, size)
        return ChunkLayout(total=total, size=size, full=full, tail=(rest,) if rest else ())
    # Whole chunks up to the tail's levels; the level before them takes the odd items.
    full = total // size - len(TAIL_SPLITS)
    levels = [size] * len(TAIL_SPLITS)
    levels[0] += total - (full + len(TAIL_SPLITS)) * size
    tail = tuple(
        part
        for items, parts in zip(levels, TAIL_SPLITS, strict=True)
        for part in _split(items, parts)
    )
    return ChunkLayout(total=total, size=size, full=full, tail=tail)


def _split(items: int, parts: int) -> list[int]:
    """`items` in `parts` chunks as even as can be (larger first), none empty."""
    parts = min(parts, items)
    share, extra = divmod(items, parts)
    return [share + (i < extra) for i in range(parts)]
