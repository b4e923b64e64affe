"""Load docs/prices.md "Default price table" (version 1) and create the Managers group."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


# (provider, model_id, resolution, sound) -> credits per second;
# docs/prices.md "Default price table", frozen here as they were on the day this migration was
# written.
DEFAULT_PRICES: dict[tuple[str, str, str, bool], int] = {
    ("apixo", "seedance-1-5-pro", "480p", False): 10,
    ("apixo", "seedance-1-5-pro", "480p", True): 20,
    ("apixo", "seedance-1-5-pro", "720p", False): 20,
    ("apixo", "seedance-1-5-pro", "720p", True): 40,
    ("apixo", "seedance-1-5-pro-extend", "480p", False): 12,
    ("apixo", "seedance-1-5-pro-extend", "480p", True): 24,
    ("apixo", "seedance-1-5-pro-extend", "720p", False): 24,
    ("apixo", "seedance-1-5-pro-extend", "720p", True): 48,
    ("apixo", "seedance-1-5-pro-extend", "1080p", False): 52,
    ("apixo", "seedance-1-5-pro-extend", "1080p", True): 104,
    ("aivideoapi", "doubao-seedance-1.5-pro", "480p", False): 15,
    ("aivideoapi", "doubao-seedance-1.5-pro", "480p", True): 35,
    ("aivideoapi", "doubao-seedance-1.5-pro", "720p", False): 35,
    ("aivideoapi", "doubao-seedance-1.5-pro", "720p", True): 70,
    ("aivideoapi", "doubao-seedance-1.5-pro", "1080p", False): 75,
    ("aivideoapi", "doubao-seedance-1.5-pro", "1080p", True): 150,
}


def load(apps, schema_editor):
    PriceTable = apps.get_model("generations", "PriceTable")
    Price = apps.get_model("generations", "Price")
    if not PriceTable.objects.exists():
        table = PriceTable.objects.create(version=1, note="docs/architecture.md 'Default price table'")
        Price.objects.bulk_create(
            Price(
                table=table,
                provider=provider,
                model_id=model_id,
                resolution=resolution,
                sound=sound,
                credits_per_second=rate,
            )
            for (provider, model_id, resolution, sound), rate in DEFAULT_PRICES.items()
        )
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.filter(
        codename="manage_team", content_type__app_label="generations"
    )
    if not permission.exists():
        # Permissions are normally created after all migrations; managers need theirs now.
        app_config = apps.get_app_config("generations")
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group, _ = Group.objects.get_or_create(name="Managers")
    group.permissions.add(permission.get())


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0002_ledger_append_only"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
