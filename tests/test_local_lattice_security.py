"""`LocalLattice` is no weaker than Lattice: no caller gets in, or lies to the target, by
spelling a header, a path or a query differently, or by sending a second signature."""

from __future__ import annotations

import http.client
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

import lattice_client
from lattice_client.testing import LocalLattice, Principal, Rule
from lattice_client.testing._cli import write_credentials

CALLER = Principal.generate("arn:aws:sts::111122223333:assumed-role/reader/job-1")
SERVICE_ARN = "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0"
FORGED = "Principal=arn:aws:iam::999999999999:role/admin; Type=AWS_IAM"


def wsgi_whoami(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """A WSGI target that reads the caller as every WSGI framework does: from the environ."""
    headers = {
        key[5:].lower().replace("_", "-"): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    try:
        principal = lattice_client.parse_lattice_headers(headers).identity.principal or "-"
    except lattice_client.LatticeHeadersError:
        principal = "refused"
    start_response("200 OK", [("content-type", "text/plain")])
    return [f"{environ['PATH_INFO']} {principal}".encode()]


@pytest.fixture(scope="module")
def lattice() -> Iterator[LocalLattice]:
    """Anyone may call, except /admin* (denied) and ?debug=true (denied); /internal is a 404."""
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": "*",
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": f"{SERVICE_ARN}/admin*",
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"vpc-lattice-svcs:RequestQueryString/debug": "true"}
                },
            },
        ]
    }
    with LocalLattice(
        app=wsgi_whoami,
        auth_policy=policy,
        principals=[CALLER],
        rules=[Rule("/internal", fixed_response=404)],
    ) as running:
        yield running


def raw_request(
    lattice: LocalLattice, method: str, target: str, headers: list[tuple[str, str]]
) -> tuple[int, str]:
    """Send ``target`` byte for byte (http.client neither normalises paths nor merges headers)."""
    url = urlsplit(lattice.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        if not any(name.lower() == "host" for name, _ in headers):
            connection.putheader("host", url.netloc)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def signed_headers(lattice: LocalLattice, method: str, target: str) -> list[tuple[str, str]]:
    added = lattice_client.sign(
        method, lattice.url + target, {}, credentials=CALLER.credentials, region=lattice.region
    )
    return list(added.items())


# -- identity headers under another spelling ---------------------------------------------


def test_underscore_spelled_identity_header_does_not_reach_an_anonymous_callers_target(
    lattice: LocalLattice,
) -> None:
    """``x_amzn_lattice_identity`` folds into the same WSGI key as Lattice's header: stripped."""
    status, body = raw_request(lattice, "GET", "/whoami", [("x_amzn_lattice_identity", FORGED)])
    assert (status, body) == (200, "/whoami -")


@pytest.mark.parametrize(
    "spelling",
    ["x_amzn_lattice_identity", "X_Amzn_Lattice_Identity", "x-amzn_lattice-identity"],
)
def test_underscore_spelled_identity_header_does_not_replace_a_signed_callers_principal(
    lattice: LocalLattice, spelling: str
) -> None:
    """A signed caller's forged copy is removed, so the target reads the verified principal."""
    headers = signed_headers(lattice, "GET", "/whoami")
    status, body = raw_request(lattice, "GET", "/whoami", [*headers, (spelling, FORGED)])
    assert (status, body) == (200, f"/whoami {CALLER.arn}")


def test_underscore_spelled_forwarded_headers_are_stripped(lattice: LocalLattice) -> None:
    """x_forwarded_for and the like are removed as their hyphenated spelling is."""

    def environ_keys(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("content-type", "text/plain")])
        return [repr(environ.get("HTTP_X_FORWARDED_FOR")).encode()]

    with LocalLattice(app=environ_keys, auth_type="NONE") as running:
        status, body = raw_request(running, "GET", "/", [("x_forwarded_for", "6.6.6.6")])
    assert (status, body) == (200, "'127.0.0.1'")


# -- policy and rules on the path the target sees -----------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/admin",
        "/%61dmin",
        "/./admin",
        "/public/../admin",
        "//admin",
        "/public/%2e%2e/admin",
        "/public%2F..%2Fadmin",
        "/ADMIN/../admin/users",
    ],
)
def test_deny_on_a_path_holds_for_every_spelling_of_it(lattice: LocalLattice, target: str) -> None:
    """Percent-encoding, dot segments and doubled slashes do not get a caller past a Deny."""
    status, body = raw_request(lattice, "GET", target, [])
    assert status == 403, body
    assert "explicit deny in a service-based policy" in body


def test_target_receives_the_normalised_path_the_policy_judged(lattice: LocalLattice) -> None:
    """What the target sees is the path the policy was evaluated on, dot segments removed."""
    assert raw_request(lattice, "GET", "/public/./reports/../%72eports", []) == (
        200,
        "/public/reports -",
    )


@pytest.mark.parametrize("target", ["/internal", "/%69nternal", "/x/../internal", "//internal"])
def test_fixed_response_rule_applies_to_every_spelling_of_its_path(
    lattice: LocalLattice, target: str
) -> None:
    """A fixed-response rule on /internal is not bypassed by an encoded or dotted spelling."""
    assert raw_request(lattice, "GET", target, [])[0] == 404


@pytest.mark.parametrize(
    "query", ["debug=true&debug=false", "debug=false&debug=true", "debug=tru%65"]
)
def test_deny_on_a_query_value_holds_when_the_parameter_is_repeated(
    lattice: LocalLattice, query: str
) -> None:
    """A Deny matches if any value of a repeated parameter matches, whichever one a target reads."""
    status, body = raw_request(lattice, "GET", f"/report?{query}", [])
    assert status == 403, body


def test_allow_on_a_query_value_needs_every_value_to_match() -> None:
    """An Allow on ?role=reader does not apply to ?role=reader&role=admin."""
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"vpc-lattice-svcs:RequestQueryString/role": "reader"}
                },
            }
        ]
    }
    with LocalLattice(app=wsgi_whoami, auth_policy=policy) as running:
        assert raw_request(running, "GET", "/?role=reader", [])[0] == 200
        assert raw_request(running, "GET", "/?role=reader&role=admin", [])[0] == 403


# -- one signature per request ------------------------------------------------------------


@pytest.mark.parametrize("repeated", ["authorization", "x-amz-security-token", "x-amz-date"])
def test_a_second_signature_header_after_a_valid_one_is_refused(
    lattice: LocalLattice, repeated: str
) -> None:
    """A request carrying two Authorization (or token, or date) headers is a signature error."""
    headers = signed_headers(lattice, "GET", "/whoami")
    extra = (repeated, "AWS4-HMAC-SHA256 Credential=x" if repeated == "authorization" else "x")
    status, body = raw_request(lattice, "GET", "/whoami", [*headers, extra])
    assert status == 403
    assert body == (
        f"IncompleteSignatureException: The request carries more than one '{repeated}' header; "
        "send exactly one."
    )
    # The valid signature alone still passes.
    assert raw_request(lattice, "GET", "/whoami", headers)[0] == 200


# -- lattice-local --credentials-file -----------------------------------------------------


def test_credentials_file_over_an_existing_world_readable_file_becomes_private(
    tmp_path: Path,
) -> None:
    """An existing 0644 file is replaced by a 0600 one, not rewritten in place with its mode."""
    path = tmp_path / "credentials"
    path.write_text("old")
    path.chmod(0o644)
    write_credentials([CALLER], path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert CALLER.credentials.access_key_id in path.read_text()


def test_credentials_file_does_not_follow_a_symlink(tmp_path: Path) -> None:
    """A symlink there is replaced by the private file; the file it pointed to is untouched."""
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    victim.chmod(0o644)
    link = tmp_path / "credentials"
    link.symlink_to(victim)
    write_credentials([CALLER], link)
    assert victim.read_text() == "keep me"
    assert not link.is_symlink()
    assert stat.S_IMODE(os.lstat(link).st_mode) == 0o600
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".credentials-")]


# -- a flapping target --------------------------------------------------------------------


def test_flap_answers_lattices_503_for_the_next_n_requests_then_recovers(
    lattice: LocalLattice,
) -> None:
    """flap(requests=2): two 503s as Lattice gives with no healthy target, then the target again."""
    lattice.flap(requests=2)
    with httpx.Client(base_url=lattice.url, trust_env=False) as client:
        statuses = [client.get("/flaky").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    lattice.flap(requests=1)
    with lattice_client.Client(
        base_url=lattice.url,
        credentials=CALLER.credentials,
        region=lattice.region,
        raise_for_status=True,
    ) as signing_client:
        with pytest.raises(lattice_client.ServiceUnavailableError):
            signing_client.get("/flaky")
        assert signing_client.get("/flaky").status_code == 200


def test_flap_for_a_time_then_recovers(lattice: LocalLattice) -> None:
    """flap(seconds=T): every request in the window gets a 503; after it, the target answers."""
    lattice.flap(seconds=0.3)
    with httpx.Client(base_url=lattice.url, trust_env=False) as client:
        assert client.get("/flaky").status_code == 503
        assert client.get("/flaky").status_code == 503
        time.sleep(0.4)
        assert client.get("/flaky").status_code == 200
        lattice.flap(seconds=60)
        assert client.get("/flaky").status_code == 503
        lattice.flap()  # ends it
        assert client.get("/flaky").status_code == 200


def test_flap_refuses_nonsense() -> None:
    """Negative or non-numeric counts are configuration errors."""
    with pytest.raises(lattice_client.ConfigurationError, match="requests="):
        LocalLattice().flap(requests=-1)
    with pytest.raises(lattice_client.ConfigurationError, match="seconds="):
        LocalLattice().flap(seconds="5")  # type: ignore[arg-type]
