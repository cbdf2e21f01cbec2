from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("challenges", "0010_challenge_organizers"),
    ]

    operations = [
        migrations.AddField(
            model_name="phase",
            name="min_changed_clips",
            field=models.PositiveIntegerField(
                blank=True,
                help_text=(
                    "Refuse an upload that differs from one of the team's earlier submissions (same language) in fewer "
                    "clips than this: pairs of nearly equal files rebuild hidden per-clip scores. 0: off. Empty: the "
                    "default, off with public references; with hidden ones a tenth of the clips, at least 2, at most 50."
                ),
                null=True,
            ),
        ),
    ]
