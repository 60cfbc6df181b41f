"""The official SARIF 2.1.0 schema (OASIS, vendored in tests/data) as a validator, for every SARIF test."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


@cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def sarif_errors(doc: Any) -> list[str]:
    """Every schema violation of ``doc``, as 'path: message' lines (empty when valid)."""
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator().iter_errors(doc))
