"""Messages sent at a set time, or a few at a time, from a thread of the sender's own."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(slots=True)
class Chunk:
    """Messages to send at ``when`` (which may move until they go)."""
    when: float
    epoch: int | None  # the sender's epoch when queued: a chunk of an older epoch is dropped (None: never)
    msgs: list
    sent: bool = False
    again: Callable[[list], None] | None = None  # a release's, sent by this whether or not the engine plays


class Sender:
    """Sends chunks of messages at their time. ``send(msgs)`` does the sending; it runs with ``lock`` held and
    only while ``may_send()`` (the engine is playing), but for a release (``release``). ``drop_all()``
    makes everything queued stale at once."""

    def __init__(self, send: Callable[[list], None], lock, may_send: Callable[[], bool],
                 burst_limit: int = 0, burst_gap_s: float = 0.0007):
        self.send, self.lock, self.may_send = send, lock, may_send
        self.burst_limit, self.burst_gap_s = burst_limit, burst_gap_s
        self.epoch = 0
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def open(self) -> None:
        self._thread = threading.Thread(target=self._run, name="note-sender", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._queue.put(None)

    def at(self, when: float, msgs: list) -> list[Chunk]:
        """Send at a time: in chunks of burst_limit, burst_gap_s apart. Returns the chunks (their time may move)."""
        return self._later(when, msgs, None, self.epoch)

    def release(self, msgs: list, send: Callable[[list], None], again_s: float | None = None) -> None:
        """Send a release by ``send`` now, whether or not the engine plays: past burst_limit, the rest from the
        thread burst_gap_s apart, whatever comes after; with ``again_s``, all of it once more that much later,
        unless a drop_all (a Start) comes first."""
        size = self.burst_limit or len(msgs) or 1
        send(msgs[:size])
        self._later(time.perf_counter() + self.burst_gap_s, msgs[size:], send, None)  # a release always goes
        if again_s is not None:
            self._later(time.perf_counter() + again_s, msgs, send, self.epoch)

    def _later(self, when: float, msgs: list, send: Callable[[list], None] | None, epoch: int | None) -> list[Chunk]:
        """Queue ``msgs`` to go at ``when``, burst_limit at a time, burst_gap_s apart; returns the chunks."""
        size = self.burst_limit or len(msgs) or 1
        chunks = [Chunk(when + (k // size) * self.burst_gap_s, epoch, msgs[k : k + size], again=send)
                  for k in range(0, len(msgs), size)]
        for chunk in chunks:
            self._queue.put(chunk)
        return chunks

    def now(self, msgs: list) -> None:
        """Send on the spot; past burst_limit, the rest follows burst_gap_s apart (from the thread)."""
        if not self.burst_limit or len(msgs) <= self.burst_limit:
            self.send(msgs)
            return
        self.send(msgs[: self.burst_limit])
        self.at(time.perf_counter() + self.burst_gap_s, msgs[self.burst_limit :])

    def drop_all(self) -> None:
        """Whatever is queued is stale now but a release's first sending (called with the lock held)."""
        self.epoch += 1
        kept = []
        while True:
            try:
                chunk = self._queue.get_nowait()
            except queue.Empty:
                break
            if chunk is None or chunk.epoch is None:
                kept.append(chunk)
        for chunk in kept:
            self._queue.put(chunk)

    def _run(self) -> None:
        while True:
            chunk = self._queue.get()
            if chunk is None:
                return
            while not chunk.sent and chunk.epoch in (self.epoch, None):  # chunk.when may move until it goes
                left = chunk.when - time.perf_counter()
                if left <= 0:
                    break
                if left > 0.0004:  # sleep in short slices, spin only the last 0.4 ms (a spin holds the GIL)
                    time.sleep(min(left - 0.0004, 0.002))
            with self.lock:  # checked under the lock: nothing slips out after a drop_all
                if (chunk.again or self.may_send()) and chunk.epoch in (self.epoch, None) and not chunk.sent:
                    chunk.sent = True
                    (chunk.again or self.send)(chunk.msgs)
