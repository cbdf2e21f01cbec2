"""The boards: their definitions, the ranking rule, and the rows each board shows, stored on write.

A write that can move a board (a result stored or promoted, a moderation, a ban, a bundle
reload) calls ``services.refresh_boards`` in its transaction; a board page or API call then
reads one short list of stored rows (``selectors.board_view``).
"""
