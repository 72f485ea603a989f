"""The OpenAPI description of GET /1.2/chargers/<charge_point_id>/firmware (see api/openapi.py
for the why)."""

from __future__ import annotations

from typing import Any

from chargegate.api.openapi import BODY_TOO, STG_QUERY, Doc, _json, responses
from chargegate.api.openapi_schemas import SHOWN_TIME

_STATUS = {"type": ["string", "null"], "maxLength": 32}

FILE_TRANSFERS: dict[str, Any] = {
    "type": "object",
    "required": [
        "firmware_status",
        "firmware_status_at",
        "diagnostics_status",
        "diagnostics_status_at",
    ],
    "properties": {
        "firmware_status": {
            **_STATUS,
            "description": "The charger's last FirmwareStatusNotification status (null: none "
            "yet), e.g. Downloading, Installed, DownloadFailed, InstallationFailed, Idle",
        },
        "firmware_status_at": SHOWN_TIME,
        "diagnostics_status": {
            **_STATUS,
            "description": "Its last DiagnosticsStatusNotification (2.0.1 LogStatusNotification) "
            "status, e.g. Uploading, Uploaded, UploadFailed (2.0.1 UploadFailure), Idle",
        },
        "diagnostics_status_at": SHOWN_TIME,
    },
    "additionalProperties": False,
}

GET = Doc(
    responses=responses({200: _json(FILE_TRANSFERS, "The last reports")}, 404),
    extra={
        "description": "What the charger last reported of a firmware update (update_firmware "
        "command) and of a diagnostics upload (get_diagnostics), and when. The same with stg: "
        "they are the charger's own. " + BODY_TOO,
        "parameters": [STG_QUERY],
    },
)
