"""Per-movie and per-genre breakdowns (issue 11): computed on write, exact per metric, shown to whom the rules say."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

import evaluation
from evaluation.movie101v2 import read_split, split_movies
from evaluation.stats import movie_of
from leaderboard.audit.models import AuditEvent
from leaderboard.challenges.bundle_export import challenge_bundle
from leaderboard.challenges.bundles import BundleError, validate_bundle
from leaderboard.challenges.genres import GENRES_EN, genre_en
from leaderboard.challenges.management.commands.load_demo import DEMO_BUNDLE
from leaderboard.challenges.models import Movie, Phase
from leaderboard.challenges.services import load_bundle
from leaderboard.judging import runner
from leaderboard.judging.finishing import Outcome
from leaderboard.submissions import intake, moderation, scoring
from leaderboard.submissions.models import Result, Submission
from tests.support.data import DEMO_DATA
from tests.support.judging import run_of, scored_submission
from tests.support.service import api_client_for, demo_file, make_challenge_organizer, make_participant

SAME = 1e-9
VAL_MOVIES = ("9100000000000000001", "9100000000000000002")


def url(submission: Submission) -> str:
    return f"/api/v1/submissions/{submission.pk}/breakdown/"


def submit(user, phase: Phase, name: str, *, public: bool = True, language: str = "zh") -> Submission:
    submission = intake.submit(
        user=user,
        phase=phase,
        language=language,
        data=demo_file(name),
        filename="p.json",
        method=intake.MethodInfo(method_name="m", is_public=public),
    )
    assert scoring.score_submission(submission.pk).outcome == scoring.Outcome.FINISHED
    return Submission.objects.get(pk=submission.pk)


def breakdown_of(submission: Submission) -> dict:
    return Result.objects.only("breakdown").get(pk=submission.current_result_id).breakdown


@pytest.fixture
def genres(demo_val):
    """The first val film is a comedy and a romance, the second a comedy: a movie in two genres."""
    Movie.objects.filter(movie_id=VAL_MOVIES[0]).update(genres=["喜剧", "爱情"])
    Movie.objects.filter(movie_id=VAL_MOVIES[1]).update(genres=["喜剧", "未知类型"])


# -- the numbers ----------------------------------------------------------------------------------


def test_load_demo_fills_the_movies_from_the_demo_metadata(demo_challenge):
    movies = {movie.movie_id: movie for movie in Movie.objects.all()}
    assert set(movies) == {*split_movies(DEMO_DATA, "val"), *split_movies(DEMO_DATA, "test")}
    lighthouse = movies[VAL_MOVIES[0]]
    assert (lighthouse.title, lighthouse.year, lighthouse.genres) == ("The Lighthouse Keeper", 2026, ["剧情", "悬疑"])


def test_each_metric_per_movie_equals_its_own_independent_computation(alice, demo_val, genres):
    submission = submit(alice, demo_val, "val-zh.json")
    result = Result.objects.get(pk=submission.current_result_id)
    breakdown = result.breakdown
    references = read_split(DEMO_DATA, "val", "zh")
    predictions = json.loads(demo_file("val-zh.json"))
    assert [movie["movie_id"] for movie in breakdown["movies"]] == list(VAL_MOVIES)
    for movie in breakdown["movies"]:
        clips = sorted(clip for clip in references if movie_of(clip) == movie["movie_id"])
        assert movie["clips"] == len(clips)
        alone = evaluation.score(
            {clip: references[clip] for clip in clips}, {clip: predictions[clip] for clip in clips}, "zh"
        )
        # BLEU and METEOR are corpus statistics of the movie's clips: scoring the movie alone gives them.
        # ROUGE-L is per clip, so the movie alone gives the mean too.
        for name in ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l"):
            assert movie["scores"][name] == pytest.approx(alone.metrics[name], abs=SAME), name
        # CIDEr's document frequencies come from the whole split: the mean of the full-set per-clip scores.
        full_set = [result.per_clip[clip]["cider"] for clip in clips]
        assert movie["scores"]["cider"] == pytest.approx(sum(full_set) / len(full_set), abs=SAME)
    # A genre counts every clip of its movies: both films are comedies, so the comedy row is the whole split.
    comedy = next(genre for genre in breakdown["genres"] if genre["genre"] == "喜剧")
    assert (comedy["genre_en"], comedy["movies"], comedy["clips"]) == ("Comedy", 2, result.clips)
    for name, value in result.metrics.items():
        assert comedy["scores"][name] == pytest.approx(value, abs=SAME), name
    # ... and a movie in two genres counts in both: the romance row is the first film's.
    romance = next(genre for genre in breakdown["genres"] if genre["genre"] == "爱情")
    assert romance["scores"] == breakdown["movies"][0]["scores"] and romance["movies"] == 1


def test_genres_map_to_english_and_unknown_ones_stay_in_chinese(alice, demo_val, genres):
    assert genre_en("喜剧") == "Comedy" and genre_en("剧情") == "Drama" and genre_en("未知类型") == "未知类型"
    body = api_client_for(alice).get(url(submit(alice, demo_val, "val-zh.json"))).json()
    names = {genre["genre"]: genre["genre_en"] for genre in body["genres"]}
    assert names == {"喜剧": "Comedy", "爱情": "Romance", "未知类型": "未知类型"}
    assert body["genres"][0]["genre"] == "喜剧"  # most clips first


def test_every_genre_of_the_real_release_has_an_english_name(real_data):
    named = set()
    for path in (real_data / "metadata").glob("*.json"):
        named.update(json.loads(path.read_text(encoding="utf-8"))["genre"])
    assert len(named) == 47 and named <= GENRES_EN.keys()


def test_the_judges_metrics_join_the_breakdown(alice, judged_val):
    submission = scored_submission(alice, judged_val, "en")
    assert "l1" not in breakdown_of(submission)["movies"][0]["scores"]
    assert runner.judge_result(run_of(submission).pk).outcome == Outcome.COMPLETE
    submission.refresh_from_db()
    result = Result.objects.get(pk=submission.current_result_id)
    for movie in result.breakdown["movies"]:
        scores = [values["l1"] for clip, values in result.per_clip.items() if movie_of(clip) == movie["movie_id"]]
        assert movie["scores"]["l1"] == pytest.approx(sum(scores) / len(scores), abs=SAME)
    # A genre's L2 is the mean over the clips of its movies (the demo's metadata gives each film its genres).
    genres_of = {movie["movie_id"]: movie["genres"] for movie in result.breakdown["movies"]}
    for genre in result.breakdown["genres"]:
        scores = [
            values["l2"] for clip, values in result.per_clip.items() if genre["genre"] in genres_of[movie_of(clip)]
        ]
        assert genre["clips"] == len(scores)
        assert genre["scores"]["l2"] == pytest.approx(sum(scores) / len(scores), abs=SAME)


def test_a_rescore_and_fill_intervals_keep_breakdowns(alice, demo_val):
    submission = submit(alice, demo_val, "val-zh.json")
    first = breakdown_of(submission)
    again = scoring.rescore(submission.pk)
    assert again is not None and Result.objects.get(pk=again.pk).breakdown == first
    # An old result, or one written before its movies' metadata came: the command fills it in.
    Result.objects.update(breakdown={})
    out = io.StringIO()
    call_command("fill_intervals", stdout=out)
    assert "2 results given their per-movie and per-genre breakdown" in out.getvalue()
    assert breakdown_of(submission) == first
    Movie.objects.filter(movie_id=VAL_MOVIES[0]).update(title="The Lighthouse Keeper (2nd cut)")
    call_command("fill_intervals", stdout=out)
    assert breakdown_of(submission)["movies"][0]["title"] == "The Lighthouse Keeper (2nd cut)"
    quiet = io.StringIO()
    call_command("fill_intervals", stdout=quiet)
    assert "0 results given their per-movie" in quiet.getvalue()


# -- who sees it ----------------------------------------------------------------------------------


def test_public_references_team_organizer_and_the_public_for_a_public_entry(alice, bob, demo_val):
    public = submit(alice, demo_val, "val-zh.json")
    private = submit(alice, demo_val, "val-zh.json", public=False)
    organizer = make_challenge_organizer(make_participant("olga"), "demo")
    full = breakdown_of(public)
    for client in (api_client_for(alice), api_client_for(organizer), api_client_for(bob), APIClient()):
        body = client.get(url(public)).json()
        assert body["rounded"] is False and body["movies"] == full["movies"] and body["result"]
    for client in (api_client_for(alice), api_client_for(organizer)):
        assert client.get(url(private)).status_code == 200
    for client in (api_client_for(bob), APIClient()):
        assert client.get(url(private)).status_code == 404
    assert APIClient().get("/api/v1/submissions/999999/breakdown/").status_code == 404


def test_hidden_references_rounded_and_public_only_when_the_phase_says_so(alice, bob, demo_test):
    public = submit(alice, demo_test, "test-zh.json")
    # Another team's private entry (a team may not upload the same file twice on a hidden phase).
    carol = make_participant("carol", "Team C")
    private = submit(carol, demo_test, "test-zh.json", public=False)
    assert api_client_for(carol).get(url(private)).json()["rounded"] is True
    organizer = make_challenge_organizer(make_participant("olga"), "demo")
    full = breakdown_of(public)

    organizers = api_client_for(organizer).get(url(public)).json()
    assert organizers["rounded"] is False and organizers["movies"] == full["movies"]
    team = api_client_for(alice).get(url(public)).json()
    assert team["rounded"] is True
    for shown, stored in zip(team["movies"], full["movies"], strict=True):
        assert shown["scores"] == {name: round(value, 4) for name, value in stored["scores"].items()}
    # Per-clip scores on a hidden phase stay organizers-only, breakdown or not.
    assert api_client_for(alice).get(f"/api/v1/submissions/{public.pk}/clip-scores/").status_code == 403

    # Off (the default): the public is told the organizers do not publish them; a private entry does not exist.
    for client in (api_client_for(alice), api_client_for(bob), APIClient()):
        assert client.get(url(private)).status_code == 404
    for client in (api_client_for(bob), APIClient()):
        assert client.get(url(public)).status_code == 403
    demo_test.public_movie_breakdown = True
    demo_test.save()
    for client in (api_client_for(bob), APIClient()):
        body = client.get(url(public)).json()
        assert body["rounded"] is True and body["movies"] == team["movies"]
        assert client.get(url(private)).status_code == 404
    # A moderated entry leaves the public boards, and its breakdown with it.
    moderation.hide(organizer, public.pk, "spam")
    assert APIClient().get(url(public)).status_code == 404
    assert api_client_for(alice).get(url(public)).status_code == 200


def test_the_submission_page_shows_both_tables_in_english_with_the_chinese_escaped(alice, demo_val, genres):
    Movie.objects.filter(movie_id=VAL_MOVIES[1]).update(title="夜市 <b>&</b>")
    submission = submit(alice, demo_val, "val-zh.json")
    client = Client()
    client.force_login(alice)
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert 'id="breakdown-movies"' in page and 'id="breakdown-genres"' in page
    # Genres in the page's language (Chinese pages: tests/service/test_bilingual_texts.py); one the table
    # does not know stays in Chinese, marked as such.
    assert '<th scope="row">Comedy</th>' in page and "Comedy, Romance" in page and "喜剧" not in page
    assert '<span lang="zh">未知类型</span>' in page
    assert '<span lang="zh">夜市 &lt;b&gt;&amp;&lt;/b&gt;</span>' in page and "<b>&</b>" not in page
    assert f'href="/api/v1/submissions/{submission.pk}/breakdown/"' in page


def test_public_movie_breakdown_is_a_bundle_setting_and_its_changes_are_audited(demo_test, demo_challenge):
    bundle, _ = challenge_bundle(demo_challenge)
    assert [phase["public_movie_breakdown"] for phase in bundle["phases"]] == [False, False]
    bundle["phases"][1]["public_movie_breakdown"] = True
    spec = validate_bundle(bundle, base_dir=DEMO_BUNDLE.parent)
    load_bundle(spec, actor="tester", reason="publish the per-movie scores")
    demo_test.refresh_from_db()
    assert demo_test.public_movie_breakdown is True
    event = AuditEvent.objects.get(action="phase.change")
    assert event.details == {"changes": {"public_movie_breakdown": [False, True]}}
    bundle["phases"][1]["public_movie_breakdown"] = "yes"
    with pytest.raises(BundleError, match="public_movie_breakdown"):
        validate_bundle(bundle, base_dir=DEMO_BUNDLE.parent)


# -- the real data ----------------------------------------------------------------------------------


def test_import_movie101v2_fills_the_movies_from_the_real_metadata(db, real_data):
    call_command("import_movie101v2", str(real_data), stdout=io.StringIO())
    wanted = {*split_movies(real_data, "val"), *split_movies(real_data, "test")}
    movies = {movie.movie_id: movie for movie in Movie.objects.all()}
    assert set(movies) == wanted and len(wanted) == 20
    for movie_id in wanted:
        metadata = json.loads((real_data / "metadata" / f"{movie_id}.json").read_text(encoding="utf-8"))
        movie = movies[movie_id]
        assert (movie.title, movie.year, movie.genres) == (metadata["title"], int(metadata["year"]), metadata["genre"])
    out = io.StringIO()
    call_command("import_movie101v2", str(real_data), stdout=out)
    assert "movies: 20 unchanged" in out.getvalue()


# -- the public entry page ---------------------------------------------------------------------------


def test_a_public_entry_has_a_page_with_its_intervals_and_breakdown(alice, bob, demo_val):
    public = submit(alice, demo_val, "val-zh.json")
    Submission.objects.filter(pk=public.pk).update(method_name="<script>x</script> & co")
    private = submit(alice, demo_val, "val-zh.json", public=False)
    page = Client().get(f"/entries/{public.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "&lt;script&gt;x&lt;/script&gt; &amp; co" in html and "<script>x</script>" not in html
    result = Result.objects.get(pk=public.current_result_id)
    low, high = result.intervals["metrics"]["rouge_l"]
    assert f"[{low:.4f}, {high:.4f}]" in html and 'id="breakdown-movies"' in html
    # The board links each entry to its page.
    assert f'href="/entries/{public.pk}/"' in Client().get("/c/demo/val/zh/l1/").content.decode()
    assert Client().get(f"/entries/{private.pk}/").status_code == 404
    bob_client = Client()
    bob_client.force_login(bob)
    assert bob_client.get(f"/entries/{private.pk}/").status_code == 404
    alice_client = Client()
    alice_client.force_login(alice)
    assert alice_client.get(f"/entries/{private.pk}/").status_code == 200


def test_a_hidden_phase_entry_page_shows_rounded_scores_and_no_breakdown_unless_published(alice, demo_test):
    public = submit(alice, demo_test, "test-zh.json")
    html = Client().get(f"/entries/{public.pk}/").content.decode()
    assert 'id="entry-scores"' in html and 'id="breakdown-movies"' not in html
    assert "do not publish per-movie scores" in html
    result = Result.objects.get(pk=public.current_result_id)
    exact = result.metrics["rouge_l"]
    assert f"{round(exact, 4):.4f}" in html and repr(exact) not in html
    demo_test.public_movie_breakdown = True
    demo_test.save()
    assert 'id="breakdown-movies"' in Client().get(f"/entries/{public.pk}/").content.decode()
