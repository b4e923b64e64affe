"""Indexes for the generation admin's filters on rare values (failover, fail code, result
state, provider, needs attention): without them the capped count and the newest-first page
of a rare value read the whole table (benchmarks/reports.py, PostgreSQL, 100,000 jobs).

Built with CREATE INDEX CONCURRENTLY on PostgreSQL, in a migration of its own (not atomic),
like 0029 (docs/deploy.md "Upgrades").
"""

from django.db import migrations, models

from generations.migration_operations import AddIndexConcurrentlyWhereSupported


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("generations", "0030_spend_day"),
    ]

    operations = [
        AddIndexConcurrentlyWhereSupported(
            model_name="generation",
            index=models.Index(
                condition=models.Q(("failover_from", ""), _negated=True),
                fields=["-id"],
                name="generation_failover_newest",
            ),
        ),
        AddIndexConcurrentlyWhereSupported(
            model_name="generation",
            index=models.Index(
                condition=models.Q(("fail_code", ""), _negated=True),
                fields=["fail_code", "-id"],
                name="generation_fail_code_newest",
            ),
        ),
        AddIndexConcurrentlyWhereSupported(
            model_name="generation",
            index=models.Index(
                condition=models.Q(("result_state", ""), _negated=True),
                fields=["result_state", "-id"],
                name="generation_result_newest",
            ),
        ),
        AddIndexConcurrentlyWhereSupported(
            model_name="generation",
            index=models.Index(fields=["provider", "-id"], name="generation_provider_newest"),
        ),
        AddIndexConcurrentlyWhereSupported(
            model_name="generation",
            index=models.Index(
                condition=models.Q(
                    ("state__in", ["queued", "submitting", "unknown", "submitted"]),
                    models.Q(("result_state", "failed"), ("state", "succeeded")),
                    _connector="OR",
                ),
                fields=["-id"],
                name="generation_attention_newest",
            ),
        ),
    ]
