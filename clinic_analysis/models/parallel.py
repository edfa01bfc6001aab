"""Independent model computations side by side, in threads.

The fits and forecasts spend their time in numpy and scipy loops, which release the GIL, so
threads use the machine's cores without copying the data into other processes. Every task
has its own inputs and its own seeded random generator: the results do not depend on the
order the tasks run in. Above :data:`MAX_ROWS` visit days everything runs one at a time:
side by side, each task's copies of the days add up (measured at a million patients: 0.5 GB
more at the peak of the model stage), and memory is the limit there, not time.
"""

from __future__ import annotations

import os
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
