"""Paged lists: ``?limit=`` and ``?offset=``, checked.

DRF's ``LimitOffsetPagination`` ignores a value it cannot read (``limit=-1``, ``offset=x``) and answers
the default page, so a typo goes unnoticed; here such a value answers 400, naming the parameter and
its bounds, as the schema says.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import pagination
from rest_framework.exceptions import ParseError


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    max_limit = 1000
    #: Far beyond any list, and within PostgreSQL's integers.
    max_offset = 2**31 - 1

    def get_limit(self, request) -> int:
        return self._bounded(request, self.limit_query_param, 1, self.max_limit, self.default_limit)

    def get_offset(self, request) -> int:
        return self._bounded(request, self.offset_query_param, 0, self.max_offset, 0)

    @staticmethod
    def _bounded(request, name: str, minimum: int, maximum: int, default: int) -> int:
        if name not in request.query_params:
            return default
        text = request.query_params[name]
        # Plain ASCII digits only: no sign, spaces or other scripts' digits, and no 4,300-digit int().
        value = int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None
        if value is None or not minimum <= value <= maximum:
            raise ParseError(
                _("The query parameter %(name)s must be a whole number from %(minimum)d to %(maximum)d; got %(got)s.")
                % {"name": name, "minimum": minimum, "maximum": maximum, "got": repr(text[:40])},
                code="invalid_query",
            )
        return value

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: (1, self.max_limit, self.default_limit),
            self.offset_query_param: (0, self.max_offset, 0),
        }
        for parameter in parameters:
            minimum, maximum, default = bounds[parameter["name"]]
            parameter["schema"].update(minimum=minimum, maximum=maximum, default=default)
            parameter["description"] = f"{parameter['description']} {minimum} to {maximum}; otherwise 400."
        return parameters
