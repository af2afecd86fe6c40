"""The two bounded hand-overs of the live mode: audio thread -> consumer, and queue of work.

:class:`BlockRing` takes audio blocks from PortAudio's callback thread. The callback must
never wait (a blocked audio thread loses audio for every program on the device), so
:meth:`BlockRing.put` takes no lock: it appends to a :class:`collections.deque` (atomic
under the GIL) and keeps a frame count that only the producer writes, beside one that only
the consumer writes. When the blocks waiting would exceed ``capacity`` frames, the new block
is refused and counted (``overflows``, ``lost_frames``); the frame clock goes on, so the
consumer sees where audio is missing (:attr:`Block.first_frame` jumps) and times stay true.

:class:`DropOldestQueue` holds work between our own threads (utterances waiting for the
model, events waiting for the caller). It never grows past ``maxsize``: putting into a full
queue evicts the oldest item and returns it, so the caller can report what was dropped.
A live display wants the newest utterance answered first, hence oldest-out; the evicted
utterance leaves a tombstone in its place, so that every utterance is reported, in order.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Generic, NamedTuple, TypeVar

import numpy as np

from emovox.errors import ParameterError

T = TypeVar("T")


class Block(NamedTuple):
    """Audio as the device delivered it: ``data`` (frames, channels) float32, starting at
    device frame ``first_frame`` (frames refused before it count), its last sample captured
    at clock time ``captured_at`` (seconds)."""

    first_frame: int
    data: np.ndarray
    captured_at: float


class BlockRing:
    """A bounded, lock-free hand-over of audio blocks from one producer to one consumer."""

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ParameterError(f"capacity must be a positive number of frames, got {capacity!r}.")
        self.capacity = capacity
        self._blocks: collections.deque[Block] = collections.deque()
        self._put = 0  # frames accepted (written by the producer only)
        self._got = 0  # frames taken (written by the consumer only)
        self.frames = 0
        """Frames offered so far, refused ones included (the device's frame clock)."""
        self.overflows = 0
        """Blocks refused because the consumer was ``capacity`` frames behind."""
        self.lost_frames = 0
        """Frames in the refused blocks."""

    def put(self, data: np.ndarray, captured_at: float) -> bool:
        """Offer a block (copied); False when it was refused. Never blocks, takes no lock."""
        n = int(data.shape[0])
        first = self.frames
        self.frames = first + n
        # _got only grows, so this over-estimates what is waiting: never past capacity.
        if self._put - self._got + n > self.capacity:
            self.overflows += 1
            self.lost_frames += n
            return False
        self._blocks.append(Block(first, np.array(data, dtype=np.float32, copy=True), captured_at))
        self._put += n
        return True

    def get(self) -> Block | None:
        """The oldest waiting block, or None when there is none. Never blocks."""
        try:
            block = self._blocks.popleft()
        except IndexError:
            return None
        self._got += int(block.data.shape[0])
        return block

    @property
    def waiting(self) -> int:
        """Frames accepted and not yet taken (approximate while the producer runs)."""
        return self._put - self._got

    def clear(self) -> None:
        """Drop everything waiting (consumer side)."""
        while self.get() is not None:
            pass


class QueueClosed(Exception):
    """Raised by :meth:`DropOldestQueue.get` once the queue is closed and empty."""


class DropOldestQueue(Generic[T]):
    """A thread-safe FIFO holding at most ``maxsize`` live items.

    A put into a full queue evicts the oldest live item and returns it (None otherwise).
    With ``tombstone``, the evicted item is replaced where it stood by ``tombstone(item)``
    (a small marker that holds no audio), so the reader still meets it in order and can say
    it was dropped; without, it is gone. ``high_water`` is the most live items ever held.
    After :meth:`close`, what is waiting can still be taken; then ``get`` raises
    :class:`QueueClosed`.
    """

    def __init__(self, maxsize: int, *, tombstone: Callable[[T], T] | None = None) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ParameterError(f"maxsize must be a positive integer, got {maxsize!r}.")
        self.maxsize = maxsize
        self._tombstone = tombstone
        self._items: collections.deque[tuple[bool, T]] = collections.deque()  # (live, item)
        self._live = 0
        self._ready = threading.Condition()
        self._closed = False
        self.high_water = 0
        self.evicted = 0

    def put(self, item: T) -> T | None:
        """Add ``item``; returns the live item it evicted, if the queue was full.

        Raises:
            QueueClosed: after :meth:`close`.
        """
        with self._ready:
            if self._closed:
                raise QueueClosed("put into a closed queue")
            evicted = None
            if self._live >= self.maxsize:
                evicted = self._evict_oldest()
            self._items.append((True, item))
            self._live += 1
            self.high_water = max(self.high_water, self._live)
            self._ready.notify()
            return evicted

    def _evict_oldest(self) -> T:
        for i, (live, old) in enumerate(self._items):
            if live:
                if self._tombstone is None:
                    del self._items[i]
                else:
                    self._items[i] = (False, self._tombstone(old))
                self._live -= 1
                self.evicted += 1
                return old
        raise AssertionError("a full queue holds a live item")  # pragma: no cover

    def get(self, timeout: float | None = None) -> T | None:
        """The oldest item (tombstones included); None if none came within ``timeout`` s.

        Raises:
            QueueClosed: when the queue is closed and nothing is left in it.
        """
        with self._ready:
            if not self._ready.wait_for(lambda: self._items or self._closed, timeout):
                return None
            if not self._items:
                raise QueueClosed("the queue is closed")
            live, item = self._items.popleft()
            self._live -= live
            return item

    def close(self) -> None:
        """No more puts; readers take what is left, then get :class:`QueueClosed`."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        """Live items waiting."""
        return self._live
