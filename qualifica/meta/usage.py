"""Parse Meta's usage headers; a malformed header is ignored rather than failing the call it came with."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from qualifica.meta.models import AppUsage, BusinessUseCaseUsage, GraphUsage

APP_USAGE_HEADER = "x-app-usage"
BUSINESS_USAGE_HEADER = "x-business-use-case-usage"


def _json(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def parse_usage(headers: Mapping[str, str]) -> GraphUsage | None:
    """``GraphUsage`` from the headers, or ``None`` when the answer carried neither header."""
    app_raw = _json(headers.get(APP_USAGE_HEADER))
    business_raw = _json(headers.get(BUSINESS_USAGE_HEADER))
    if app_raw is None and business_raw is None:
        return None
    app: AppUsage | None = None
    business: dict[str, list[BusinessUseCaseUsage]] = {}
    try:
        if isinstance(app_raw, dict):
            app = AppUsage.model_validate(app_raw)
        if isinstance(business_raw, dict):
            for key, items in business_raw.items():
                if isinstance(items, list):
                    business[str(key)] = [BusinessUseCaseUsage.model_validate(i) for i in items]
    except ValidationError:
        return None
    return GraphUsage(app=app, business_use_case=business)
