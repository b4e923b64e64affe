"""Helpers for tests that need real concurrency (threads, each with its own connection)."""

import threading

from django.db import connections


def run_in_threads(target, count: int) -> list:
    """Run ``target(i)`` in ``count`` threads released together; return results/exceptions."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
