"""Queueing the portal's django-q2 tasks: one place for how they are enqueued.

The tasks in ``generations.tasks`` run thousands of times an hour (a poll batch every few
seconds while jobs are in flight), and their outcome lives on the ``Generation`` rows, not in
django-q2's result table. Saving each success would cost the worker a locked trim of up to
``save_limit`` saved results per task (about 40 ms each, measured by
``benchmarks/inflight.py``), enough to make 1,000 jobs in flight fall behind. So successes
are not saved (``save=False``); failures still are, for the admin's "Failed tasks".
"""


def enqueue(task: str, *args, group: str, name: str | None = None) -> None:
    """Queue ``generations.tasks.<task>(*args)`` for the cluster.

    Args:
        task: the function's name in ``generations.tasks``, e.g. ``"submit_generation"``.
        args: its positional arguments (ids; they are pickled into the queue).
        group: the django-q2 group, for the admin's task lists.
        name: a readable task name, e.g. ``"submit-generation-12"``; generated if None.
    """
    from django_q.tasks import async_task

    async_task(f"generations.tasks.{task}", *args, group=group, task_name=name, save=False)
