"""Make ledger entries append-only in the database itself (docs/architecture.md "Money")."""

from django.db import migrations

from generations import db


def install(apps, schema_editor):
    statements = {"sqlite": db.SQLITE_INSTALL, "postgresql": db.POSTGRES_INSTALL}
    for sql in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


def remove(apps, schema_editor):
    statements = {"sqlite": db.SQLITE_REMOVE, "postgresql": db.POSTGRES_REMOVE}
    for sql in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("generations", "0001_initial")]
    operations = [migrations.RunPython(install, remove)]
