"""Programs in parallel: one per core at normal priority, each in a sandbox of its own (``Pool``)."""
from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from backend.codegen.sandbox.bwrap import isolation
from backend.codegen.sandbox.cgroup import CpuGroups
from backend.codegen.sandbox.jobs import Job, Limits, Outcome
from backend.codegen.sandbox.toolchains import TOOLCHAINS
from backend.codegen.sandbox.worker import Worker

SLOTS_PER_CORE = 8


class Pool:
    """Programs run one per core at normal priority, each in its own sandbox; ``submit`` returns a Future.

    A program still running after its language's ``demote_after_s`` gives its core to the next program and, while
    programs are waiting for a core, keeps running at the lowest priority (in the pool's idle CPU group, where
    it has one: cgroup.CpuGroups) until it ends or times out: timeouts overlap (up to ``SLOTS_PER_CORE``
    sandboxes per core) while programs that compute still get a core each.
    Used while a model is still generating: execution overlaps generation instead of waiting for it.
    """

    def __init__(self, limits: Limits = Limits(), workers: int | None = None, sandboxes: int | None = None):
        isolation()  # refuse before any work is done, with the line that says what to install
        self.limits, self.workers = limits, max(1, workers or os.cpu_count() or 1)
        self._cpu = CpuGroups.create(self.workers)  # the pool weighs as much as one program per core
        self._cores = threading.Semaphore(self.workers)
        self._waiting, self._count = 0, threading.Lock()  # programs submitted that have no core yet
        self._demoted: set[Worker] = set()  # workers demoted while their program runs
        self._slots = queue.LifoQueue()  # the most recently used sandbox first: only as many start as are needed
        count = sandboxes or self.workers * SLOTS_PER_CORE
        self._workers = [Worker(limits, self._cpu) for _ in range(count)]  # started when used
        for worker in self._workers:
            self._slots.put(worker)
        self._executor = ThreadPoolExecutor(len(self._workers))

    def submit(self, job: Job) -> Future:
        with self._count:
            self._waiting += 1
        return self._executor.submit(self._run, job)

    def _run(self, job):
        self._cores.acquire()
        with self._count:
            self._waiting -= 1
            if not self._waiting:  # nothing waits any more: the demoted get their share back
                self._demoted -= {w for w in self._demoted if w.promote()}
        worker = self._slots.get()
        lock, held = threading.Lock(), [True]

        def free_core(demote: bool):
            with lock:
                if held[0]:
                    held[0] = False
                    # Lowest priority only while programs wait for a core: a program running past the mark
                    # while the model is still generating (nothing waits) keeps its share against the
                    # generator, which would otherwise starve it into a wrong timeout.
                    with self._count:
                        if demote and self._waiting:
                            worker.demote()
                            self._demoted.add(worker)
                    self._cores.release()

        timer = threading.Timer(min(TOOLCHAINS[job.language].demote_after_s, self.limits.timeout_s / 2), free_core, (True,))
        timer.daemon = True
        timer.start()
        try:
            return worker.run(job)
        finally:
            timer.cancel()
            free_core(False)  # after this no timer can demote the worker any more
            with self._count:
                self._demoted.discard(worker)
                if worker.demoted and not worker.promote():  # a fresh sandbox at normal priority for the next
                    worker.close()
            self._slots.put(worker)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._executor.shutdown(wait=True, cancel_futures=exc[0] is not None)
        for worker in self._workers:
            worker.close()
        if self._cpu:
            self._cpu.remove()


def run_job(job: Job, limits: Limits = Limits()) -> Outcome:
    """Run and judge one program in a worker of its own."""
    with Worker(limits) as worker:
        return worker.run(job)


def run_many(jobs: list[Job], limits: Limits = Limits(), workers: int | None = None) -> list[Outcome]:
    """Run and judge jobs in parallel; outcomes in job order."""
    with Pool(limits, workers) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [f.result() for f in futures]
