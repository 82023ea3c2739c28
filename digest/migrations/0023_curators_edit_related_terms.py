"""Curators edit the related terms, as they edit topics."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = [f"{action}_curatedrelatedterms" for action in ("add", "change", "delete", "view")]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Curators")
    group.permissions.add(*Permission.objects.filter(content_type__app_label="digest", codename__in=CODENAMES))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name="Curators"):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="digest", codename__in=CODENAMES))


class Migration(migrations.Migration):

    dependencies = [("digest", "0022_curated_related_terms"), ("digest", "0013_curators_see_the_dashboard")]

    operations = [migrations.RunPython(grant, revoke)]
