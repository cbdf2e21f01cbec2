# Board and Baseline move here from the challenges app with their rows: the state is created over
# the existing tables (challenges_board, challenges_baseline), which are then renamed; content
# types follow, so admin history and permissions keep pointing at the same models.

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


def _relabel(apps, old, new):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label=old, model__in=["board", "baseline"]).update(app_label=new)


def move_content_types(apps, schema_editor):
    _relabel(apps, "challenges", "boards")


def move_content_types_back(apps, schema_editor):
    _relabel(apps, "boards", "challenges")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('challenges', '0008_remove_phase_judge_fields'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('submissions', '0004_result_rescore_key'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Board',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key', models.SlugField()),
                        ('title', models.CharField(max_length=200)),
                        ('description', models.TextField(blank=True)),
                        ('primary_metric', models.CharField(max_length=40)),
                        ('secondary_metrics', models.JSONField(blank=True, default=list)),
                        ('precision', models.PositiveSmallIntegerField(default=4, help_text='Decimals shown.', validators=[django.core.validators.MaxValueValidator(10)])),
                        ('order', models.PositiveIntegerField(default=0)),
                        ('phase', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='boards', to='challenges.phase')),
                    ],
                    options={
                        'ordering': ['phase', 'order', 'key'],
                        'constraints': [models.UniqueConstraint(fields=('phase', 'key'), name='unique_board_key')],
                        'db_table': 'challenges_board',
                    },
                ),
                migrations.CreateModel(
                    name='Baseline',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('language', models.CharField(choices=[('zh', 'Chinese'), ('en', 'English')], max_length=2)),
                        ('key', models.SlugField(help_text='Names the row in the bundle.')),
                        ('method_name', models.CharField(max_length=200)),
                        ('citation', models.CharField(help_text='Where the numbers come from, e.g. the paper.', max_length=500)),
                        ('url', models.URLField(blank=True, max_length=500)),
                        ('scores', models.JSONField(help_text="metric name -> value, on the metrics' own scale")),
                        ('order', models.PositiveIntegerField(default=0)),
                        ('phase', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='baselines', to='challenges.phase')),
                    ],
                    options={
                        'ordering': ['phase', 'language', 'order', 'key'],
                        'constraints': [models.UniqueConstraint(fields=('phase', 'language', 'key'), name='unique_baseline_key')],
                        'db_table': 'challenges_baseline',
                    },
                ),
            ],
        ),
        migrations.AlterModelTable(name='board', table=None),
        migrations.AlterModelTable(name='baseline', table=None),
        migrations.RunPython(move_content_types, move_content_types_back),
        migrations.CreateModel(
            name='BoardEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('language', models.CharField(choices=[('zh', 'Chinese'), ('en', 'English')], max_length=2)),
                ('moment', models.CharField(choices=[('live', 'Live'), ('frozen', 'At the freeze date')], max_length=8)),
                ('position', models.PositiveIntegerField()),
                ('rank', models.PositiveIntegerField(blank=True, null=True)),
                ('team_id', models.BigIntegerField(blank=True, null=True)),
                ('team_name', models.CharField(blank=True, max_length=200)),
                ('method_name', models.CharField(blank=True, max_length=200)),
                ('submitted_at', models.DateTimeField(blank=True, null=True)),
                ('scores', models.JSONField(default=dict)),
                ('paper_url', models.CharField(blank=True, max_length=500)),
                ('code_url', models.CharField(blank=True, max_length=500)),
                ('missing_clips', models.PositiveIntegerField(default=0)),
                ('judge_model', models.CharField(blank=True, max_length=200)),
                ('other_judge_scores', models.JSONField(blank=True, default=dict)),
                ('other_judge', models.CharField(blank=True, max_length=32)),
                ('baseline', models.BooleanField(default=False)),
                ('citation', models.CharField(blank=True, max_length=500)),
                ('moderation', models.CharField(blank=True, max_length=16)),
                ('moderation_reason', models.TextField(blank=True)),
                ('board', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='entries', to='boards.board')),
                ('submission', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='submissions.submission')),
            ],
            options={
                'verbose_name_plural': 'board entries',
                'ordering': ['board', 'language', 'moment', 'position'],
            },
        ),
        migrations.CreateModel(
            name='BoardSnapshot',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('language', models.CharField(choices=[('zh', 'Chinese'), ('en', 'English')], max_length=2)),
                ('moment', models.CharField(choices=[('live', 'Live'), ('frozen', 'At the freeze date')], max_length=8)),
                ('inputs', models.CharField(max_length=64)),
                ('ranked_at', models.DateTimeField()),
                ('phase', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='board_snapshots', to='challenges.phase')),
            ],
        ),
        migrations.AddConstraint(
            model_name='boardentry',
            constraint=models.UniqueConstraint(fields=('board', 'language', 'moment', 'position'), name='one_entry_per_board_position'),
        ),
        migrations.AddConstraint(
            model_name='boardsnapshot',
            constraint=models.UniqueConstraint(fields=('phase', 'language', 'moment'), name='one_snapshot_per_board_moment'),
        ),
    ]
