"""The "Curators" group: papers, topics (and so imports) in the admin, nothing about
subscribers. Digests are left out too: every row names a reader's address."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CURATOR_PERMISSIONS = [
    ("digest", "paper", ["view", "add", "change", "delete"]),
    ("digest", "topic", ["view", "add", "change", "delete"]),
]


def create_group(apps, schema_editor):
    # On a fresh database permissions are made after all migrations; make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Curators")
    for app_label, model, actions in CURATOR_PERMISSIONS:
        codenames = [f"{action}_{model}" for action in actions]
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        )


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Curators").delete()


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("digest", "0007_ledger_kept_and_paper_count"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
