from django.apps import AppConfig


class GenerationsConfig(AppConfig):
    name = "generations"
    verbose_name = "Seedance Studio"

    def ready(self) -> None:
        from . import checks, signals  # noqa: F401 - registers the checks, connects receivers

        self._connect_operations()

    def _connect_operations(self) -> None:
        """Hook the shared metrics and worker heartbeats in (issue #13)."""
        from django.core.signals import request_finished
        from django_q.signals import post_execute_in_worker, post_spawn

        from . import metrics, workers
        from .providers import http

        if metrics.provider_request_observed not in http.REQUEST_OBSERVERS:
            http.REQUEST_OBSERVERS.append(metrics.provider_request_observed)
        request_finished.connect(metrics.flush_after_request, dispatch_uid="metrics_flush")
        post_execute_in_worker.connect(workers.on_task_executed, dispatch_uid="worker_tasks")
        post_spawn.connect(workers.on_worker_spawned, dispatch_uid="worker_heartbeat")
