"""Profile API tokens get their name in the admin; management API tokens (DRF ``authtoken``) are
stored hashed from now on: each existing key is replaced by the hash of itself, so clients keep
working with the token they hold while the database no longer has it in clear."""

import hashlib

from django.db import migrations


def hash_existing_management_tokens(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    for key in list(Token.objects.values_list("key", flat=True)):
        hashed = hashlib.sha256(key.encode()).hexdigest()[:40]  # identity.staff_tokens.management_token_key
        Token.objects.filter(key=key).update(key=hashed)


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0003_inbound_batch"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="accesstoken",
            options={
                "ordering": ["name"],
                "verbose_name": "Profile API token",
                "verbose_name_plural": "Profile API tokens",
            },
        ),
        # Not reversible: the clear tokens are gone (which is the point).
        migrations.RunPython(hash_existing_management_tokens, migrations.RunPython.noop),
    ]
