r"""Limits a submitted JSON document must respect before anything else reads or stores it.

DynamoDB nests at most 32 levels, stores numbers of at most 38 digits between 1e-130 and 1e126,
refuses empty map keys and stores only UTF-8 text (JSON's ``\udcff`` escapes decode to lone
surrogates, which are not); anything beyond gets a 400 here naming the field, instead of an
error at write time (or a RecursionError while walking the document).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal

MAX_DEPTH = 12
_LARGEST = Decimal("9.9999999999999999999999999999999999999E+125")
_SMALLEST = Decimal("1E-130")


class ShapeError(ValueError):
    """The document breaks a limit; ``field`` names where (``data.a[2].b``-style, no prefix)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_shape(document: object, root: str = "body") -> None:
    """Raise :class:`ShapeError` for too-deep nesting, unstorable numbers or empty keys."""
    stack: list[tuple[object, str, int]] = [(document, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        field = path or root
        if depth > MAX_DEPTH:
            raise ShapeError(field, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, Mapping):
            for key, child in value.items():
                if not isinstance(key, str) or not key:
                    raise ShapeError(field, "has an empty key")
                _check_text(key, field)
                stack.append((child, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(value, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, field)
        elif isinstance(value, float | int) and not isinstance(value, bool):
            _check_number(value, field)


def _check_text(value: str, field: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ShapeError(field, "must be valid Unicode text (no lone surrogates)") from None


def _check_number(value: float, field: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ShapeError(field, "must be a finite number")
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if number and not _SMALLEST <= abs(number) <= _LARGEST:
        raise ShapeError(field, "is out of the storable range (1e-130 to 1e125)")
    if len(number.normalize().as_tuple().digits) > 38:
        raise ShapeError(field, "has more than 38 significant digits")
