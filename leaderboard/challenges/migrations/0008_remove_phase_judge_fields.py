from django.db import migrations


class Migration(migrations.Migration):
    """The judge settings live in JudgeSettings now (0006, copied by 0007)."""

    dependencies = [
        ('challenges', '0007_judge_settings_data'),
    ]

    operations = [
        migrations.RemoveField(model_name='phase', name='judge_api_key_env'),
        migrations.RemoveField(model_name='phase', name='judge_base_url'),
        migrations.RemoveField(model_name='phase', name='judge_enabled'),
        migrations.RemoveField(model_name='phase', name='judge_max_tokens'),
        migrations.RemoveField(model_name='phase', name='judge_model'),
        migrations.RemoveField(model_name='phase', name='judge_temperature'),
        migrations.RemoveField(model_name='phase', name='judge_templates'),
    ]
