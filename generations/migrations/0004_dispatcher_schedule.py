"""Schedule the dispatcher loop every minute (the safety net behind autostart)."""

from django.db import migrations


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="generations-dispatcher",
        defaults={
            "func": "generations.tasks.dispatch_loop",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,
        },
    )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="generations-dispatcher").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0003_default_prices_and_managers"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(create, remove)]
