"""The one read a webhook delivery makes before it knows whether to trust it."""

import functools

from django.db import connection

from ..models import Generation

# What a delivery needs to check its token and decide (services.callbacks), in the model's
# column order (``Model.from_db`` takes the values in that order).
_CALLBACK_FIELDS = (
    "id",
    "state",
    "provider",
    "model_id",
    "provider_task_id",
    "callback_token_hash",
    "late_state",
)


def _columns() -> list[str]:
    wanted = set(_CALLBACK_FIELDS)
    return [f.attname for f in Generation._meta.concrete_fields if f.attname in wanted]


@functools.cache
def _select_sql(vendor: str) -> str:
    """Return the lookup's SQL; the names come from the model, never from a request."""
    quote = connection.ops.quote_name
    table = quote(Generation._meta.db_table)
    select = ", ".join(quote(column) for column in _columns())
    return f"SELECT {select} FROM {table} WHERE {quote('id')} = %s"  # noqa: S608


def generation_for_callback(generation_id: int) -> Generation | None:
    """Return the generation a webhook URL names, with only the fields a delivery needs.

    One primary-key lookup, written as plain SQL: a delivery with a wrong token, and a late or
    duplicate one for a job already final, cost nothing else, and building the same query
    through the ORM costs several times the query itself (issue #14 item 4:
    ``benchmarks/webhook.py``). The other fields are deferred (loaded if touched).

    Args:
        generation_id: the id in the webhook URL.

    Returns:
        The generation, or None when there is no such id.
    """
    if not 0 < generation_id < 2**63:  # a forged id past BIGINT: no such row (SQLite raises)
        return None
    with connection.cursor() as cursor:
        cursor.execute(_select_sql(connection.vendor), [generation_id])
        row = cursor.fetchone()
    return None if row is None else Generation.from_db(connection.alias, _columns(), row)
