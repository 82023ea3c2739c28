"""Curators may see suppressions (without addresses: subscriptions/admin.py) and clear
them with a reason; they still see nothing else about subscribers."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["view_suppression", "clear_suppression"]


def grant(apps, schema_editor):
    # On a fresh database permissions are made after all migrations; make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Curators")
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="subscriptions", codename__in=CODENAMES)
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name="Curators"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="subscriptions", codename__in=CODENAMES)
        )


class Migration(migrations.Migration):

    dependencies = [
        ("subscriptions", "0007_suppressions"),
        ("digest", "0008_curators_group"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
