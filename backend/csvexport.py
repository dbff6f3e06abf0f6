"""Tables as CSV that a spreadsheet opens as data, for the pages' downloads and the CLI's export alike.

A text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is a formula to Excel and
LibreOffice (a run named ``=cmd|' /C calc'!A0`` would run a command): such cells get a leading ``'``, as OWASP
recommends. Numbers stay numbers (``-0.5`` is not a formula)."""
from __future__ import annotations

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def to_csv(table: pd.DataFrame) -> str:
    safe = table.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(_cell)
    return safe.to_csv(index=False)
