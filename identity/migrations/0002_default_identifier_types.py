"""The default identifier types (Segment's defaults, DESIGN.md §4) and the dedupe pruning schedule."""

from django.db import migrations

BLOCKED = ["null", "undefined", "-1", "0", "anonymous", "none", "nan", "[object object]"]
ZEROS = ["^[0-]*$"]

# key, label, priority, limit, anonymous, normalizer
DEFAULTS = [
    ("user_id", "User id", 1, 1, False, "trim"),
    ("email", "Email", 2, 5, False, "email"),
    ("phone", "Phone", 3, 5, False, "phone"),
    ("android.id", "Android device id", 10, 5, True, "trim"),
    ("android.idfa", "Android advertising id", 11, 5, True, "lower"),
    ("android.push_token", "Android push token", 12, 5, True, "trim"),
    ("anonymous_id", "Anonymous id", 13, 1000, True, "trim"),
    ("cross_domain_id", "Cross-domain id", 14, 1000, True, "trim"),
    ("ios.id", "iOS device id (IDFV)", 15, 5, True, "lower"),
    ("ios.idfa", "iOS advertising id", 16, 5, True, "lower"),
    ("ios.push_token", "iOS push token", 17, 5, True, "trim"),
    ("group_id", "Group (company) id", 50, 1, False, "trim"),
]


def create_defaults(apps, schema_editor):
    IdentifierType = apps.get_model("identity", "IdentifierType")
    for key, label, priority, limit, anonymous, normalizer in DEFAULTS:
        IdentifierType.objects.get_or_create(
            key=key,
            defaults={
                "label": label,
                "priority": priority,
                "limit": limit,
                "anonymous": anonymous,
                "normalizer": normalizer,
                "blocked_values": BLOCKED,
                "blocked_patterns": ZEROS if key not in ("email", "phone") else [],
            },
        )
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name="identity: prune dedupe keys",
        defaults={"func": "identity.tasks.prune_seen_messages", "schedule_type": "H", "repeats": -1},
    )


def remove_defaults(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="identity: prune dedupe keys").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_defaults, remove_defaults)]
