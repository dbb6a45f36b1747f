"""How the app reads JSON bodies: a body nested too deep for the parser is bad input (a 400), not a crash."""
from flask.json.provider import DefaultJSONProvider


class JSONProvider(DefaultJSONProvider):
    """Flask's provider, except that a RecursionError while parsing (JSON nested tens of thousands deep) is a
    ValueError, which Flask's request.get_json answers as a malformed body."""

    sort_keys = False  # JSON keeps the report's order (bands, dongs), not alphabetical order

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
