"""The judge protocol's name, in a module of its own so the cache and the runner both import it.

It names what the model, the templates and the temperature do not: where the
narrations go in the prompt, how answers are parsed, how scores are
aggregated. It is part of every cache key and of the judge signature, so
changing those rules (and this name with them) never reuses an old answer
and never ranks old and new numbers together.
"""

JUDGE_PROTOCOL = "movie101v2-judge/1"
