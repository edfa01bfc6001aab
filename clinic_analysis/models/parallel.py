"""Independent model computations side by side, in threads.

The fits and forecasts spend their time in numpy and scipy loops, which release the GIL, so
threads use the machine's cores without copying the data into other processes (which at a
million patients would cost gigabytes). Every task has its own inputs and its own seeded
random generator: the results do not depend on the order the tasks run in.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

#: at most this many threads per map (the audit machine has 2 cores)
MAX_WORKERS = 2


def workers() -> int:
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))


def thread_map(fn, items) -> list:
    """``[fn(x) for x in items]``, run in threads; an exception of ``fn`` is raised here."""
    items = list(items)
    n = min(workers(), len(items))
    if n < 2:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(fn, items))


def in_background(fn, *args) -> tuple[ThreadPoolExecutor, object]:
    """Start ``fn(*args)`` in a thread; returns (pool, future): ``future.result()`` waits
    for it (and raises its exception), ``pool.shutdown()`` ends the thread."""
    pool = ThreadPoolExecutor(max_workers=1)
    return pool, pool.submit(fn, *args)
