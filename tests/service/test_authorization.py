"""The authorization matrix: every role against every page, endpoint and email that shows organizer powers.

Organizer powers outside the admin come from ``submissions.rules.is_organizer`` alone: the organizers of
a challenge on that challenge, and site-wide the holders of ``challenges.organize_all`` (superusers hold
every permission). ``is_staff`` only opens the admin, where Django's model permissions govern: a staff
user without permissions, or with admin permissions only, is a plain signed-in user everywhere else.

The world: two challenges. On ``demo``, Team A's public entry on the validation phase (public
references), Team B's entry there hidden by the organizers, the phase's boards frozen now, and the
test phase's boards shown to organizers only. On ``other``, Team C's entry on a phase whose boards
are for organizers only. Each role walks every probe; each probe answers a label (a status code,
or what the answer showed), compared with the table below, every cell at once.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from leaderboard.boards.services import refresh_boards
from leaderboard.challenges.models import BoardVisibility, Phase, ReferenceSet
from leaderboard.notifications import services as notifications
from leaderboard.submissions import intake, scoring
from leaderboard.submissions.models import Submission
from tests.support.admin import make_organizer as make_admin_staff
from tests.support.service import (
    api_client_for,
    demo_file,
    forget_rights,
    load_test_challenge,
    make_challenge_organizer,
    make_participant,
    make_site_organizer,
)

ANONYMOUS = "anonymous"
TEAMLESS = "teamless"
STAFF = "staff_without_permissions"
ADMIN_STAFF = "staff_with_admin_permissions"
OWNER = "owner"  # Team A, whose entry is probed
OTHER_TEAM = "other_team"  # Team B, whose entry the organizers hid
DEMO_ORGANIZER = "demo_organizer"
OTHER_ORGANIZER = "other_organizer"
SITE_ORGANIZER = "site_organizer"  # challenges.organize_all, not staff
SUPERUSER = "superuser"
ROLES = (
    ANONYMOUS,
    TEAMLESS,
    STAFF,
    ADMIN_STAFF,
    OWNER,
    OTHER_TEAM,
    DEMO_ORGANIZER,
    OTHER_ORGANIZER,
    SITE_ORGANIZER,
    SUPERUSER,
)
#: Organizer powers on ``demo``, on ``other``, and over the service.
ON_DEMO = {DEMO_ORGANIZER, SITE_ORGANIZER, SUPERUSER}
ON_OTHER = {OTHER_ORGANIZER, SITE_ORGANIZER, SUPERUSER}
SITE_WIDE = {SITE_ORGANIZER, SUPERUSER}

HIDDEN_METHOD = "team-b-hidden-entry"


@dataclass
class World:
    users: dict
    own: int  # Team A's entry on demo/val
    hidden: int  # Team B's entry on demo/val, hidden
    other: int  # Team C's entry on other/val


@dataclass
class Viewer:
    role: str
    user: object
    site: Client
    api: APIClient
    world: World


def entry(user, phase, method_name: str) -> int:
    submission = intake.submit(
        user=user,
        phase=phase,
        language="zh",
        data=demo_file("val-zh.json"),
        method=intake.MethodInfo(method_name=method_name, is_public=True),
    )
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    return submission.pk


@pytest.fixture
def world(demo_val, demo_test) -> World:
    references = {reference.language: reference.narrations for reference in ReferenceSet.objects.filter(phase=demo_val)}
    load_test_challenge(references, slug="other", public=True)
    other_val = Phase.objects.get(challenge__slug="other", slug="val")

    users = {
        TEAMLESS: make_participant("tess"),
        STAFF: make_participant("stan"),
        ADMIN_STAFF: make_admin_staff("adam"),
        OWNER: make_participant("alice", "Team A"),
        OTHER_TEAM: make_participant("bob", "Team B"),
        DEMO_ORGANIZER: make_challenge_organizer(make_participant("dora"), "demo"),
        OTHER_ORGANIZER: make_challenge_organizer(make_participant("otto"), "other"),
        SITE_ORGANIZER: make_site_organizer(make_participant("sita")),
    }
    users[STAFF].is_staff = True
    users[STAFF].save()
    users[SUPERUSER] = make_participant("root")
    users[SUPERUSER].is_staff = users[SUPERUSER].is_superuser = True
    users[SUPERUSER].save()
    for user in users.values():
        user.email = f"{user.username}@example.org"
        user.save()

    own = entry(users[OWNER], demo_val, "team-a-entry")
    hidden = entry(users[OTHER_TEAM], demo_val, HIDDEN_METHOD)
    other = entry(make_participant("carol", "Team C"), other_val, "team-c-entry")
    Submission.objects.filter(pk=hidden).update(moderation="hidden", moderation_reason="duplicate")
    demo_val.frozen_at = timezone.now()
    demo_val.save()
    refresh_boards(demo_val)  # moderated by hand above, as with SQL
    for phase in (demo_test, other_val):
        phase.board_visibility = BoardVisibility.ORGANIZERS
        phase.save()
        refresh_boards(phase)
    return World(users=users, own=own, hidden=hidden, other=other)


def viewer_for(role: str, world: World) -> Viewer:
    user = world.users.get(role)
    site, api = Client(), APIClient()
    if user is not None:
        site.force_login(user)
        api = api_client_for(user)
    return Viewer(role=role, user=user, site=site, api=api, world=world)


# -- the probes ---------------------------------------------------------------------------------------------


def shown(condition: bool) -> str:
    return "shown" if condition else "hidden"


def page_shows(viewer: Viewer, url: str, text: str) -> str:
    """``shown`` when the page answers 200 with ``text``; else ``hidden``, or the redirect to sign in."""
    response = viewer.site.get(url)
    if response.status_code == 302:
        assert response.url.startswith("/accounts/login/"), response.url
        return "302"
    return shown(response.status_code == 200 and text in response.content.decode())


def json_of(viewer: Viewer, url: str) -> dict | None:
    response = viewer.api.get(url)
    return response.json() if response.status_code == 200 else None


def site_status(url: Callable[[World], str]) -> Callable[[Viewer], str]:
    return lambda viewer: str(viewer.site.get(url(viewer.world)).status_code)


def api_status(url: Callable[[World], str]) -> Callable[[Viewer], str]:
    return lambda viewer: str(viewer.api.get(url(viewer.world)).status_code)


def board_moment(data: dict | None) -> str:
    if data is None:
        return "404"
    return "live" if data["as_of"] is None else "frozen"


def digest_of(viewer: Viewer) -> str:
    """Which challenges' new submissions the role's digest lists, when the role asks for it as the page does."""
    if viewer.user is None:
        return "none"
    notifications.update_preferences(viewer.user, on_result=True, digest=True)
    mail.outbox = []
    notifications.send_digests()
    bodies = " ".join(email.body for email in mail.outbox if viewer.user.email in email.to)
    listed = [slug for slug in ("demo", "other") if f" {slug}/val " in bodies]
    return "+".join(listed) or "none"


def site_change(viewer: Viewer) -> str:
    viewer.site.post(f"/submissions/{viewer.world.own}/", {"method_name": "renamed-on-the-site", "is_public": "on"})
    return "changed" if Submission.objects.get(pk=viewer.world.own).method_name == "renamed-on-the-site" else "kept"


def api_change(viewer: Viewer) -> str:
    return str(
        viewer.api.patch(f"/api/v1/submissions/{viewer.world.own}/", {"method_name": "renamed-by-api"}).status_code
    )


def expect(default: str, *cases: tuple[set[str] | str, str]) -> dict[str, str]:
    """The label of each role: the first case naming it, else ``default``."""
    table = {}
    for role in ROLES:
        table[role] = next(
            (label for roles, label in cases if role in ({roles} if isinstance(roles, str) else roles)), default
        )
    return table


#: probe name -> (what it does, the label each role must get). Writes come last: they change the world.
PROBES: dict[str, tuple[Callable[[Viewer], str], dict[str, str]]] = {
    # The site.
    "site: an entry's page": (
        site_status(lambda w: f"/submissions/{w.own}/"),
        expect("404", ({OWNER} | ON_DEMO, "200"), (ANONYMOUS, "302")),
    ),
    "site: the judge's endpoint and costs on an entry's page": (
        lambda v: page_shows(v, f"/submissions/{v.world.own}/", 'class="facts organizers"'),
        expect("hidden", (ON_DEMO, "shown"), (ANONYMOUS, "302")),
    ),
    "site: the per-clip scores link on an entry's page": (
        lambda v: page_shows(v, f"/submissions/{v.world.own}/", "Per-clip scores (JSON)"),
        expect("hidden", ({OWNER} | ON_DEMO, "shown"), (ANONYMOUS, "302")),
    ),
    "site: an entry's page, other challenge": (
        site_status(lambda w: f"/submissions/{w.other}/"),
        expect("404", (ON_OTHER, "200"), (ANONYMOUS, "302")),
    ),
    "site: a board for organizers only": (
        site_status(lambda w: "/c/demo/test/zh/l1/"),
        expect("404", (ON_DEMO, "200")),
    ),
    "site: a board for organizers only, other challenge": (
        site_status(lambda w: "/c/other/val/zh/l1/"),
        expect("404", (ON_OTHER, "200")),
    ),
    "site: a frozen board seen live": (
        lambda v: page_shows(v, "/c/demo/val/zh/l1/", "You see the live board, as an organizer"),
        expect("hidden", (ON_DEMO, "shown")),
    ),
    "site: a hidden entry on the board": (
        lambda v: page_shows(v, "/c/demo/val/zh/l1/", HIDDEN_METHOD),
        expect("hidden", (ON_DEMO | {OTHER_TEAM}, "shown")),
    ),
    "site: the challenge page links a board for organizers only": (
        lambda v: page_shows(v, "/c/demo/", "/c/demo/test/zh/l1/"),
        expect("hidden", (ON_DEMO, "shown")),
    ),
    "site: the status page's workers and running work": (
        lambda v: page_shows(v, "/status/", 'id="workers"'),
        expect("hidden", (SITE_WIDE, "shown")),
    ),
    "site: the email page offers the digest": (
        lambda v: page_shows(v, "/account/email/", 'name="digest"'),
        expect("hidden", (ON_DEMO | ON_OTHER, "shown"), (ANONYMOUS, "302")),
    ),
    "site: my submissions lists Team B's entry": (
        lambda v: page_shows(v, "/submissions/", HIDDEN_METHOD),
        expect("hidden", (OTHER_TEAM, "shown"), (ANONYMOUS, "302")),
    ),
    # The API.
    "api: an entry": (
        api_status(lambda w: f"/api/v1/submissions/{w.own}/"),
        expect("404", ({OWNER} | ON_DEMO, "200"), (ANONYMOUS, "401")),
    ),
    "api: the judge's endpoint and costs of an entry": (
        lambda v: shown("accounting" in ((json_of(v, f"/api/v1/submissions/{v.world.own}/") or {}).get("judge") or {})),
        expect("hidden", (ON_DEMO, "shown")),
    ),
    "api: an entry's per-clip scores": (
        api_status(lambda w: f"/api/v1/submissions/{w.own}/clip-scores/"),
        expect("404", ({OWNER} | ON_DEMO, "200"), (ANONYMOUS, "401")),
    ),
    "api: an entry, other challenge": (
        api_status(lambda w: f"/api/v1/submissions/{w.other}/"),
        expect("404", (ON_OTHER, "200"), (ANONYMOUS, "401")),
    ),
    "api: an entry's per-clip scores, other challenge": (
        api_status(lambda w: f"/api/v1/submissions/{w.other}/clip-scores/"),
        expect("404", (ON_OTHER, "200"), (ANONYMOUS, "401")),
    ),
    "api: a board for organizers only": (
        api_status(lambda w: "/api/v1/challenges/demo/phases/test/leaderboards/zh/l1/"),
        expect("404", (ON_DEMO, "200")),
    ),
    "api: a board for organizers only, other challenge": (
        api_status(lambda w: "/api/v1/challenges/other/phases/val/leaderboards/zh/l1/"),
        expect("404", (ON_OTHER, "200")),
    ),
    "api: a frozen board seen live": (
        lambda v: board_moment(json_of(v, "/api/v1/challenges/demo/phases/val/leaderboards/zh/l1/")),
        expect("frozen", (ON_DEMO, "live")),
    ),
    "api: a hidden entry on the board": (
        lambda v: shown(
            HIDDEN_METHOD
            in [
                row["method_name"]
                for row in json_of(v, "/api/v1/challenges/demo/phases/val/leaderboards/zh/l1/")["rows"]
            ]
        ),
        expect("hidden", (ON_DEMO | {OTHER_TEAM}, "shown")),
    ),
    "api: the judge of a phase whose boards are for organizers only": (
        api_status(lambda w: "/api/v1/challenges/demo/phases/test/judge/"),
        expect("404", (ON_DEMO, "200")),
    ),
    "api: the status's workers and running work": (
        lambda v: shown("organizer" in json_of(v, "/api/v1/status/")),
        expect("hidden", (SITE_WIDE, "shown")),
    ),
    "api: my submissions lists Team B's entry": (
        lambda v: shown(HIDDEN_METHOD in v.api.get("/api/v1/submissions/").content.decode()),
        expect("hidden", (OTHER_TEAM, "shown")),
    ),
    # Email and the admin.
    "email: the digest lists the new submissions of": (
        digest_of,
        expect("none", (DEMO_ORGANIZER, "demo"), (OTHER_ORGANIZER, "other"), (SITE_WIDE, "demo+other")),
    ),
    "admin: the submissions (Django's permissions)": (
        site_status(lambda w: "/admin/submissions/submission/"),
        expect("302", ({ADMIN_STAFF, SUPERUSER}, "200"), (STAFF, "403")),
    ),
    # Writes: only the team changes its entry; organizers moderate in the admin.
    "site: change an entry": (
        site_change,
        expect("kept", (OWNER, "changed")),
    ),
    "api: change an entry": (
        api_change,
        expect("404", (OWNER, "200"), (ON_DEMO, "403"), (ANONYMOUS, "401")),
    ),
}


def test_the_matrix_has_every_role_and_staff_alone_is_a_plain_user():
    assert len(PROBES) * len(ROLES) == 280  # the cells docs/reliability.md counts
    for name, (_, expected) in PROBES.items():
        assert set(expected) == set(ROLES), name
        # Outside the admin, is_staff (with or without admin permissions) gives nothing: a teamless signed-in user.
        if not name.startswith("admin:"):
            assert expected[STAFF] == expected[ADMIN_STAFF] == expected[TEAMLESS], name


@pytest.mark.parametrize("role", ROLES)
def test_the_authorization_matrix(role, world):
    viewer = viewer_for(role, world)
    observed = {name: probe(viewer) for name, (probe, _) in PROBES.items()}
    expected = {name: cells[role] for name, (_, cells) in PROBES.items()}
    wrong = {
        name: f"got {observed[name]}, expected {expected[name]}" for name in PROBES if observed[name] != expected[name]
    }
    assert not wrong, f"{role}: {wrong}"


# -- naming organizers ---------------------------------------------------------------------------------------


def test_the_command_names_and_removes_organizers_with_audit_events(demo_challenge):
    from django.core.management import CommandError, call_command

    from leaderboard.audit.models import AuditEvent
    from leaderboard.submissions import rules

    dora = make_participant("dora")
    call_command("add_organizer", "dora", "demo", "--reason", "runs the demo", stdout=io.StringIO())
    assert rules.is_organizer(forget_rights(dora), demo_challenge) and not rules.organizes_all(dora)
    event = AuditEvent.objects.get(action="challenge.organizers")
    assert (event.actor_label, event.reason, event.details["added"]) == (
        "command add_organizer",
        "runs the demo",
        ["dora"],
    )

    out = io.StringIO()
    call_command("add_organizer", "dora", "--all", stdout=out)
    assert rules.organizes_all(forget_rights(dora)) and "dora organizes every challenge" in out.getvalue()
    call_command("add_organizer", "dora", "demo", "--all", "--remove", stdout=io.StringIO())
    assert not rules.is_organizer(forget_rights(dora), demo_challenge)
    assert list(AuditEvent.objects.order_by("pk").values_list("action", flat=True)) == [
        "challenge.organizers",
        "user.organize_all",
        "challenge.organizers",
        "user.organize_all",
    ]
    with pytest.raises(CommandError, match="no challenge 'nope'"):
        call_command("add_organizer", "dora", "nope")
    with pytest.raises(CommandError, match="name at least one challenge, or --all"):
        call_command("add_organizer", "dora")


def test_the_admin_names_organizers_on_the_challenge_with_an_audit_event(demo_challenge, admin_user):
    from leaderboard.audit.models import AuditEvent
    from tests.support.admin import change_form_data, logged_in

    dora = make_participant("dora")
    client = logged_in(admin_user)
    url = f"/admin/challenges/challenge/{demo_challenge.pk}/change/"
    data = change_form_data(client.get(url))
    data["organizers"] = [dora.pk]
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(demo_challenge.organizers.all()) == [dora]
    event = AuditEvent.objects.get(action="challenge.organizers")
    assert (event.actor, event.details["added"], event.details["removed"]) == (admin_user, ["dora"], [])
