"""Parsing in other processes, for first syncs and resyncs of big mailboxes.

MIME parsing is pure Python and, with the text half of sentiment, the
largest step of a sync (about 0.3 ms a message, more than storing), so a
large sync parses the next chunks in a process pool while the worker
stores the current one. Small polls parse inline: starting processes
costs about as much as it saves at PARALLEL_FROM (measured: 1,200
messages 1,784/s with a pool against 2,016/s inline, 2,500 messages
2,131/s against 1,896/s).

Processes come from a forkserver, not fork: the worker has threads (the
scheduler, IDLE listeners), and forking a threaded process can copy a lock
in its taken state.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime

import sentiment
from inbox.channel import InboundItem
from inbox.tagging import prescore

from .parse import parse_message

PARALLEL_FROM = 1000  # messages in one fetch before a pool is worth starting
SLICE = 100  # messages per task: small enough to spread, large enough to amortise pickling
AHEAD = 2  # chunks fetched and parsing while one is stored, so the parsers never wait for work
NICE = 5  # parsers' niceness, added to the worker's
# At most this many parser processes; REPLYDESK_PARSE_PROCESSES=1 parses inline always.
MAX_PROCESSES = int(os.environ.get("REPLYDESK_PARSE_PROCESSES") or 4)

Raw = tuple[bytes, datetime | None]
C = TypeVar("C")


def parse_slice(raws: Sequence[Raw], own_addresses: frozenset[str], cap: int,
                score: bool = False) -> list[InboundItem]:
    """Parse; with `score`, also the text-only half of sentiment (in a
    parser process, so the process that stores has less to do)."""
    items = [parse_message(raw, own_addresses=own_addresses, attachment_cap=cap, received_at=when)
             for raw, when in raws]
    if score:
        prescore(items)
    return items


def _start_parser(owner: int | None = None, scoring: dict | None = None) -> None:
    # Parsing makes many short-lived objects that reference counting frees;
    # in a process that only parses, frequent cycle collections find next to
    # nothing and cost a sixth of the time.
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)
    # Parsers work ahead of the process that stores, which sets the pace: it
    # (and the web UI, sending replies) comes first when the cores are busy.
    os.nice(NICE)
    if owner is not None:
        threading.Thread(target=_exit_with, args=(owner,), name="parser-owner-watch", daemon=True).start()
    if scoring is not None:
        sentiment.configure(**scoring)  # score as the worker would (its scorer and model)


def _exit_with(owner: int, every: float = 1.0) -> None:
    """End this parser when the worker that started it is gone. A worker
    killed with SIGKILL cannot shut its pool down, and the forkserver (our
    parent, not the worker) does not end its children when it goes."""
    while True:
        time.sleep(every)
        try:
            os.kill(owner, 0)
        except (ProcessLookupError, PermissionError):  # gone, or its pid reused by someone else's process
            os._exit(0)


def _started() -> bool:
    return True


def processes() -> int:
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:
        available = os.cpu_count() or 1
    return min(MAX_PROCESSES, available)


class ParsePool:
    """A small process pool; `submit` returns a callable giving the items."""

    def __init__(self, own_addresses: frozenset[str], cap: int):
        self.own, self.cap = own_addresses, cap
        context = multiprocessing.get_context("forkserver")
        # "__main__" too: else each process runs the main script again (the
        # worker's command-line module and everything it imports) as it starts.
        context.set_forkserver_preload(["__main__", "collectors.email.preload"])
        self.executor = ProcessPoolExecutor(processes(), mp_context=context, initializer=_start_parser,
                                            initargs=(os.getpid(), sentiment.scoring()))
        self._started = self.executor.submit(_started)

    @property
    def ready(self) -> bool:
        """Whether a parser process is up (or the pool failed: submit then
        parses inline). Starting takes about half a second."""
        return self._started.done()

    def submit(self, raws: Sequence[Raw]) -> Callable[[], list[InboundItem]]:
        futures: list[tuple[Sequence[Raw], Future | None]] = []
        for start in range(0, len(raws), SLICE):
            part = raws[start:start + SLICE]
            try:
                futures.append((part, self.executor.submit(parse_slice, part, self.own, self.cap, True)))
            except (BrokenProcessPool, RuntimeError):
                futures.append((part, None))

        def result() -> list[InboundItem]:
            items: list[InboundItem] = []
            for part, future in futures:
                try:
                    items.extend(future.result() if future is not None else parse_slice(part, self.own, self.cap))
                except BrokenProcessPool:  # a worker died (out of memory?): do it here
                    items.extend(parse_slice(part, self.own, self.cap))
            return items
        return result

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def parse_chunks(chunks: Iterable[C], raws: Callable[[C], Sequence[Raw]], total: Callable[[C], int],
                 own_addresses: frozenset[str], cap: int) -> Iterator[tuple[C, list[InboundItem]]]:
    """(chunk, parsed items) for each chunk, in order. With a pool, chunks
    k+1 and k+2 are fetched and parsing while the caller stores chunk k;
    until its processes are up, chunks are parsed here."""
    pool: ParsePool | None = None
    pending: deque[tuple[C, Callable[[], list[InboundItem]]]] = deque()
    try:
        for chunk in chunks:
            if pool is None and total(chunk) >= PARALLEL_FROM and processes() > 1:
                pool = ParsePool(own_addresses, cap)
            part = raws(chunk)
            if pool is not None and pool.ready:
                pending.append((chunk, pool.submit(part)))
            else:  # no pool for a sync this small, or its processes are still starting: parse here
                pending.append((chunk, lambda items=parse_slice(part, own_addresses, cap): items))
            while len(pending) > (AHEAD if pool else 0):
                done, result = pending.popleft()
                yield done, result()
        while pending:
            done, result = pending.popleft()
            yield done, result()
    finally:
        if pool is not None:
            pool.close()
