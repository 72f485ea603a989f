"""The shape of an OCPP token (idTag, idToken): what the token registry and the API's starts
both take."""

from __future__ import annotations

import re

from chargegate.domain.cursors import TOKEN_MAX
from chargegate.domain.errors import InvalidArgument

# 2.0.1 idToken is CiString36; 1.6 idTag is CiString20, so a longer token can only ever be
# presented by a 2.0.1 charger (and a longer parent is left out of 1.6 answers).
ID_TAG_MAX = TOKEN_MAX
ID_TAG_16_MAX = 20
# OCPP's identifierString characters: every real card number fits, and a token is a path
# segment of /1.2/tokens/<id_tag>, where '/', '?', '#' and '%' would be ambiguous.
ID_TAG_CHARACTERS = r"A-Za-z0-9*\-_=:+|@."
_ID_TAG = re.compile(f"[{ID_TAG_CHARACTERS}]{{1,{ID_TAG_MAX}}}")


def parse_id_tag(value: object, field: str = "id_tag") -> str:
    if not isinstance(value, str) or not _ID_TAG.fullmatch(value):
        raise InvalidArgument(
            f"{field} must be 1 to {ID_TAG_MAX} characters from A-Z a-z 0-9 * - _ = : + | @ . "
            f"(at most {ID_TAG_16_MAX} for OCPP 1.6 chargers)"
        )
    return value


def fold(id_tag: str) -> str:
    """OCPP compares tokens case-insensitively (CiString): the key they are unique and found by."""
    return id_tag.upper()
