"""JSON in and out of the REST API, hardened against input that is valid for Python but not for the
response or the database (settings.REST_FRAMEWORK uses these instead of DRF's own classes).

- A body nested too deep for Python's parser is a 400 ("not valid JSON"), not a RecursionError (500).
- `LenientJSONParser` reads NaN/Infinity as numbers, for the bulk endpoints that promise per-item
  results: the item holding them is rejected with its reason instead of the whole request.
- The renderer writes a lone surrogate echoed in a message as the JSON escape `\\udxxx` (what
  `ensure_ascii` does) instead of failing to encode the response.
"""

from __future__ import annotations

import json

from django.utils.translation import gettext as _
from rest_framework import parsers, renderers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("The body is nested too deeply to be read as JSON."))


class LenientJSONParser(JSONParser):
    """NaN and Infinity are read (and then refused item by item by the endpoint's validation)."""

    strict = False


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        indent = self.get_indent(accepted_media_type, renderer_context or {})
        if indent is None:
            separators = renderers.SHORT_SEPARATORS if self.compact else renderers.LONG_SEPARATORS
        else:
            separators = renderers.INDENT_SEPARATORS
        text = json.dumps(
            data,
            cls=self.encoder_class,
            indent=indent,
            ensure_ascii=self.ensure_ascii,
            allow_nan=not self.strict,
            separators=separators,
        )
        # As DRF: \u2028/\u2029 escaped so the output stays a JavaScript subset.
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        return text.encode("utf-8", errors="backslashreplace")
