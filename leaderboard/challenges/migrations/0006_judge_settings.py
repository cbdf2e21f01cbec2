import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """A phase's judge settings move to a model of their own (0007 copies them, 0008 drops Phase's)."""

    dependencies = [
        ('challenges', '0005_judge_templates_help'),
    ]

    operations = [
        migrations.CreateModel(
            name='JudgeSettings',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('enabled', models.BooleanField(default=True, help_text='Compute L1 and L2 with the LLM judge, when one is configured.')),
                ('base_url', models.CharField(blank=True, help_text='OpenAI-compatible endpoint, e.g. http://vllm:8000/v1. Empty: JUDGE_BASE_URL.', max_length=300)),
                ('model', models.CharField(blank=True, help_text='Empty: JUDGE_MODEL.', max_length=200)),
                ('api_key_env', models.CharField(blank=True, help_text="The environment variable that holds this phase's API key on the judge workers. Empty: JUDGE_API_KEY. Keys are never stored in the database.", max_length=100)),
                ('temperature', models.FloatField(blank=True, help_text='Empty: JUDGE_TEMPERATURE (0).', null=True)),
                ('max_tokens', models.PositiveIntegerField(blank=True, help_text='Empty: JUDGE_MAX_TOKENS.', null=True, validators=[django.core.validators.MinValueValidator(1)])),
                ('templates', models.JSONField(blank=True, default=dict, help_text='Prompt templates replacing ours: {"l1": {"zh": {"system": "...", "user": "...{reference}...{prediction}...", "parser": "json" or "comma"}}}. Stages and languages left out keep ours. Published with the boards: put nothing secret in them.')),
                ('phase', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='judge_settings', to='challenges.phase')),
            ],
            options={
                'verbose_name': 'judge settings',
                'verbose_name_plural': 'judge settings',
            },
        ),
    ]
