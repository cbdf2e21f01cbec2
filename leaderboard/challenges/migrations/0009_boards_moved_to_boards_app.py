# Board and Baseline moved to the boards app (boards.0001_initial, which also renames their tables).
# Only the migration state changes here: the tables live on under their new names.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('challenges', '0008_remove_phase_judge_fields'),
        ('boards', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='Baseline'),
                migrations.DeleteModel(name='Board'),
            ],
        ),
    ]
