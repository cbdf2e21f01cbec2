"""What the client's exit status tells a script."""

from __future__ import annotations

#: Done as asked: a valid file, an upload scored, a submission shown.
OK = 0
#: Anything else: the network, the server's address, the token, an unknown phase or submission.
ERROR = 1
#: The file is invalid (offline, or the server's 400): nothing was stored and no limit used.
INVALID = 2
#: The server refused the upload: a limit used up, the phase not open, too many uploads, a near-duplicate.
REFUSED = 3
#: The submission was accepted, but its scoring failed (status ``failed``).
FAILED = 4
#: Interrupted (Ctrl-C) while waiting: the submission goes on being scored.
INTERRUPTED = 130
