"""Every input is checked: bad input gives a typed error that says what to fix, and nothing is sent.

One test per behaviour (issue #13). The client cases run against a real loopback
server and check that it received nothing.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from _servers import CREDENTIALS, REGION, Served, serve

import lattice_client
import lattice_client.grpc
import lattice_client.grpc.aio
from lattice_client import (
    AsyncClient,
    Client,
    ConfigurationError,
    Credentials,
    InvalidHeaderError,
    LatticeError,
    LatticeTransport,
    SigningError,
    sign,
)
from lattice_client._curl import main as curl

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
HOST = "billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
URL = f"https://{HOST}/invoices"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLETOKEN"


def signed(**overrides: Any) -> dict[str, str]:
    """``sign()`` with valid arguments but for ``overrides``."""
    arguments: dict[str, Any] = {
        "method": "GET",
        "url": URL,
        "headers": (),
        "credentials": CREDENTIALS,
        "now": NOW,
    }
    arguments.update(overrides)
    method, url, headers = arguments.pop("method"), arguments.pop("url"), arguments.pop("headers")
    return sign(method, url, headers, **arguments)


# -- sign(): the URL ------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["\u00b2", "\u0661", "99999", "-1", "8o"])
def test_sign_refuses_a_port_that_is_not_a_number_from_0_to_65535(port: str) -> None:
    """A port of non-ASCII digits (``:²``), out of range or not a number is a SigningError."""
    with pytest.raises(SigningError, match="port"):
        signed(url=f"https://api.example.com:{port}/", region=REGION)


def test_sign_refuses_an_unclosed_ipv6_host() -> None:
    """``https://[::1/`` is a SigningError naming the unclosed bracket, not urllib's ValueError."""
    with pytest.raises(SigningError, match=r"unclosed '\['"):
        signed(url="https://[::1/", region=REGION)


@pytest.mark.parametrize("host", ["api\x00.example.com", "api .example.com", "api\r\n.example.com"])
def test_sign_refuses_a_nul_space_or_line_break_in_the_host(host: str) -> None:
    """A host with NUL, a space or CR/LF is refused, rather than signed as a Host no stack sends."""
    with pytest.raises(SigningError, match=r"not a valid host name|CR or LF"):
        signed(url=f"https://{host}/", region=REGION)


@pytest.mark.parametrize(
    "overrides",
    [
        {"url": URL.encode()},
        {"method": b"GET"},
        {"headers": [(b"accept", "text/plain")]},
        {"headers": {b"accept": "text/plain"}},
    ],
    ids=["url", "method", "header-name-list", "header-name-mapping"],
)
def test_sign_refuses_bytes_for_url_method_and_header_names(overrides: dict[str, Any]) -> None:
    """bytes where sign() takes str give a SigningError saying to pass str."""
    with pytest.raises(SigningError, match="str"):
        signed(**overrides)


@pytest.mark.parametrize("value", [1, None, b"text/plain", ["a"]])
def test_sign_refuses_a_header_value_that_is_not_str(value: object) -> None:
    """A header value of another type is an InvalidHeaderError naming the header."""
    with pytest.raises(InvalidHeaderError, match="'accept' must be a str") as raised:
        signed(headers=[("accept", value)])
    assert raised.value.header == "accept"


@pytest.mark.parametrize("headers", ["accept: */*", [("a", "b", "c")], 42])
def test_sign_refuses_headers_that_are_not_name_value_pairs(headers: object) -> None:
    """headers= must be a mapping or pairs; a str, a triple or a number says so."""
    with pytest.raises(InvalidHeaderError, match="pairs"):
        signed(headers=headers)


@pytest.mark.parametrize("now", ["2026-01-01T00:00:00Z", 1767225600, NOW.date()])
def test_sign_refuses_now_that_is_not_a_datetime(now: object) -> None:
    """now= as a string, a number or a date is a SigningError asking for an aware datetime."""
    with pytest.raises(SigningError, match="timezone-aware datetime"):
        signed(now=now)


def test_sign_refuses_a_secret_with_a_lone_surrogate_without_quoting_it() -> None:
    """A secret with a lone surrogate cannot be encoded; the error names the field only."""
    with pytest.raises(ConfigurationError, match="secret_access_key") as raised:
        signed(credentials=Credentials("AKIDEXAMPLE", SECRET + "\ud800"))
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("user-agent", "curl/8\r\nx-injected: 1"),
        ("x-forwarded-for", "10.0.0.1\nx-injected: 1"),
        ("x-amzn-trace-id", "Root=1\r"),
        (":authority", f"{HOST}\r\nx-injected: 1"),
        ("accept", "*/*\r\nx-injected: 1"),
        ("user-agent\r\nx-injected", "1"),
        ("x-forwarded-for\n", "1"),
        (":path\r\n", "/"),
        ("accept\x00", "*/*"),
        ("x-trace", "a\x00b"),
    ],
)
def test_sign_refuses_cr_lf_nul_in_any_header_even_one_never_signed(name: str, value: str) -> None:
    """CR, LF or NUL in any header name or value is refused, signed or not: it would split it."""
    with pytest.raises(InvalidHeaderError):
        signed(headers=[(name, value)])


def test_sign_refuses_a_header_value_with_a_lone_surrogate() -> None:
    """A value that cannot be encoded is an InvalidHeaderError, not a UnicodeEncodeError."""
    with pytest.raises(InvalidHeaderError, match="surrogate"):
        signed(headers=[("x-note", "a\ud800b")])


# -- what is copied into headers: credentials, region, service, region set ------------------

BREAKS = ["\r", "\n", "\x00", "\r\nx-injected: 1"]


@pytest.mark.parametrize("bad", BREAKS)
@pytest.mark.parametrize("field", ["access_key_id", "secret_access_key", "session_token"])
def test_credentials_refuse_cr_lf_nul_and_name_the_field_not_the_value(
    field: str, bad: str
) -> None:
    """CR, LF or NUL in any credentials field is a ConfigurationError naming only the field."""
    values: dict[str, Any] = {
        "access_key_id": "AKIDEXAMPLE",
        "secret_access_key": SECRET,
        "session_token": TOKEN,
    }
    values[field] += bad
    with pytest.raises(ConfigurationError, match=f"Credentials.{field}") as raised:
        Credentials(**values)
    assert SECRET not in str(raised.value)
    assert TOKEN not in str(raised.value)


@pytest.mark.parametrize("bad", BREAKS)
@pytest.mark.parametrize(
    ("option", "good"),
    [("region", REGION), ("service", "vpc-lattice-svcs"), ("region_set", "us-west-2")],
)
def test_sign_refuses_cr_lf_nul_in_region_service_and_region_set(
    option: str, good: str, bad: str
) -> None:
    """These are copied into Authorization / x-amz-region-set: a line break is refused."""
    with pytest.raises(ConfigurationError, match=f"{option}="):
        signed(**{option: good + bad, "sigv4a": option == "region_set"})


@pytest.mark.parametrize("bad", ["us west", "us-west-2/x", "us-west-2,"])
def test_sign_refuses_a_region_that_would_break_the_credential_scope(bad: str) -> None:
    """A space, slash or comma in region= would corrupt the Authorization value."""
    with pytest.raises(ConfigurationError, match="region="):
        signed(url="https://api.example.com/", region=bad)


# -- gRPC helpers ---------------------------------------------------------------------------

GRPC_HELPERS: list[Callable[..., Any]] = [
    lattice_client.grpc.insecure_channel,
    lattice_client.grpc.secure_channel,
    lattice_client.grpc.aio.insecure_channel,
    lattice_client.grpc.aio.secure_channel,
    lambda target, **options: lattice_client.grpc.SigningInterceptor(
        options.pop("authority"), credentials=options.pop("aws_credentials"), **options
    ),
]
GRPC_IDS = ["insecure", "secure", "aio-insecure", "aio-secure", "interceptor"]


@pytest.mark.parametrize("bad", BREAKS)
@pytest.mark.parametrize("helper", GRPC_HELPERS, ids=GRPC_IDS)
def test_grpc_helpers_refuse_cr_lf_nul_in_the_authority(
    helper: Callable[..., Any], bad: str
) -> None:
    """The authority goes out as :authority and is signed as host: a line break is refused."""
    with pytest.raises(ConfigurationError, match="authority"):
        helper(
            "127.0.0.1:1",
            authority=f"api{bad}.example.com",
            region=REGION,
            aws_credentials=CREDENTIALS,
        )


@pytest.mark.parametrize("target", ["\ud800:443", "api.example.com\n:443"])
@pytest.mark.parametrize("helper", GRPC_HELPERS[:4], ids=GRPC_IDS[:4])
def test_grpc_channel_helpers_refuse_a_target_grpcio_cannot_encode(
    helper: Callable[..., Any], target: str
) -> None:
    """A lone surrogate or a control character in the target: a typed error, not grpcio's
    UnicodeEncodeError (found by the fuzz suite)."""
    with pytest.raises(ConfigurationError, match="target"):
        helper(target, authority="api.example.com", region=REGION, aws_credentials=CREDENTIALS)


@pytest.mark.parametrize("region", ["us west", "us-west-2\r\nx", "us-west-2\x00"])
@pytest.mark.parametrize("helper", GRPC_HELPERS, ids=GRPC_IDS)
def test_grpc_helpers_refuse_a_region_that_is_not_a_region(
    helper: Callable[..., Any], region: str
) -> None:
    """region="us west" (or with CR/LF/NUL) is refused when the channel is made."""
    with pytest.raises(ConfigurationError, match="region="):
        helper(
            "127.0.0.1:1", authority="api.example.com", region=region, aws_credentials=CREDENTIALS
        )


@pytest.mark.parametrize("helper", GRPC_HELPERS, ids=GRPC_IDS)
def test_grpc_helpers_refuse_cr_lf_in_the_region_set(helper: Callable[..., Any]) -> None:
    """The region set goes out as x-amz-region-set: a line break is refused."""
    with pytest.raises(ConfigurationError, match="region_set="):
        helper(
            "127.0.0.1:1",
            authority="api.example.com",
            sigv4a=True,
            region_set="*\r\nx-injected: 1",
            aws_credentials=CREDENTIALS,
        )


# -- Client / AsyncClient against a real server: nothing is sent ----------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    with serve("HTTP/1.1") as served:
        yield served


@pytest.fixture
def live(server: Served) -> Served:
    server.received.clear()
    return server


@pytest.mark.parametrize("value", ["\u2603", "caf\u00e9", "\u20ac100"])
def test_client_refuses_a_non_ascii_header_value_and_sends_nothing(
    live: Served, value: str
) -> None:
    """A str header value httpx cannot encode is an InvalidHeaderError naming the header."""
    with Client(credentials=CREDENTIALS, region=REGION) as client:
        with pytest.raises(InvalidHeaderError, match="'x-note'") as raised:
            client.get(live.url, headers={"x-note": value})
        assert raised.value.header == "x-note"
        with pytest.raises(InvalidHeaderError, match="'x-note'"):
            client.build_request("GET", live.url, headers=[("x-note", value)])
    with pytest.raises(InvalidHeaderError, match="'x-note'"):
        Client(credentials=CREDENTIALS, region=REGION, headers={"x-note": value})
    assert live.received == []


@pytest.mark.anyio
async def test_async_client_refuses_a_non_ascii_header_value_and_sends_nothing(
    live: Served,
) -> None:
    """The async twin: the same typed error, nothing sent."""
    async with AsyncClient(credentials=CREDENTIALS, region=REGION) as client:
        with pytest.raises(InvalidHeaderError, match="'x-note'"):
            await client.get(live.url, headers={"x-note": "\u2603"})
    assert live.received == []


@pytest.mark.parametrize(
    "make",
    [Client, AsyncClient, LatticeTransport, lattice_client.AsyncLatticeTransport],
    ids=["Client", "AsyncClient", "LatticeTransport", "AsyncLatticeTransport"],
)
@pytest.mark.parametrize("bad", BREAKS)
def test_clients_refuse_cr_lf_nul_in_the_region_set_and_send_nothing(
    live: Served, make: Callable[..., Any], bad: str
) -> None:
    """region_set= goes out as x-amz-region-set: CR/LF/NUL is refused when the client is made."""
    with pytest.raises(ConfigurationError, match="region_set="):
        make(credentials=CREDENTIALS, sigv4a=True, region_set="us-west-2" + bad)
    assert live.received == []


def test_client_refuses_an_invalid_idna_host_and_sends_nothing(live: Served) -> None:
    """``http://xn--.com/`` is a SigningError, not idna's IDNAError from inside httpx."""
    with (
        Client(credentials=CREDENTIALS, region=REGION) as client,
        pytest.raises(SigningError, match="IDNA"),
    ):
        client.get("http://xn--.com/")
    assert live.received == []


# -- error_from_response --------------------------------------------------------------------


@pytest.mark.parametrize("body", ["AccessDeniedException: no", None, 42])
def test_error_from_response_refuses_a_body_that_is_not_bytes(body: object) -> None:
    """body= must be bytes; str, None or a number is a ConfigurationError saying what to pass."""
    with pytest.raises(ConfigurationError, match="body= must be the bytes"):
        lattice_client.error_from_response(403, {}, body)  # type: ignore[arg-type]


def test_error_from_response_refuses_a_status_that_is_not_an_int() -> None:
    with pytest.raises(ConfigurationError, match="status_code"):
        lattice_client.error_from_response("403", {}, b"")  # type: ignore[arg-type]


# -- lattice-curl ---------------------------------------------------------------------------


@pytest.fixture
def curl_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for scheme in ("HTTP", "HTTPS", "ALL", "NO"):
        monkeypatch.delenv(f"{scheme}_PROXY", raising=False)
        monkeypatch.delenv(f"{scheme.lower()}_proxy", raising=False)


@pytest.mark.usefixtures("curl_env")
def test_curl_refuses_an_invalid_idna_host_with_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``lattice-curl http://xn--.com/`` exits 2 with a message, not a traceback."""
    assert curl(["http://xn--.com/"]) == 2
    assert "not a valid IDNA name" in capsys.readouterr().err


@pytest.mark.usefixtures("curl_env")
@pytest.mark.parametrize("option", ["--max-time", "--connect-timeout"])
@pytest.mark.parametrize("seconds", ["inf", "1e400", "nan", "-inf", "1e12"])
def test_curl_refuses_a_timeout_that_is_not_finite(
    option: str, seconds: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-m inf`` exits 2 with a usage message instead of the timer's OverflowError."""
    assert curl([f"{option}={seconds}", "http://127.0.0.1:1/"]) == 2
    assert "give a number of seconds" in capsys.readouterr().err


@pytest.mark.usefixtures("curl_env")
def test_curl_transport_error_does_not_print_the_urls_user_and_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A connection refused reports the URL without ``user:password``."""
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = curl(["-s", "-S", f"http://alice:hunter2pass@127.0.0.1:{port}/x"])
    err = capsys.readouterr().err
    assert code == 7
    assert "transport error (http://127.0.0.1:" in err
    assert "hunter2pass" not in err
    assert "alice" not in err


@pytest.mark.usefixtures("curl_env")
@pytest.mark.parametrize(
    "option", [("-H", "x-api-key: hunter2pass\r\nx-injected: 1"), ("-A", "agent\nhunter2pass")]
)
def test_curl_refuses_cr_lf_in_a_header_without_quoting_it(
    option: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """CR/LF/NUL in -H or -A is a usage error that names the option, not the value."""
    assert curl([*option, "http://127.0.0.1:1/"]) == 2
    err = capsys.readouterr().err
    assert "cannot contain CR, LF or NUL" in err
    assert "hunter2pass" not in err


@pytest.mark.usefixtures("curl_env")
def test_curl_sends_a_non_ascii_user_agent_as_utf8(live: Served) -> None:
    """-A with non-ASCII text goes out as its UTF-8 bytes, as curl sends it, not a traceback."""
    assert curl(["-s", "-o", "/dev/null", "-A", "agent \u2603", live.url + "/ua"]) == 0
    (received,) = live.received
    assert received.header("user-agent") == ["agent \u2603".encode().decode("latin-1")]


@pytest.mark.usefixtures("curl_env")
def test_curl_usage_errors_return_an_exit_code_in_process() -> None:
    """main([...]) returns 2 for a usage error (argparse's) instead of raising SystemExit."""
    assert curl(["--no-such-option", "http://127.0.0.1:1/"]) == 2
    assert curl(["ftp://127.0.0.1/"]) == 2


def test_every_error_here_is_a_lattice_error() -> None:
    """The classes used above are all on the one tree."""
    for kind in (ConfigurationError, SigningError, InvalidHeaderError):
        assert issubclass(kind, LatticeError)
