"""The indexes of the variations (0026) and of the gallery's filters and team library
(0027), built with CREATE INDEX CONCURRENTLY on PostgreSQL so the generations table keeps
taking writes (docs/deploy.md "Upgrades").

In a migration of their own, with nothing else: CONCURRENTLY cannot run inside a
transaction, so this migration is not atomic, and if a build fails half-way only indexes are
left behind (drop the INVALID one and migrate again); the columns came in atomic migrations.
"""

from django.db import migrations, models

from generations.migration_operations import AddIndexConcurrentlyWhereSupported


class Migration(migrations.Migration):
    atomic = False
    dependencies = [
        ("generations", "0028_perf_figures_account_totals"),
    ]

    operations = [
        AddIndexConcurrentlyWhereSupported(
            model_name="generation",
            index=models.Index(
                condition=models.Q(("variation_group__isnull", False)),
                fields=["user", "variation_group"],
                name="generation_user_variations",
            ),
        ),
        AddIndexConcurrentlyWhereSupported(
            model_name="generation",
            index=models.Index(
                fields=["user", "price_credits", "id"], name="generation_user_price"
            ),
        ),
        AddIndexConcurrentlyWhereSupported(
            model_name="generation",
            index=models.Index(
                condition=models.Q(("favourite", True)),
                fields=["user", "-created_at"],
                name="generation_user_favourite",
            ),
        ),
        AddIndexConcurrentlyWhereSupported(
            model_name="generation",
            index=models.Index(
                condition=models.Q(
                    ("result_state", "stored"), ("shared_at__isnull", False), ("state", "succeeded")
                ),
                fields=["-created_at", "-id"],
                name="generation_shared_created",
            ),
        ),
    ]
