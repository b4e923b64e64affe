from django.apps import AppConfig


class GenerationsConfig(AppConfig):
    name = "generations"
    verbose_name = "Seedance Studio"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the receivers
