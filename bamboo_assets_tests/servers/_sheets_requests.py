"""Reading the parts of a Sheets API request the fake Google Sheets serves: query
parameters, the write options and the JSON body, refused as Google refuses them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bamboo_assets_tests.servers._sheets_state import Json, SheetsError

INPUT_OPTIONS = ("RAW", "USER_ENTERED")


def param(query: Mapping[str, list[str]], name: str, default: str | None) -> Any:
    values = query.get(name)
    return values[-1] if values else default


def require_rows(major_dimension: str) -> None:
    if major_dimension != "ROWS":
        message = f"fake Sheets supports majorDimension=ROWS only, got {major_dimension!r}"
        raise SheetsError(400, message)


def input_option(option: str | None) -> bool:
    """True for USER_ENTERED; Google refuses a write without valueInputOption."""
    if option is None:
        raise SheetsError(400, "'valueInputOption' is required but not specified")
    if option not in INPUT_OPTIONS:
        raise SheetsError(400, f"Invalid value at 'value_input_option' ({option})")
    return option == "USER_ENTERED"


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON for Google")


def json_body(body: bytes) -> Json:
    if not body:
        return {}
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except ValueError:
        raise SheetsError(400, "Invalid JSON payload received.") from None
    if not isinstance(payload, dict):
        raise SheetsError(400, "Invalid JSON payload received. Expected an object.")
    return payload
