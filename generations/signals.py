"""Signal receivers: every user gets a credit account the moment it exists."""

from django.conf import settings
from django.db.backends.signals import connection_created
from django.db.models.signals import post_save
from django.dispatch import receiver
from django_q.signals import post_execute_in_worker, pre_execute

from . import log_context
from .db import register_sqlite_functions
from .models import CreditAccount


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="create_credit_account")
def create_credit_account(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """Create the user's empty ``CreditAccount`` when the user is created."""
    if created and not raw:
        CreditAccount.objects.get_or_create(user=instance)


connection_created.connect(register_sqlite_functions, dispatch_uid="ledger_sqlite_functions")

# Log lines of a django-q2 task carry its id and generation (issue #13 item 9).
pre_execute.connect(log_context.task_started, dispatch_uid="log_context_task_started")
post_execute_in_worker.connect(log_context.task_finished, dispatch_uid="log_context_task_done")
