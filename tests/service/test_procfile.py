"""The Procfile's processes, as production runs them, take a real test-split submission to the board.

The run itself is tests/support/procfile.py, shared with tests/service/test_install_service.py (which
runs it from a fresh virtualenv holding only requirements.txt); here it runs from the interpreter
running the tests (the dev ``.venv``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.procfile import procfile_processes, submission_reaches_the_stage_boards


@pytest.mark.slow
def test_a_test_split_submission_goes_through_the_procfile_processes(
    transactional_db, tmp_path, fake_judge, alice, real_test_split
):
    # The interpreter running the tests: the dev .venv under ./run-tests and CI.
    with procfile_processes(Path(sys.executable).parent, tmp_path, fake_judge) as running:
        submission_reaches_the_stage_boards(running, fake_judge, alice, real_test_split["zh"], "zh")
