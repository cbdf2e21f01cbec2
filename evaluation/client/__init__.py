"""``movie101v2``: the participants' client of the leaderboard service. Plain Python, standard library only.

``login`` keeps a server and an API token; ``phases`` lists the phases with their windows and what the team
has left today; ``validate`` checks a file offline with the server's own validator (``evaluation.validate``)
against the phase's clip ids; ``submit`` uploads and follows the scoring; ``status`` and ``scores`` print a
submission and its place on the boards. Exit codes are in :mod:`evaluation.client.exits`.
"""
