"""Which piece of work runs next on the worker pool, decided without threads or clocks of its own.

Every task has
    a lane      "light" (motion for a piece of speech, idle frames, live input: milliseconds) or
                "heavy" (speech synthesis, transcription: tens to hundreds of milliseconds);
    a deadline  the session time (as a monotonic clock reading) by which its result is needed:
                idle frames before the client runs out of them, the next sentence before the
                current one has played, the first audio of a line at once;
    a key       tasks with the same key (a session id) run one at a time, in the order they were
                submitted: a session's state only ever changes on its own queue. Keyless tasks
                (synthesis of a text, a transcript) touch no session and may run side by side.

`take(lanes, now)` hands out the ready task with the earliest deadline among the lanes a worker
serves. A task may also say `not_before`: work that is not needed for a while (the animation of
the 30th second of a line the engine sent whole) waits until then, so it does not take the CPU
from streams that play now.
The pool keeps one worker that serves only the light lane, so idle motion, live input and the
animation of engine audio never wait behind another session's synthesis, however many sessions
synthesise at once (measured in docs/benchmarks.md, "fair scheduling").

`WorkerPool` is the threaded driver the server uses; tests drive `Scheduler` directly, with a fake
clock, and run each task they take by hand.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Hashable

log = logging.getLogger("avbridge.server")

LIGHT, HEAVY = "light", "heavy"
LANES = (LIGHT, HEAVY)


@dataclass
class Task:
    fn: Callable[[], None]
    lane: str
    deadline: float
    key: Hashable | None
    name: str
    not_before: float = float("-inf")
    order: int = 0


class Scheduler:
    """Earliest deadline first, per lane, with one-at-a-time order per key. Thread-safe: its methods
    hold one lock briefly and never run a task."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._order = itertools.count()
        self._keyed: dict[Hashable, collections.deque[Task]] = {}
        self._running_keys: set[Hashable] = set()
        self._free: list[Task] = []           # keyless tasks
        self.closed = False

    def submit(self, fn: Callable[[], None], *, lane: str, deadline: float, key: Hashable | None = None,
               name: str = "", not_before: float = float("-inf")) -> Task:
        if lane not in LANES:
            raise ValueError(f"unknown lane {lane!r}; expected one of {', '.join(LANES)}")
        task = Task(fn, lane, deadline, key, name or getattr(fn, "__name__", "task"), not_before)
        with self._lock:
            task.order = next(self._order)
            if key is None:
                self._free.append(task)
            else:
                self._keyed.setdefault(key, collections.deque()).append(task)
        return task

    def take(self, lanes: tuple[str, ...] = LANES, now: float = float("inf")) -> Task | None:
        """The ready task with the earliest deadline in `lanes` (ties: the first submitted), or None.
        A keyed task is ready when it heads its key's queue and no task of that key is running;
        any task, once `now` has reached its `not_before`."""
        with self._lock:
            best: Task | None = None
            heads = [q[0] for key, q in self._keyed.items() if q and key not in self._running_keys]
            for task in heads + self._free:
                if task.lane in lanes and task.not_before <= now \
                        and (best is None or (task.deadline, task.order) < (best.deadline, best.order)):
                    best = task
            if best is None:
                return None
            if best.key is None:
                self._free.remove(best)
            else:
                queue = self._keyed[best.key]
                queue.popleft()
                if not queue:
                    del self._keyed[best.key]
                self._running_keys.add(best.key)
            return best

    def done(self, task: Task) -> None:
        """`task` has finished: the next task of its key may run."""
        with self._lock:
            if task.key is not None:
                self._running_keys.discard(task.key)

    def drop(self, key: Hashable) -> int:
        """Forget the queued tasks of `key` (a closed session); return how many there were."""
        with self._lock:
            return len(self._keyed.pop(key, ()))

    def has_ready(self, key: Hashable, now: float) -> bool:
        """Whether `key` has a task that could run now (its running one has finished)."""
        with self._lock:
            queue = self._keyed.get(key)
            return queue is not None and len(queue) > 0 and key not in self._running_keys and queue[0].not_before <= now

    def next_start(self, lanes: tuple[str, ...] = LANES, now: float = float("-inf")) -> float:
        """The earliest `not_before` still to come among the tasks in `lanes` that only wait for
        it (inf if none does). A task that waits for its key's running task is not counted: the
        end of that task wakes the workers, so nobody needs to poll for it."""
        with self._lock:
            heads = [q[0] for key, q in self._keyed.items() if q and key not in self._running_keys]
            return min((t.not_before for t in heads + self._free if t.lane in lanes and t.not_before > now),
                       default=float("inf"))

    def pending(self, lane: str | None = None) -> int:
        with self._lock:
            tasks = [t for q in self._keyed.values() for t in q] + self._free
            return sum(1 for t in tasks if lane is None or t.lane == lane)

    def run_one(self, lanes: tuple[str, ...] = LANES, now: float = float("inf")) -> Task | None:
        """Take one task and run it on the calling thread (for tests and single-threaded use)."""
        task = self.take(lanes, now)
        if task is not None:
            try:
                task.fn()
            finally:
                self.done(task)
        return task


class InlinePool:
    """Tasks wait in the scheduler until the caller runs them (`run_all`): the service without
    threads, for tests under a fake clock and for hosts that run everything on one loop."""

    def __init__(self, scheduler: Scheduler | None = None, clock: Callable[[], float] = lambda: float("inf")) -> None:
        self.scheduler = scheduler or Scheduler()
        self.clock = clock

    def submit(self, fn: Callable[[], None], *, lane: str, deadline: float, key: Hashable | None = None,
               name: str = "", not_before: float = float("-inf")) -> Task:
        return self.scheduler.submit(fn, lane=lane, deadline=deadline, key=key, name=name, not_before=not_before)

    def run_all(self, lanes: tuple[str, ...] = LANES, limit: int = 100_000) -> int:
        """Run tasks (those they submit too) until none is ready now; return how many ran."""
        count = 0
        while count < limit and self.scheduler.run_one(lanes, self.clock()) is not None:
            count += 1
        return count

    def shutdown(self) -> None:
        pass


class WorkerPool:
    """Threads that run the scheduler's tasks: `heavy_workers` that take any lane (earliest deadline
    first) and one that takes only light work. A task that raises is logged; the worker goes on."""

    def __init__(self, scheduler: Scheduler, heavy_workers: int, name: str = "avbridge-work",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.scheduler = scheduler
        self.clock = clock
        self._wakeup = threading.Condition()
        self._stopping = False
        # When each sleeping worker wakes by itself. Work that is due only later than that needs no
        # wake-up call: with hundreds of queued pieces of engine audio, waking every worker for each
        # cost the I/O thread the interpreter lock, over and over, for nothing.
        self._wakes_at: dict[int, float] = {}
        self._threads = [threading.Thread(target=self._run, args=(LANES,), name=f"{name}-{i}", daemon=True)
                         for i in range(max(1, heavy_workers))]
        self._threads.append(threading.Thread(target=self._run, args=((LIGHT,),), name=f"{name}-light", daemon=True))
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], None], *, lane: str, deadline: float, key: Hashable | None = None,
               name: str = "", not_before: float = float("-inf")) -> Task:
        task = self.scheduler.submit(fn, lane=lane, deadline=deadline, key=key, name=name, not_before=not_before)
        with self._wakeup:
            if not_before <= self.clock() or not_before < min(self._wakes_at.values(), default=float("inf")):
                self._wakeup.notify_all()
        return task

    def _run(self, lanes: tuple[str, ...]) -> None:
        while True:
            with self._wakeup:
                while True:
                    if self._stopping:
                        return
                    task = self.scheduler.take(lanes, self.clock())
                    if task is not None:
                        break
                    now = self.clock()
                    timeout = min(0.5, max(0.001, self.scheduler.next_start(lanes, now) - now))
                    self._wakes_at[threading.get_ident()] = now + timeout
                    self._wakeup.wait(timeout)
                    self._wakes_at.pop(threading.get_ident(), None)
            try:
                task.fn()
            except Exception:  # a failing task must not take its worker (and every later task) down
                log.exception("task failed name=%s key=%s", task.name, task.key)
            finally:
                self.scheduler.done(task)
                if task.key is not None and self.scheduler.has_ready(task.key, self.clock()):
                    with self._wakeup:
                        self._wakeup.notify_all()   # its key's next task is ready now

    def shutdown(self, timeout: float = 5.0) -> None:
        """Let running tasks finish, drop the queued ones, stop the threads."""
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify_all()
        for thread in self._threads:
            thread.join(timeout)
