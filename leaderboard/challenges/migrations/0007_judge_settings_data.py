"""Copy each phase's judge_* fields into its JudgeSettings row, and back when reversed.

Every phase gets a row, defaults included, so nothing is lost whatever the values. Run apart
from the schema changes (0006, 0008): PostgreSQL refuses to alter a table with pending
deferred-constraint checks from rows written in the same transaction.
"""

from django.db import migrations

#: JudgeSettings field -> the Phase field it was (frozen here: the models may change later).
FIELDS = {
    'enabled': 'judge_enabled',
    'base_url': 'judge_base_url',
    'model': 'judge_model',
    'api_key_env': 'judge_api_key_env',
    'temperature': 'judge_temperature',
    'max_tokens': 'judge_max_tokens',
    'templates': 'judge_templates',
}


def copy_to_judge_settings(apps, schema_editor):
    Phase = apps.get_model('challenges', 'Phase')
    JudgeSettings = apps.get_model('challenges', 'JudgeSettings')
    JudgeSettings.objects.bulk_create(
        JudgeSettings(phase=phase, **{name: getattr(phase, old) for name, old in FIELDS.items()})
        for phase in Phase.objects.filter(judge_settings__isnull=True).iterator()
    )


def copy_back_to_phases(apps, schema_editor):
    Phase = apps.get_model('challenges', 'Phase')
    JudgeSettings = apps.get_model('challenges', 'JudgeSettings')
    # A phase without a row keeps the Phase fields' defaults, which are the judge defaults.
    for settings in JudgeSettings.objects.iterator():
        Phase.objects.filter(pk=settings.phase_id).update(
            **{old: getattr(settings, name) for name, old in FIELDS.items()}
        )


class Migration(migrations.Migration):

    dependencies = [
        ('challenges', '0006_judge_settings'),
    ]

    operations = [
        migrations.RunPython(copy_to_judge_settings, copy_back_to_phases),
    ]
