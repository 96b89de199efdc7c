"""`JSONResponse` encoded with orjson: Starlette's, byte for byte the same compact UTF-8
JSON, several times faster on big answers (the availability of 1,000 rooms is ~400 KB)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse as _StarletteJSON


class JSONResponse(_StarletteJSON):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
