"""Pure rules in chargegate.domain: times, validation, states, credentials and webhook targets.
No sockets."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from ipaddress import ip_address

import pytest

from chargegate.domain import credentials, times, validation
from chargegate.domain.addresses import client_key
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.rate import TokenBucket
from chargegate.domain.states import (
    ChargerAction,
    CommandStatus,
    QueueKind,
    QueueStatus,
    StagingInput,
    TransactionAction,
    TransactionState,
    command_action,
)
from chargegate.domain.webhook_targets import BadTarget, parse_target, refusal

NOW = datetime(2030, 6, 1, 12, 0, 0, tzinfo=UTC)
PORT = "f1985d47-a946-4400-ba52-c00bb0c2cc0f"
FUTURE = "2030-06-01T13:00:00+0000"


# -- times ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2030-06-01T13:00:00Z",
        "2030-06-01T13:00:00z",
        "2030-06-01T13:00:00+0000",
        "2030-06-01T13:00:00+00:00",
        "2030-06-01T13:00:00-00:00",
        "  2030-06-01T13:00:00Z  ",
    ],
)
def test_parse_utc_accepts_utc_forms(text: str) -> None:
    value = times.parse_utc(text)
    assert value == datetime(2030, 6, 1, 13, 0, 0, tzinfo=UTC)
    assert value.utcoffset() == timedelta(0)
    assert value.tzinfo is UTC


def test_parse_utc_keeps_fractions() -> None:
    value = times.parse_utc("2030-06-01T13:00:00.250Z")
    assert value.microsecond == 250_000


@pytest.mark.parametrize("text", ["2030-06-01T15:00:00+0200", "2030-06-01T08:00:00-05:00"])
def test_parse_utc_refuses_other_offsets(text: str) -> None:
    with pytest.raises(times.TimeFormatError, match="not in UTC"):
        times.parse_utc(text)


@pytest.mark.parametrize("text", ["2030-06-01T13:00:00", "2030-06-01 13:00:00", "2030-06-01"])
def test_parse_utc_refuses_missing_zone(text: str) -> None:
    with pytest.raises(times.TimeFormatError, match="no timezone"):
        times.parse_utc(text)


@pytest.mark.parametrize("text", ["", "tomorrow", "2030-13-01T00:00:00Z", "1893456000", "Z"])
def test_parse_utc_refuses_garbage(text: str) -> None:
    with pytest.raises(times.TimeFormatError):
        times.parse_utc(text)


def test_time_format_error_is_a_value_error() -> None:
    assert issubclass(times.TimeFormatError, ValueError)


def test_format_api() -> None:
    assert times.format_api(None) is None
    assert times.format_api(datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) == (
        "2030-01-02T03:04:05"
    )
    plus_two = timezone(timedelta(hours=2))
    assert times.format_api(datetime(2030, 1, 2, 1, 0, 0, tzinfo=plus_two)) == "2030-01-01T23:00:00"


def test_format_and_parse_api_round_trip() -> None:
    value = datetime(2031, 12, 31, 23, 59, 59, tzinfo=UTC)
    text = times.format_api(value)
    assert text is not None
    assert times.parse_utc(text + "Z") == value


def test_format_ocpp() -> None:
    assert times.format_ocpp(datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) == (
        "2030-01-02T03:04:05.678Z"
    )
    assert times.format_ocpp(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)) == (
        "2030-01-02T03:04:05.000Z"
    )
    minus_five = timezone(timedelta(hours=-5))
    assert times.format_ocpp(datetime(2030, 1, 1, 22, 0, 0, 1000, tzinfo=minus_five)) == (
        "2030-01-02T03:00:00.001Z"
    )


def test_ocpp_now_is_format_ocpp_of_now() -> None:
    for _ in range(2000):  # across a second's boundary or two, reformatted there
        before = datetime.now(UTC).replace(microsecond=0)
        text = times.ocpp_now()
        after = datetime.now(UTC)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text)
        assert before <= times.parse_ocpp(text) <= after


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-02T03:04:05.678Z", datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)),
        ("2030-01-02T03:04:05Z", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2030-01-02T03:04:05", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2030-01-02T05:04:05+02:00", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_parse_ocpp(text: str, expected: datetime) -> None:
    value = times.parse_ocpp(text)
    assert value == expected
    assert value.utcoffset() == timedelta(0)


def test_ocpp_round_trip() -> None:
    value = datetime(2030, 7, 8, 9, 10, 11, 123000, tzinfo=UTC)
    assert times.parse_ocpp(times.format_ocpp(value)) == value


def test_utcnow_is_aware_utc() -> None:
    now = times.utcnow()
    assert now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


# -- validation: create ---------------------------------------------------------------------------


def test_parse_create_happy_path() -> None:
    request = validation.parse_create(
        {"port_uuid": PORT.upper(), "expires": FUTURE, "invoice_id": "inv-1"}, NOW
    )
    assert request.port_uuid == PORT  # normalised
    assert request.expires == datetime(2030, 6, 1, 13, 0, 0, tzinfo=UTC)
    assert request.invoice_id == "inv-1"
    assert request.staging is False


def test_parse_create_optional_fields() -> None:
    request = validation.parse_create({"port_uuid": PORT, "expires": FUTURE, "stg": True}, NOW)
    assert request.invoice_id is None
    assert request.staging is True
    nulls = validation.parse_create(
        {"port_uuid": PORT, "expires": FUTURE, "invoice_id": None, "stg": None}, NOW
    )
    assert nulls.invoice_id is None and nulls.staging is False


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({}, "port_uuid, expires"),
        ({"port_uuid": PORT}, "expires"),
        ({"expires": FUTURE}, "port_uuid"),
        ({"port_uuid": None, "expires": FUTURE}, "port_uuid"),
    ],
)
def test_parse_create_missing(body: dict[str, object], missing: str) -> None:
    with pytest.raises(InvalidArgument, match=f"Missing field\\(s\\): {missing}$"):
        validation.parse_create(body, NOW)


@pytest.mark.parametrize(
    "body",
    [
        {"port_uuid": PORT, "expires": 1893456000},
        {"port_uuid": PORT, "expires": True},
        {"port_uuid": 12345, "expires": FUTURE},
        {"port_uuid": "not-a-uuid", "expires": FUTURE},
        {"port_uuid": PORT, "expires": FUTURE, "invoice_id": 42},
        {"port_uuid": PORT, "expires": FUTURE, "invoice_id": "x" * 256},
        {"port_uuid": PORT, "expires": FUTURE, "invoice_id": "a\u0000b"},
        {"port_uuid": PORT, "expires": FUTURE, "invoice_id": "a\x1fb"},
        {"port_uuid": PORT, "expires": FUTURE, "invoice_id": "\ud800"},
        {"port_uuid": PORT, "expires": FUTURE, "stg": "true"},
        {"port_uuid": PORT, "expires": FUTURE, "stg": 1},
        {"port_uuid": PORT, "expires": FUTURE, "extra": 1},
        {"port_uuid": PORT, "expires": "2030-06-01T15:00:00+0200"},
        {"port_uuid": PORT, "expires": "2030-06-01T13:00:00"},
    ],
)
def test_parse_create_refuses(body: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument) as info:
        validation.parse_create(body, NOW)
    assert info.value.message


def test_parse_create_invoice_id_limit_is_inclusive() -> None:
    request = validation.parse_create(
        {"port_uuid": PORT, "expires": FUTURE, "invoice_id": "x" * validation.INVOICE_ID_MAX},
        NOW,
    )
    assert request.invoice_id is not None and len(request.invoice_id) == 255


def test_parse_create_names_unknown_fields() -> None:
    with pytest.raises(InvalidArgument, match="Unknown field\\(s\\): a, z"):
        validation.parse_create({"port_uuid": PORT, "expires": FUTURE, "z": 1, "a": 2}, NOW)


def test_expiry_must_be_strictly_in_the_future() -> None:
    at_now = "2030-06-01T12:00:00Z"
    with pytest.raises(InvalidArgument) as info:
        validation.parse_create({"port_uuid": PORT, "expires": at_now}, NOW)
    message = info.value.message
    assert message.startswith("Expiry time must be in the future")
    assert "Current UTC time is 2030-06-01T12:00:00." in message
    assert "Received UTC time is 2030-06-01 12:00:00+00:00." in message
    later = validation.parse_create(
        {"port_uuid": PORT, "expires": "2030-06-01T12:00:00.000001Z"}, NOW
    )
    assert later.expires > NOW


def test_non_utc_message_says_so() -> None:
    with pytest.raises(InvalidArgument, match="not in UTC"):
        validation.parse_create({"port_uuid": PORT, "expires": "2030-06-02T13:00:00+0200"}, NOW)


# -- validation: patch ----------------------------------------------------------------------------


def test_parse_patch_close() -> None:
    request = validation.parse_patch({"state": "closed"}, NOW)
    assert request.close is True and request.expires is None and request.staging is False
    staged = validation.parse_patch({"state": "closed", "stg": True, "expires": None}, NOW)
    assert staged.close is True and staged.staging is True


def test_parse_patch_extend() -> None:
    request = validation.parse_patch({"expires": FUTURE, "state": None}, NOW)
    assert request.close is False
    assert request.expires == datetime(2030, 6, 1, 13, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        {"expires": FUTURE, "state": "closed"},
        {},
        {"stg": True},
        {"state": None, "expires": None},
        {"state": "open"},
        {"state": ""},
        {"state": 1},
        {"state": True},
        {"expires": "2030-06-01T11:59:59Z"},
        {"expires": "2030-06-01T12:00:00Z"},
        {"expires": 1893456000},
        {"expires": "2030-06-01T15:00:00+0200"},
        {"state": "closed", "invoice_id": "x"},
        {"state": "closed", "stg": "yes"},
    ],
)
def test_parse_patch_refuses(body: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        validation.parse_patch(body, NOW)


def test_parse_patch_both_names_the_conflict() -> None:
    with pytest.raises(InvalidArgument, match="not both"):
        validation.parse_patch({"expires": FUTURE, "state": "closed"}, NOW)


# -- validation: list, queue, query strings -------------------------------------------------------


def test_parse_list() -> None:
    request = validation.parse_list({"port_uuid": PORT, "limit": 0})
    assert (request.port_uuid, request.limit, request.staging) == (PORT, 0, False)
    staged = validation.parse_list({"port_uuid": PORT, "limit": 5, "stg": True})
    assert (staged.limit, staged.staging) == (5, True)


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"port_uuid": PORT},
        {"limit": 1},
        {"port_uuid": PORT, "limit": None},
        {"port_uuid": PORT, "limit": True},
        {"port_uuid": PORT, "limit": False},
        {"port_uuid": PORT, "limit": -1},
        {"port_uuid": PORT, "limit": "2"},
        {"port_uuid": PORT, "limit": 1.0},
        {"port_uuid": "nope", "limit": 1},
        {"port_uuid": 3, "limit": 1},
        {"port_uuid": PORT, "limit": 1, "stg": "true"},
    ],
)
def test_parse_list_refuses(args: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        validation.parse_list(args)


def test_parse_queue_args() -> None:
    plain = validation.parse_queue_args({})
    assert (plain.staging, plain.staging_input) == (False, None)
    staged = validation.parse_queue_args({"stg": True})
    assert (staged.staging, staged.staging_input) == (True, None)
    for value in ("Success", "Failure", "InProgress"):
        request = validation.parse_queue_args({"stg": True, "stg_input": value})
        assert request.staging is True
        assert request.staging_input is StagingInput(value)


@pytest.mark.parametrize(
    "args",
    [
        {"stg_input": "Success"},
        {"stg": False, "stg_input": "Success"},
        {"stg": True, "stg_input": "success"},
        {"stg": True, "stg_input": "Done"},
        {"stg": True, "stg_input": ""},
        {"stg": True, "stg_input": 1},
        {"stg": "true", "stg_input": "Success"},
        {"stg": "yes"},
    ],
)
def test_parse_queue_args_refuses(args: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        validation.parse_queue_args(args)


def test_merge_query_converts_typed_fields() -> None:
    merged = validation.merge_query(
        {}, {"stg": "TRUE", "limit": "12", "port_uuid": PORT, "stg_input": "Success"}
    )
    assert merged == {"stg": True, "limit": 12, "port_uuid": PORT, "stg_input": "Success"}
    assert validation.merge_query({}, {"stg": "false", "limit": "-3"}) == {
        "stg": False,
        "limit": -3,
    }


def test_merge_query_leaves_bad_text_for_validation() -> None:
    merged = validation.merge_query({}, {"stg": "yes", "limit": "1.5", "other": "7"})
    assert merged == {"stg": "yes", "limit": "1.5", "other": "7"}
    with pytest.raises(InvalidArgument):
        validation.parse_list({**merged, "port_uuid": PORT})


def test_merge_query_body_wins() -> None:
    merged = validation.merge_query({"limit": 2, "stg": False}, {"limit": "9", "stg": "true"})
    assert merged == {"limit": 2, "stg": False}


def test_query_and_body_validate_alike() -> None:
    from_query = validation.parse_list(
        validation.merge_query({}, {"port_uuid": PORT, "limit": "3", "stg": "true"})
    )
    from_body = validation.parse_list({"port_uuid": PORT, "limit": 3, "stg": True})
    assert from_query == from_body


def test_parse_uuid() -> None:
    assert validation.parse_uuid(PORT.upper(), "x") == PORT
    assert validation.parse_uuid("{" + PORT + "}", "x") == PORT
    for bad in ("", "nope", PORT[:-1], 5, None):
        with pytest.raises(InvalidArgument):
            validation.parse_uuid(bad, "field")


def test_require_object() -> None:
    assert validation.require_object({"a": 1}) == {"a": 1}
    for bad in ([], "x", 1, None):
        with pytest.raises(InvalidArgument):
            validation.require_object(bad)


# -- states -------------------------------------------------------------------------------------


def test_transaction_states_are_the_api_spelling() -> None:
    assert [s.value for s in TransactionState] == ["Pending", "Open", "Closed", "Failed"]
    assert {s for s in TransactionState if s.ended} == {
        TransactionState.CLOSED,
        TransactionState.FAILED,
    }


def test_queue_and_staging_values_are_the_seed_spelling() -> None:
    assert QueueStatus.IN_PROGRESS == "IN PROGRESS"
    assert QueueStatus.FAILURE == "FAILURE"
    assert QueueStatus.SUCCESS == "SUCCESS"
    assert {s.value for s in StagingInput} == {"Success", "Failure", "InProgress"}
    assert {k.value for k in QueueKind} == {"start", "stop", "command"}
    assert {a.value for a in TransactionAction} == {"start", "stop", "profile", "reconcile"}
    # Both kinds of action share the outbox's column: no value may mean two things.
    assert not {a.value for a in TransactionAction} & {a.value for a in ChargerAction}
    assert command_action("stop") is TransactionAction.STOP
    assert command_action("clear_cache") is ChargerAction.CLEAR_CACHE
    with pytest.raises(ValueError):
        command_action("reboot")
    assert {s.value for s in CommandStatus} == {"pending", "sending", "done", "cancelled"}


# -- credentials ----------------------------------------------------------------------------------


def test_api_key_round_trip() -> None:
    made = credentials.new_api_key()
    assert re.fullmatch(r"cg_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", made.key), made.key
    assert credentials.api_key_lookup(made.key) == made.lookup
    assert credentials.api_key_matches(made.key, made.key_hash)
    assert made.key_hash != made.key and made.key not in made.key_hash
    assert credentials.hash_api_key(made.key) == made.key_hash


def test_api_keys_are_unique() -> None:
    keys = [credentials.new_api_key() for _ in range(20)]
    assert len({k.key for k in keys}) == 20
    assert len({k.lookup for k in keys}) == 20


def test_api_key_mismatch() -> None:
    made = credentials.new_api_key()
    other = credentials.new_api_key()
    assert not credentials.api_key_matches(other.key, made.key_hash)
    assert not credentials.api_key_matches(made.key + "x", made.key_hash)
    assert not credentials.api_key_matches(made.key[:-1], made.key_hash)
    forged = f"cg_{made.lookup}_{'A' * 43}"
    assert credentials.api_key_lookup(forged) == made.lookup
    assert not credentials.api_key_matches(forged, made.key_hash)


def test_api_key_matches_scrypt_rows_and_no_unknown_id() -> None:
    made = credentials.new_api_key()
    assert made.key_hash == hashlib.sha256(made.key.encode()).hexdigest()
    old_row = credentials.hash_password(made.key)
    assert credentials.is_scrypt_hash(old_row) and not credentials.is_scrypt_hash(made.key_hash)
    assert credentials.api_key_matches(made.key, old_row)
    assert not credentials.api_key_matches(made.key + "x", old_row)
    assert not credentials.api_key_matches(made.key, None)


def test_a_reserved_token_given_back_is_spent_only_on_failure() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=0.0, burst=2, clock=lambda: now[0])
    assert bucket.take() and bucket.take() and not bucket.take()
    bucket.give_back()
    assert bucket.take() and not bucket.take()
    bucket.give_back()
    bucket.give_back()
    bucket.give_back()  # never above the burst
    assert bucket.take() and bucket.take() and not bucket.take()


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert all(bucket.take() for _ in range(3)) and not bucket.take()
    now[0] = 0.75  # 1.5 tokens
    assert bucket.take() and not bucket.take()
    now[0] = 100.0  # full again, and no more
    assert all(bucket.take() for _ in range(3)) and not bucket.take()


@pytest.mark.parametrize(
    "key",
    [
        "",
        "cg",
        "cg_",
        "nope",
        "xx_0123456789abcdef_secret",
        "cg_0123_secret",
        "cg_0123456789abcdef",
    ],
)
def test_api_key_lookup_refuses_malformed(key: str) -> None:
    assert credentials.api_key_lookup(key) is None


def test_password_hashing() -> None:
    stored = credentials.hash_password("s3cret!")
    assert "s3cret!" not in stored
    assert stored.startswith("scrypt$")
    assert credentials.password_matches("s3cret!", stored)
    assert not credentials.password_matches("s3cret", stored)
    assert not credentials.password_matches("", stored)
    # Salted: the same password hashes differently each time, and both still match.
    again = credentials.hash_password("s3cret!")
    assert again != stored
    assert credentials.password_matches("s3cret!", again)


@pytest.mark.parametrize("stored", ["", "plain", "bcrypt$1$2$3$00$00", "scrypt$1$2"])
def test_password_matches_refuses_malformed_hashes(stored: str) -> None:
    assert credentials.password_matches("anything", stored) is False


def test_generated_passwords_fit_ocpp_and_are_stored_fast() -> None:
    """OCPP 2.0.1 BasicAuthPassword (passwordString) and the 1.6 security whitepaper's
    AuthorizationKey: at most 40 characters; 2.0.1 allows alphanumerics and *-_=:+|@."""
    passwords = {credentials.new_charger_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert re.fullmatch(r"cgp-[A-Za-z0-9_-]{32}", password), password
        stored = credentials.hash_charger_password(password)
        assert stored.startswith("sha256$") and password not in stored
        assert credentials.generated_password_matches(password, stored)
        assert not credentials.generated_password_matches(password + "x", stored)
        # An unknown id: no.
        assert not credentials.generated_password_matches(password, None)
    # A scrypt row (a chosen password, or one generated before the cgp- form): no, even for the
    # password it hashes, as the form alone decides the check.
    assert not credentials.generated_password_matches(password, credentials.hash_password(password))
    assert credentials.hash_charger_password("chosen by a person").startswith("scrypt$")


def test_id_tag_fits_ocpp() -> None:
    tags = {credentials.new_id_tag() for _ in range(50)}
    assert len(tags) == 50
    for tag in tags:
        assert len(tag) <= 20  # CiString20
        assert re.fullmatch(r"[A-Z0-9]+", tag), tag


def test_password_cache_remembers_only_matches_and_stays_bounded() -> None:
    from chargegate.domain.credentials import PasswordCache

    cache = PasswordCache(size=2)
    assert not cache.known_good("pw-1", "hash-1")
    cache.remember("pw-1", "hash-1")
    assert cache.known_good("pw-1", "hash-1")
    assert not cache.known_good("pw-2", "hash-1")  # a different password for the same charger
    assert not cache.known_good("pw-1", "hash-other")
    cache.remember("pw-2", "hash-2")
    cache.remember("pw-3", "hash-3")
    assert not cache.known_good("pw-1", "hash-1")  # the oldest was dropped
    assert cache.known_good("pw-3", "hash-3")


# -- webhook targets ---------------------------------------------------------------------------


def test_webhook_target_rules() -> None:
    """What the webhook checks at adding and at delivery both rest on."""
    kinds = {
        "8.8.8.8": None,
        "2606:4700::1111": None,
        "64:ff9b::808:808": None,  # NAT64 of a public address
        "127.0.0.2": "loopback",
        "::1": "loopback",
        "::ffff:127.0.0.1": "loopback",  # IPv4-mapped
        "2002:7f00:1::": "loopback",  # 6to4 of 127.0.0.1
        "64:ff9b::a00:1": "private",  # NAT64 of 10.0.0.1
        "169.254.169.254": "cloud metadata",
        "fd00:ec2::254": "cloud metadata",
        "169.254.1.1": "link-local",
        "fe80::1": "link-local",
        "10.0.0.1": "private",
        "172.16.0.1": "private",
        "192.168.0.1": "private",
        "fc00::1": "private",
        "100.64.0.1": "non-public",  # carrier-grade NAT
        "224.0.0.1": "non-public",
        "64:ff9b:1::a00:1": "non-public",  # local-use NAT64: its translator's own network
        "64:ff9b:1::808:808": "non-public",
        "fec0::1": "non-public",  # deprecated site-local
        "::10.0.0.1": "non-public",  # IPv4-compatible
        "::8.8.8.8": "non-public",
        "::ffff:0:10.0.0.1": "non-public",  # IPv4-translated
        "::ffff:0:8.8.8.8": "non-public",
        "::": "private",  # unspecified: this host
    }
    assert {a: refusal(ip_address(a)) for a in kinds} == kinds
    target = parse_target("https://user:p%40ss@Bücher.example:8443/a%20b?x=ü")
    assert (target.host, target.port, target.path) == (
        "xn--bcher-kva.example",
        8443,
        "/a%20b?x=%C3%BC",
    )
    assert target.host_header == "xn--bcher-kva.example:8443"
    assert target.authorization == "Basic dXNlcjpwQHNz"
    assert parse_target("http://[::1]/").host_header == "[::1]"
    for bad in (
        "ftp://example.com/",
        "http:///path",
        "http://example.com:99999/",
        "http://exa mple.com/",
        "http://example.com/\x7f",
        "http://a..b/",
        "http://xn--a.example/",
        "http://\u2488.example/",
    ):
        with pytest.raises(BadTarget):
            parse_target(bad)


@pytest.mark.parametrize(
    ("client", "key"),
    [
        (("203.0.113.7", 5000), "203.0.113.7"),
        # One IPv6 host has a /64 to pick addresses from: all of it is one client.
        (("2001:db8:1:1::1", 1), "2001:db8:1:1::/64"),
        (("2001:db8:1:1:ffff:ffff:ffff:ffff", 1), "2001:db8:1:1::/64"),
        (("2001:db8:1:2::1", 1), "2001:db8:1:2::/64"),
        (("fe80::1%eth0", 1), "fe80::/64"),
        # IPv4 as a dual-stack socket reports it is that IPv4 client.
        (("::ffff:203.0.113.7", 1), "203.0.113.7"),
        (None, "unknown"),
        # Whatever else a trusted proxy forwards is a key of its own, cut short.
        (("unknown", 0), "unknown"),
        (("x" * 1000, 0), "x" * 64),
    ],
)
def test_client_key(client: tuple[str, int] | None, key: str) -> None:
    assert client_key(client) == key
