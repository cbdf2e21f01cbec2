import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def existing_accounts_are_verified(apps, schema_editor):
    """Every account that exists when verification starts keeps submitting: verified now."""
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    EmailVerification = apps.get_model("accounts", "EmailVerification")
    now = django.utils.timezone.now()
    EmailVerification.objects.bulk_create(
        [
            EmailVerification(user_id=pk, verified_at=now, email=email or "")
            for pk, email in User.objects.values_list("pk", "email").iterator()
        ],
        batch_size=1000,
    )


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="EmailVerification",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "verified_at",
                    models.DateTimeField(
                        blank=True,
                        help_text="When the address was verified. Empty: the account cannot submit.",
                        null=True,
                    ),
                ),
                ("email", models.EmailField(blank=True, max_length=254)),
                (
                    "last_sent_at",
                    models.DateTimeField(blank=True, help_text="When the last link was sent.", null=True),
                ),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="email_verification",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"verbose_name": "email verification"},
        ),
        migrations.RunPython(existing_accounts_are_verified, migrations.RunPython.noop),
    ]
