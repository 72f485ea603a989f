"""The params of the two commands that move a file between a charger and a server it is
told of (OCPP 1.6 profile FirmwareManagement; 2.0.1 functional blocks L and N): update_firmware
(the charger downloads and installs) and get_diagnostics (it uploads a log), and the checks
on what the API sends for them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from chargegate.domain.errors import InvalidArgument
from chargegate.domain.times import TimeFormatError, parse_utc

# The schemes OCPP names for file transfer (1.6 SupportedFileTransferProtocols, 2.0.1
# FileTransferProtocolEnumType): anything else a charger cannot fetch from or post to.
SCHEMES = ("ftp", "ftps", "http", "https")
# 1.6 types location as anyURI without a bound; ours keeps the outbox row small. 2.0.1
# bounds firmware.location and log.remoteLocation at 512.
LOCATION_MAX = 2000
LOCATION_201_MAX = 512
# 2.0.1 FirmwareType bounds.
SIGNING_CERTIFICATE_MAX = 5500
SIGNATURE_MAX = 800


@dataclass(frozen=True, slots=True)
class FirmwareParams:
    location: str
    # When the charger is to download it; None: at once (the time the command goes out).
    retrieve_date: datetime | None = None
    retries: int | None = None
    # Seconds between retries.
    retry_interval: int | None = None
    # 2.0.1 only: the PEM certificate that signed the firmware, and its signature (base64).
    signing_certificate: str | None = None
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class DiagnosticsParams:
    location: str
    # The span of log wanted (1.6 startTime/stopTime, 2.0.1 oldest/latestTimestamp).
    start_time: datetime | None = None
    stop_time: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None


def location(raw: Mapping[str, object]) -> str:
    """The required absolute URL a file is fetched from or sent to."""
    value = raw.get("location")
    if value is None:
        raise InvalidArgument(f"Missing param: location (an absolute {_SCHEMES_TEXT} URL)")
    if not isinstance(value, str) or len(value) > LOCATION_MAX or not _absolute_url(value):
        raise InvalidArgument(
            f"location must be an absolute {_SCHEMES_TEXT} URL of at most {LOCATION_MAX} "
            "characters, e.g. https://files.example.com/fw/2.1.bin"
        )
    return value


_SCHEMES_TEXT = "/".join(SCHEMES)


def _absolute_url(value: str) -> bool:
    # Control characters and spaces are no part of a URI (RFC 3986), and a charger may split on
    # them.
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in SCHEMES and bool(parts.hostname)


def optional_time(raw: Mapping[str, object], name: str) -> datetime | None:
    """An optional UTC timestamp param."""
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgument(f"{name} must be an ISO 8601 timestamp in UTC")
    try:
        return parse_utc(value)
    except TimeFormatError as exc:
        raise InvalidArgument(f"{name}: {exc}") from None


def optional_text(raw: Mapping[str, object], name: str, maximum: int) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= maximum:
        raise InvalidArgument(f"{name} must be text of 1 to {maximum} characters")
    return value


def check_span(params: DiagnosticsParams) -> DiagnosticsParams:
    start, stop = params.start_time, params.stop_time
    if start is not None and stop is not None and stop < start:
        raise InvalidArgument("stop_time must not be before start_time")
    return params


def refusal_16(params: FirmwareParams | DiagnosticsParams) -> str | None:
    """Why a 1.6 charger cannot take these params (None: it can)."""
    if isinstance(params, FirmwareParams) and (
        params.signing_certificate is not None or params.signature is not None
    ):
        return "signing_certificate and signature are not taken (2.0.1 only)"
    return None


def refusal_201(params: FirmwareParams | DiagnosticsParams) -> str | None:
    """Why a 2.0.1 station cannot take these params (None: it can)."""
    if len(params.location) > LOCATION_201_MAX:
        return f"location must be at most {LOCATION_201_MAX} characters"
    return None
