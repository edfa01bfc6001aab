"""Independent model computations side by side: in threads, or in a forked child process.

The fits and forecasts spend much of their time in numpy and scipy loops, which release the
GIL, so threads use the machine's cores without copying the data into other processes. Every
task has its own inputs and its own seeded random generator: the results do not depend on
the order the tasks run in. The likelihoods and optimisers around those loops are Python,
though, and hold the GIL: a chain of such work that needs only the visit days (the model
choice, the chosen model's fit, the forecast's backtest) runs in a forked child process
instead (:func:`in_child`), beside the rest of the audit.

Above :data:`MAX_ROWS` visit days everything runs one at a time, here: side by side, each
task's copies of the days add up (measured at a million patients: 0.5 GB more at the peak of
the model stage), and memory is the limit there, not time.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import pickle
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

#: at most this many threads per map (the audit machine has 2 cores)
MAX_WORKERS = 2
#: visit days above which the tasks run one at a time (see the module doc)
MAX_ROWS = 1_000_000


def workers(rows: int = 0) -> int:
    if rows > MAX_ROWS:
        return 1
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))


def thread_map(fn, items, rows: int = 0) -> list:
    """``[fn(x) for x in items]``, run in threads when the data has at most
    :data:`MAX_ROWS` rows; an exception of ``fn`` is raised here."""
    items = list(items)
    n = min(workers(rows), len(items))
    if n < 2:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(fn, items))


def in_background(fn, *args, rows: int = 0) -> tuple[ThreadPoolExecutor, Future]:
    """Start ``fn(*args)`` in a thread (at once and here, above :data:`MAX_ROWS` rows);
    returns (pool, future): ``future.result()`` waits for it (and raises its exception),
    ``pool.shutdown()`` ends the thread."""
    pool = ThreadPoolExecutor(max_workers=1)
    if workers(rows) > 1:
        return pool, pool.submit(fn, *args)
    done: Future = Future()
    try:
        done.set_result(fn(*args))
    except Exception as err:  # raised by result(), as from a thread
        done.set_exception(err)
    return pool, done


def ahead(fn, *args, rows: int = 0) -> Callable[[], object]:
    """``fn(*args)`` started now in a thread; the function returned waits for its result
    and returns it (raising ``fn``'s exception). Above :data:`MAX_ROWS` rows or on one core,
    ``fn`` runs here when the function returned is called (not earlier: at a million
    patients the order of the work is the order of memory use)."""
    if workers(rows) < 2:
        return lambda: fn(*args)
    done: Future = Future()

    def run() -> None:
        try:
            done.set_result(fn(*args))
        except BaseException as err:  # raised by the caller, as from in_background
            done.set_exception(err)

    threading.Thread(target=run, daemon=True).start()
    return done.result


def in_child(gen: Callable[..., Iterator], *args, rows: int = 0) -> Iterator:
    """The items of the generator ``gen(*args)``, computed in a forked child process that
    starts now and runs ahead of the caller: ``next()`` returns each item as soon as the
    child has it (waiting for it if need be), in order; an exception of ``gen`` is raised by
    the ``next()`` that would have returned the item it stopped. Above :data:`MAX_ROWS`
    rows, on one core, or where processes cannot fork, ``gen`` runs here, lazily: each item
    is computed when it is asked for. ``close()`` ends the child (it is ended anyway once
    its last item is read).

    Forked, the child shares the caller's memory (copy on write) and sends its items back
    pickled. ``gen`` must not use OpenMP (a forked child of a process whose OpenMP threads
    already ran can hang in it) nor change anything the caller reads afterwards."""
    return _Child(gen, args) if forks(rows) else gen(*args)


def forks(rows: int = 0) -> bool:
    """Whether :func:`in_child` runs its generator in a child process for ``rows`` rows."""
    return workers(rows) > 1 and "fork" in multiprocessing.get_all_start_methods()


class _Child:
    """:func:`in_child`'s forked child: the child pickles each item into a pipe, a thread of
    the caller reads the pipe as the items come (so the child never waits for the caller),
    ``next()`` unpickles them. If the child dies without a word (killed, e.g. out of
    memory), the items it did not send are computed here."""

    def __init__(self, gen, args) -> None:
        self._gen, self._args, self._got = gen, args, 0
        self._here: Iterator | None = None
        ctx = multiprocessing.get_context("fork")
        recv, send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_child_main, args=(send, gen, args), daemon=True)
        self._proc.start()
        send.close()
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=_read_pipe, args=(recv, self._inbox), daemon=True).start()

    def __iter__(self) -> _Child:
        return self

    def __next__(self):
        if self._here is not None:
            return next(self._here)
        message = self._inbox.get()
        if message is None:  # the child died: the rest is computed here
            self.close()
            self._here = itertools.islice(self._gen(*self._args), self._got, None)
            return next(self._here)
        kind, value = message[:1], pickle.loads(memoryview(message)[1:])
        if kind == _ITEM:
            self._got += 1
            return value
        self.close()
        self._here = iter(())  # nothing more comes
        if kind == _ERROR:
            raise value
        raise StopIteration

    def close(self) -> None:
        if self._proc.is_alive():
            self._proc.kill()
        self._proc.join()


# a message of the child: one of these bytes, then the pickled item, error or None
_ITEM, _ERROR, _END = b"i", b"e", b"z"


def _child_main(send, gen, args) -> None:
    """Runs in the child: each item of ``gen(*args)``, then the end or the error. Ctrl-C is
    the caller's to handle (it ends the child); a caller gone ends the child quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for item in gen(*args):
            send.send_bytes(_ITEM + pickle.dumps(item, pickle.HIGHEST_PROTOCOL))
        last = _END + pickle.dumps(None)
    except (BrokenPipeError, ConnectionResetError):  # the caller is gone (or gen's own:
        return  # the caller then computes the rest itself, and meets it there)
    except Exception as err:
        try:
            last = _ERROR + pickle.dumps(err, pickle.HIGHEST_PROTOCOL)
        except Exception:  # an error that cannot be pickled: its type and words
            last = _ERROR + pickle.dumps(RuntimeError(f"{type(err).__name__}: {err}"))
    with contextlib.suppress(OSError):
        send.send_bytes(last)
        send.close()


def _read_pipe(recv, inbox: queue.SimpleQueue) -> None:
    """Runs in a thread of the caller: every message of the child, then None if the child
    closed the pipe without its last message."""
    try:
        while True:
            message = recv.recv_bytes()
            inbox.put(message)
            if message[:1] != _ITEM:
                return
    except (EOFError, OSError):
        inbox.put(None)
    finally:
        recv.close()
