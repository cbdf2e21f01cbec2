from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from leaderboard.challenges.models import Challenge
from leaderboard.challenges.organizers import set_organizer, set_organizes_all
from leaderboard.submissions import rules

from ._audit_options import add_audit_arguments, audit_actor

COMMAND = "add_organizer"


class Command(BaseCommand):
    help = (
        "Make USERNAME an organizer of the challenges named (their submissions, hidden and live boards, judge "
        "costs and digest, on the site and the API), or with --all of every challenge and the status page's "
        "workers. --remove takes the rights back. Each change is recorded in the audit log. The admin is "
        "separate: it needs is_staff and Django's model permissions."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("challenges", nargs="*", metavar="CHALLENGE", help="challenge slugs")
        parser.add_argument(
            "--all", action="store_true", help="every challenge (the challenges.organize_all permission)"
        )
        parser.add_argument("--remove", action="store_true", help="take the rights named back")
        add_audit_arguments(parser, command=COMMAND, default_reason="none")

    def handle(self, username, challenges, all=False, remove=False, reason="", actor=None, **options):
        if not challenges and not all:
            raise CommandError("name at least one challenge, or --all")
        audit_as = audit_actor(actor, command=COMMAND)
        try:
            user = get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user {username!r}") from None
        found = {challenge.slug: challenge for challenge in Challenge.objects.filter(slug__in=challenges)}
        unknown = sorted(set(challenges) - set(found))
        if unknown:
            raise CommandError(f"no challenge {', '.join(map(repr, unknown))}")
        verb = "no longer" if remove else "now"
        for slug in challenges:
            changed = set_organizer(audit_as, found[slug], user, organizer=not remove, reason=reason.strip())
            self.stdout.write(f"{username} is {verb} an organizer of {slug}" + ("" if changed else " (unchanged)"))
        if all:
            changed = set_organizes_all(audit_as, user, organizer=not remove, reason=reason.strip())
            self.stdout.write(f"{username} {verb} organizes every challenge" + ("" if changed else " (unchanged)"))
        user = get_user_model().objects.get(pk=user.pk)  # fresh: no cached permissions
        if rules.organizes_all(user):
            self.stdout.write(f"{username} organizes every challenge")
        else:
            names = ", ".join(rules.challenges_organized_by(user).values_list("slug", flat=True)) or "no challenge"
            self.stdout.write(f"{username} organizes: {names}")
