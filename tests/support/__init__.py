"""Helpers shared by the tests and ``bench/``: no tests and no fixtures here (fixtures live in conftests).

A support module imports no conftest and no test module, so anything may import it. Layered like the
tests: ``data``, ``hostile``, ``network``, ``judge_server``, ``pycocoevalcap_reference``, ``venvs`` and
``import_all`` import no Django (the scorer's tests in ``tests/evaluation`` use them); ``service``,
``processes``, ``admin``, ``judging``, ``procfile``, ``s3_server`` and ``email_backends`` are the
service's, for ``tests/service`` (those that touch models only once Django is set up).
"""
