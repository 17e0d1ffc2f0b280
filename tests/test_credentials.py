"""Where credentials come from, how they are refreshed, and what happens when that fails.

botocore does the resolving here for real: shared files in a temporary
directory, a real ``credential_process`` script, real `RefreshableCredentials`.
The environment is isolated so that nothing reaches the instance metadata
service or the developer's own ``~/.aws``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials
from botocore.credentials import RefreshableCredentials

import lattice_client
from lattice_client import (
    Credentials,
    CredentialsExpiredError,
    CredentialsRefreshError,
    CredentialsSource,
    NoCredentialsError,
    _api,
)
from lattice_client._credentials import ADVISORY_REFRESH, REFRESH_RETRY

URL = "https://billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws/invoices"
AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@pytest.fixture
def aws_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty AWS configuration: no env credentials, empty shared files, IMDS disabled."""
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text("")
    credentials.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # sign(credentials=None) resolves the default chain once per process; start afresh.
    monkeypatch.setattr(_api, "_default_source", None)
    return tmp_path


def now() -> datetime:
    return datetime.now(timezone.utc)


def key_id_of(headers: dict[str, str]) -> str:
    return headers["authorization"].split("Credential=")[1].split("/")[0]


def verify_with_botocore(headers: dict[str, str], secret: str) -> bool:
    """botocore recomputes the signature of a bare GET of URL signed with ``headers``."""
    request = AWSRequest(method="GET", url=URL)
    for name in ("x-amz-date", "x-amz-content-sha256", "x-amz-security-token"):
        if name in headers:
            request.headers[name] = headers[name]
    request.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(
        BotocoreCredentials(key_id_of(headers), secret, headers.get("x-amz-security-token")),
        "vpc-lattice-svcs",
        "us-west-2",
    )
    expected = auth.signature(
        auth.string_to_sign(request, auth.canonical_request(request)), request
    )
    return headers["authorization"].endswith(f"Signature={expected}")


# --- forms accepted ---------------------------------------------------------------


def test_environment_variables_are_read(aws_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default chain takes the key, secret, token and expiry from the environment first."""
    expiry = (now() + timedelta(hours=1)).replace(microsecond=0)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-env")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-env")
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", expiry.strftime("%Y-%m-%dT%H:%M:%SZ"))
    snapshot = CredentialsSource().get(now())
    assert snapshot == Credentials("AKIDENV", "secret-env", "token-env", expiry)
    headers = lattice_client.sign("GET", URL, credentials=None)
    assert key_id_of(headers) == "AKIDENV"
    assert verify_with_botocore(headers, "secret-env")


def test_environment_credentials_do_not_import_botocore(aws_home: Path) -> None:
    """Importing lattice_client and signing with env credentials never imports botocore."""
    script = textwrap.dedent(
        """
        import sys
        import lattice_client
        headers = lattice_client.sign("GET", sys.argv[1], credentials=None)
        assert "authorization" in headers
        loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("botocore", "boto3"))
        print(",".join(loaded))
        """
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "secret-env"}
    result = subprocess.run(
        [sys.executable, "-c", script, URL], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_partial_environment_is_an_error(aws_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key id without a secret raises NoCredentialsError naming the missing variable."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    with pytest.raises(NoCredentialsError, match="AWS_SECRET_ACCESS_KEY"):
        CredentialsSource().get(now())


def test_a_profile_in_the_shared_files(aws_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no env credentials, botocore's chain reads the profile named by AWS_PROFILE."""
    (aws_home / "credentials").write_text(
        "[lattice]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = secret-profile\n"
    )
    monkeypatch.setenv("AWS_PROFILE", "lattice")
    headers = lattice_client.sign("GET", URL, credentials=None)
    assert key_id_of(headers) == "AKIDPROFILE"
    assert verify_with_botocore(headers, "secret-profile")


def test_a_botocore_session_without_boto3(aws_home: Path) -> None:
    """A plain botocore Session passed as credentials= signs with its profile's keys."""
    (aws_home / "config").write_text(
        "[profile other]\naws_access_key_id = AKIDSESSION\naws_secret_access_key = secret-s\n"
    )
    session = botocore.session.Session(profile="other")
    headers = lattice_client.sign("GET", URL, credentials=session)
    assert key_id_of(headers) == "AKIDSESSION"
    assert verify_with_botocore(headers, "secret-s")


PROCESS_SCRIPT = """
import json, sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

counter = Path(sys.argv[1])
n = int(counter.read_text() or "0") + 1 if counter.exists() else 1
counter.write_text(str(n))
expiry = datetime.now(timezone.utc) + timedelta(seconds=int(sys.argv[2]))
print(json.dumps({
    "Version": 1,
    "AccessKeyId": f"AKIDPROC{n}",
    "SecretAccessKey": f"secret-proc-{n}",
    "SessionToken": f"token-proc-{n}",
    "Expiration": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
}))
"""


def _process_profile(aws_home: Path, lifetime: timedelta) -> tuple[CredentialsSource, Path]:
    script, counter = aws_home / "process.py", aws_home / "counter"
    script.write_text(PROCESS_SCRIPT)
    command = f"{sys.executable} {script} {counter} {int(lifetime.total_seconds())}"
    (aws_home / "config").write_text(f"[profile proc]\ncredential_process = {command}\n")
    session = botocore.session.Session(profile="proc")
    return CredentialsSource(session), counter


def test_credential_process_is_refreshed_ahead_of_expiry(aws_home: Path) -> None:
    """Credentials within ADVISORY_REFRESH of expiry are replaced before they expire."""
    # 4 minutes: inside our 5-minute advisory window and botocore's 10-minute mandatory one.
    assert timedelta(minutes=4) < ADVISORY_REFRESH
    source, counter = _process_profile(aws_home, timedelta(minutes=4))
    first = source.get(now())
    # Asked again only once REFRESH_RETRY has passed since the last try.
    second = source.get(now() + REFRESH_RETRY + timedelta(seconds=1))
    assert first.access_key_id != second.access_key_id
    assert int(counter.read_text()) >= 2
    for snapshot in (first, second):
        assert snapshot.expiry is not None
        assert snapshot.expiry > now()
        n = snapshot.access_key_id.removeprefix("AKIDPROC")
        assert snapshot == Credentials(
            f"AKIDPROC{n}", f"secret-proc-{n}", f"token-proc-{n}", snapshot.expiry
        )


def test_credential_process_far_from_expiry_is_not_rerun(aws_home: Path) -> None:
    """Credentials an hour from expiry are reused without running the process again."""
    source, counter = _process_profile(aws_home, timedelta(hours=1))
    first = source.get(now())
    runs = int(counter.read_text())
    assert source.peek(now()) == first
    assert source.get(now()) == first
    assert int(counter.read_text()) == runs


def test_no_credentials_anywhere(aws_home: Path) -> None:
    """With nothing in env, shared files or IMDS, NoCredentialsError says what to set."""
    with pytest.raises(NoCredentialsError, match="AWS_ACCESS_KEY_ID"):
        lattice_client.sign("GET", URL, credentials=None)


# --- providers ----------------------------------------------------------------------


class _Provider:
    """A provider that returns what it holds, or raises what it holds."""

    def __init__(self, credentials: object = None, error: Exception | None = None) -> None:
        self.credentials = credentials
        self.error = error

    def get_credentials(self) -> object:
        if self.error is not None:
            raise self.error
        return self.credentials


def test_a_provider_returning_expired_credentials() -> None:
    """A provider whose credentials are already expired raises CredentialsExpiredError."""
    stale = Credentials("AKIDSTALE", "secret", expiry=now() - timedelta(minutes=1))
    with pytest.raises(CredentialsExpiredError, match="AKIDSTALE"):
        lattice_client.sign("GET", URL, credentials=_Provider(stale))


def test_a_provider_that_raises() -> None:
    """A provider's exception becomes CredentialsRefreshError with the original as its cause."""
    cause = OSError("vault unreachable")
    with pytest.raises(CredentialsRefreshError, match="OSError") as caught:
        lattice_client.sign("GET", URL, credentials=_Provider(error=cause))
    assert caught.value.__cause__ is cause


def test_a_failed_refresh_keeps_valid_credentials_until_near_expiry() -> None:
    """After a failed refresh the snapshot serves until MANDATORY_REFRESH, then it raises."""
    t0 = now()
    expiry = t0 + timedelta(minutes=30)
    good = Credentials("AKIDGOOD", "secret", expiry=expiry)
    provider = _Provider(good)
    source = CredentialsSource(provider)
    assert source.get(t0) is good
    provider.error = OSError("down")
    assert source.get(expiry - timedelta(minutes=4)) is good  # advisory: keep going
    with pytest.raises(CredentialsRefreshError):
        source.get(expiry - timedelta(seconds=30))  # mandatory: refuse


# --- concurrency -------------------------------------------------------------------


def test_rotation_under_threads_never_mixes_snapshots() -> None:
    """Threads signing while credentials rotate every 2 ms: each key id matches its secret."""
    generation = [0]
    stop = threading.Event()

    def rotate() -> None:
        while not stop.is_set():
            generation[0] += 1
            time.sleep(0.002)

    def refresh() -> dict[str, str]:
        n = generation[0]
        return {
            "access_key": f"AKIDROT{n}",
            "secret_key": f"secret-rot-{n}",
            "token": f"token-rot-{n}",
            # Inside botocore's mandatory window: it refreshes on every read.
            "expiry_time": (now() + timedelta(minutes=6)).isoformat(),
        }

    rotating = RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    provider = _Provider(rotating)
    shared = CredentialsSource(provider)
    signed: list[dict[str, str]] = []
    errors: list[BaseException] = []

    def worker(use_shared: bool) -> None:
        try:
            for _ in range(60):
                credentials = shared if use_shared else provider
                signed.append(lattice_client.sign("GET", URL, credentials=credentials))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    rotator = threading.Thread(target=rotate)
    rotator.start()
    workers = [threading.Thread(target=worker, args=(i % 2 == 0,)) for i in range(8)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    stop.set()
    rotator.join()

    assert not errors
    assert len(signed) == 480
    assert len({key_id_of(headers) for headers in signed}) > 1  # rotation did happen
    for headers in signed:
        n = key_id_of(headers).removeprefix("AKIDROT")
        assert headers["x-amz-security-token"] == f"token-rot-{n}"
        assert verify_with_botocore(headers, f"secret-rot-{n}")


def test_environment_credentials_expiry_is_parsed(
    aws_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An expired AWS_CREDENTIAL_EXPIRATION in the environment is refused, not signed with."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-env")
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", "2000-01-01T00:00:00Z")
    with pytest.raises(CredentialsExpiredError, match="AKIDENV"):
        CredentialsSource().get(now())


def test_json_is_what_the_process_script_prints(tmp_path: Path) -> None:
    """The credential_process stand-in prints the JSON botocore expects (guards the fixture)."""
    script = tmp_path / "p.py"
    script.write_text(PROCESS_SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "c"), "60"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out)["AccessKeyId"] == "AKIDPROC1"
