"""Send organizers their digest of new submissions: for cron, beside (or instead of) Celery beat."""

from django.core.management.base import BaseCommand

from leaderboard.notifications import services


class Command(BaseCommand):
    help = "Email each organizer who opted in the submissions created since their last digest."

    def handle(self, *args, **options):
        sent = services.send_digests()
        self.stdout.write(f"sent {sent} digest(s)")
        for username in services.organizers_without_address():
            self.stdout.write(f"{username} asked for the digest but has no email address")
