"""``lattice-curl``, the installed command, against the local Lattice stand-in.

Every test runs ``.venv/bin/lattice-curl`` in a subprocess, as a user would, in
front of a small ASGI app served by `LocalLattice`, which verifies each
signature with its own verifier (awscrt), not with our signer. The
subprocess gets a clean AWS environment: only the credentials a test gives it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from lattice_client.testing import LocalLattice, Principal, Rule, ServiceNames
from lattice_client.testing._cli import write_credentials

COMMAND = str(Path(sys.executable).with_name("lattice-curl"))
NAMES = ServiceNames()
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "vpc-lattice-svcs:Invoke",
            "Resource": "*",
            "Condition": {"StringNotEqualsIgnoreCase": {"aws:PrincipalType": "anonymous"}},
        },
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "vpc-lattice-svcs:Invoke",
            "Resource": f"{NAMES.service_arn}/private*",
        },
    ],
}
STDIN_BODY = 64 * 1024 * 1024
# What a lattice-curl process may grow by while streaming STDIN_BODY from stdin.
STDIN_GROWTH_LIMIT = 24 * 1024 * 1024

Message = MutableMapping[str, Any]

pytestmark = pytest.mark.skipif(not Path(COMMAND).exists(), reason="lattice-curl not installed")


class Target:
    """The service behind the stand-in; it remembers the headers of each request."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.seen.append(headers)
        digest, size, body = hashlib.sha256(), 0, bytearray()
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            digest.update(chunk)
            size += len(chunk)
            if len(body) < 65536:
                body += chunk[:65536]
            if not message.get("more_body", False):
                break
        path = scope["path"]
        if path == "/redirect":
            await _answer(send, 302, b"", [(b"location", b"/echo")])
        elif path == "/redirect-away":
            # The same stand-in under another name: another host, so the hop goes unsigned.
            port = headers["host"].rpartition(":")[2]
            away = f"http://localhost:{port}/echo".encode()
            await _answer(send, 307, b"", [(b"location", away)])
        elif path == "/boom":
            await _answer(send, 500, b"it broke", [])
        elif path == "/echo":
            facts = {
                "method": scope["method"],
                "body": body.decode("latin-1"),
                "content-type": headers.get("content-type"),
                "signed-by": headers.get("x-amzn-lattice-identity", ""),
            }
            await _answer(send, 200, json.dumps(facts).encode(), [(b"x-answer", b"echo")])
        elif path.startswith("/upload"):
            facts = {
                "method": scope["method"],
                "path": path,
                "bytes": size,
                "sha256": digest.hexdigest(),
                "content-length": headers.get("content-length"),
            }
            await _answer(send, 200, json.dumps(facts).encode(), [])
        elif path == "/slow":
            await asyncio.sleep(2)
            await _answer(send, 200, b"late", [])
        elif path == "/bytes":
            count = int(scope["query_string"].decode().partition("=")[2])
            length = [(b"content-length", str(count).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": length})
            block = bytes(range(256)) * 256
            for start in range(0, count, len(block)):
                piece = block[: count - start]
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        else:
            await _answer(send, 404, b"the target has no such thing", [])


async def _answer(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def target() -> Target:
    """The app behind the stand-in."""
    return Target()


@pytest.fixture(scope="module")
def lattice(target: Target) -> Iterator[LocalLattice]:
    """A local Lattice that denies /private and answers /missing with a fixed 404."""
    with LocalLattice(
        app=target, auth_policy=POLICY, rules=[Rule("/missing", fixed_response=404)]
    ) as running:
        yield running


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any AWS setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


def env_for(lattice: LocalLattice, **extra: str) -> dict[str, str]:
    """A clean environment carrying the stand-in principal's credentials and region."""
    credentials = lattice.credentials
    settings = {
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_SESSION_TOKEN": credentials.session_token or "",
        "AWS_REGION": lattice.region,
    }
    return clean_env(**{**settings, **extra})


def curl(
    *args: str,
    env: Mapping[str, str],
    stdin: bytes | None = None,
    stderr: int | None = subprocess.PIPE,
) -> subprocess.CompletedProcess[bytes]:
    """Run the installed lattice-curl."""
    return subprocess.run(
        [COMMAND, *args],
        env=dict(env),
        input=stdin,
        stdout=subprocess.PIPE,
        stderr=stderr,
        timeout=60,
        check=False,
    )


def test_get_writes_the_body_to_stdout(lattice: LocalLattice, target: Target) -> None:
    """A GET is signed (the stand-in forwards it with the caller's identity) and its body
    goes to stdout; nothing goes to stderr. -H adds, removes ('Name:') and empties ('Name;')."""
    args = ("-H", "X-Tenant: blue", "-H", "Accept:", "-H", "X-Empty;", lattice.url + "/echo")
    result = curl(*args, env=env_for(lattice))
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["method"] == "GET"
    assert lattice.principal.arn in facts["signed-by"]
    assert result.stderr == b""
    sent = target.seen[-1]
    assert sent["x-tenant"] == "blue"
    assert sent["x-empty"] == ""
    # The stand-in's forwarding adds its own Accept; what was signed shows what was sent.
    signed_headers = sent["authorization"].partition("SignedHeaders=")[2].partition(",")[0]
    assert signed_headers.split(";") == [
        "host",
        "x-amz-content-sha256",
        "x-amz-date",
        "x-amz-security-token",
        "x-empty",
        "x-tenant",
    ]


def test_post_with_data(lattice: LocalLattice) -> None:
    """-d parts are joined with &, sent with POST and curl's form Content-Type."""
    result = curl("-d", "a=1", "--data-raw", "@b=2", lattice.url + "/echo", env=env_for(lattice))
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["method"] == "POST"
    assert facts["body"] == "a=1&@b=2"
    assert facts["content-type"] == "application/x-www-form-urlencoded"


def test_upload_file_is_streamed_with_its_length(lattice: LocalLattice, tmp_path: Path) -> None:
    """-T FILE sends the file's exact bytes with PUT and a Content-Length (to URL/FILE for a
    URL ending in '/'), and --data-binary @FILE sends them with POST."""
    data = os.urandom(3 * 1024 * 1024 + 7) + b"\r\n\0"
    upload = tmp_path / "upload.bin"
    upload.write_bytes(data)
    for option, method, path in (
        ("-T", "PUT", "/upload/upload.bin"),
        ("--data-binary", "POST", "/upload"),
    ):
        value = str(upload) if option == "-T" else f"@{upload}"
        # -T to a URL ending in "/" appends the file's name, as curl does.
        url = lattice.url + ("/upload/" if option == "-T" else "/upload")
        result = curl(option, value, url, env=env_for(lattice))
        assert result.returncode == 0, result.stderr
        facts = json.loads(result.stdout)
        assert facts == {
            "method": method,
            "path": path,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "content-length": str(len(data)),
        }


def run_measured(
    args: Sequence[str], env: Mapping[str, str], feed: Iterator[bytes] | None = None
) -> tuple[int, bytes, bytes, int]:
    """Run lattice-curl with ``feed`` piped to its stdin; return its exit code, stdout,
    stderr and peak resident set size in bytes (from the kernel, at exit)."""
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [COMMAND, *args],
        env=dict(env),
        stdin=read_end,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(read_end)

    def write() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            for chunk in feed or ():
                pipe.write(chunk)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    assert process.stdout is not None
    assert process.stderr is not None
    stdout = process.stdout.read()
    stderr = process.stderr.read()
    writer.join(60)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout.close()
    process.stderr.close()
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return process.returncode, stdout, stderr, usage.ru_maxrss * scale


@pytest.mark.skipif(not hasattr(os, "wait4"), reason="reads the child's peak RSS with wait4")
def test_upload_from_stdin_is_streamed(lattice: LocalLattice) -> None:
    """-T - streams 64 MiB from a pipe (chunked, no Content-Length) and the process stays
    small: its peak RSS is within 24 MiB of a plain GET's."""
    env = env_for(lattice)
    code, _, stderr, baseline = run_measured([lattice.url + "/echo"], env)
    assert code == 0, stderr

    block = os.urandom(1024 * 1024)
    expected = hashlib.sha256()
    for _ in range(STDIN_BODY // len(block)):
        expected.update(block)
    feed = (block for _ in range(STDIN_BODY // len(block)))
    code, stdout, stderr, peak = run_measured(["-T", "-", lattice.url + "/upload"], env, feed)
    assert code == 0, stderr
    facts = json.loads(stdout)
    assert facts["bytes"] == STDIN_BODY
    assert facts["sha256"] == expected.hexdigest()
    assert facts["content-length"] is None  # sent chunked, as it was read
    assert peak - baseline < STDIN_GROWTH_LIMIT, (peak, baseline)


def test_redirects_are_followed_with_l(lattice: LocalLattice, target: Target) -> None:
    """Without -L the redirect itself is the answer; with -L each hop is signed anew and
    -i writes every hop's headers."""
    result = curl("-i", lattice.url + "/redirect", env=env_for(lattice))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"HTTP/1.1 302")

    before = len(target.seen)
    result = curl("-L", "-i", lattice.url + "/redirect", env=env_for(lattice))
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.rpartition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 302")
    assert b"\r\n\r\nHTTP/1.1 200" in head
    assert json.loads(body)["method"] == "GET"
    hops = target.seen[before:]
    assert len(hops) == 2
    assert all(lattice.principal.arn in hop["x-amzn-lattice-identity"] for hop in hops)
    assert hops[0]["x-amz-date"]
    assert hops[1]["authorization"] != hops[0]["authorization"]


def test_redirect_to_another_host_goes_unsigned(lattice: LocalLattice) -> None:
    """A redirect to another host is followed without a signature: Lattice sees an
    anonymous caller and denies it (exit 43), and -v says the hop was not signed."""
    result = curl("-L", "-v", lattice.url + "/redirect-away", env=env_for(lattice))
    assert result.returncode == 43
    stderr = result.stderr.decode()
    assert "> GET /echo\n> Host: localhost:" in stderr
    assert "* not signed: only requests to the URL's host are signed" in stderr
    assert "User: anonymous" in stderr


def test_sigv4a(lattice: LocalLattice) -> None:
    """--sigv4a signs with SigV4A (region set '*'), which the stand-in verifies; -v shows
    the SigV4A string to sign."""
    result = curl("--sigv4a", "-v", lattice.url + "/echo", env=env_for(lattice))
    assert result.returncode == 0, result.stderr
    assert lattice.principal.arn in json.loads(result.stdout)["signed-by"]
    stderr = result.stderr.decode()
    assert "*   AWS4-ECDSA-P256-SHA256\n" in stderr
    assert "*   x-amz-region-set:*\n" in stderr


def test_denied_call_exits_43_with_the_explanation(lattice: LocalLattice) -> None:
    """Lattice's denial prints the AccessDeniedError explanation and its Fix line on stderr,
    writes nothing to stdout, and exits 43, with or without --fail."""
    for extra in ((), ("--fail",)):
        result = curl(*extra, lattice.url + "/private/report", env=env_for(lattice))
        assert result.returncode == 43
        assert result.stdout == b""
        lines = result.stderr.decode().splitlines()
        assert lines[0].startswith("lattice-curl: GET http://")
        assert "AccessDeniedException" in lines[0]
        assert "explicit deny" in lines[0]
        assert lines[1].startswith("lattice-curl: Fix: ")


def test_signature_refused_exits_42(lattice: LocalLattice) -> None:
    """A signature made with the wrong secret is refused by Lattice: exit 42."""
    env = env_for(lattice, AWS_SECRET_ACCESS_KEY="not-the-secret")
    result = curl(lattice.url + "/echo", env=env)
    assert result.returncode == 42
    assert b"InvalidSignatureException" in result.stderr
    assert result.stdout == b""
    # The fix in the command's own terms: its options, not Python arguments.
    stderr = result.stderr.decode()
    assert "--region" in stderr
    assert "--service" in stderr
    assert "region=" not in stderr.replace("--region", "")
    assert "exactly as it is sent" not in stderr


def test_fail_on_http_errors(lattice: LocalLattice) -> None:
    """--fail turns a 404 (Lattice's fixed response or the target's) into exit 44 and a 500
    into exit 22, with nothing on stdout; without --fail the body is written, exit 0."""
    for path in ("/missing", "/nothing-here"):
        result = curl("--fail", lattice.url + path, env=env_for(lattice))
        assert result.returncode == 44, result.stderr
        assert result.stdout == b""
        assert b"404 Not Found" in result.stderr

    result = curl("--fail", lattice.url + "/boom", env=env_for(lattice))
    assert result.returncode == 22
    assert result.stdout == b""
    assert b"500 Internal Server Error: it broke" in result.stderr

    result = curl(lattice.url + "/nothing-here", env=env_for(lattice))
    assert result.returncode == 0
    assert result.stdout == b"the target has no such thing"


def test_output_file_and_head(lattice: LocalLattice, tmp_path: Path) -> None:
    """-o writes the body byte for byte to a file; -I sends HEAD and writes headers only."""
    output = tmp_path / "out.bin"
    count = 300_000
    result = curl("-o", str(output), f"{lattice.url}/bytes?n={count}", env=env_for(lattice))
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert output.read_bytes() == (bytes(range(256)) * 1200)[:count]

    result = curl("-I", lattice.url + "/echo", env=env_for(lattice))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"HTTP/1.1 200")
    assert result.stdout.endswith(b"\r\n\r\n")
    assert b"x-answer: echo" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "the following arguments are required: URL"),
        (("ftp://example.com/",), "URL must start with http:// or https://"),
        (("http://exa mple.com/",), "has no valid host"),
        (("-H", "X Bad: 1", "http://127.0.0.1/"), "a header name is letters, digits"),
        (("-H", "no-colon", "http://127.0.0.1/"), "-H takes 'Name: value'"),
        (("-T", "x", "-d", "y", "http://127.0.0.1/"), "both give a body"),
        (("--region", "mars", "http://127.0.0.1/"), "is not an AWS region"),
        (("--max-time", "soon", "http://127.0.0.1/"), "is not a number of seconds"),
        (("--frobnicate", "http://127.0.0.1/"), "unrecognized arguments: --frobnicate"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...], message: str) -> None:
    """Bad usage gets argparse's usage line, a message naming the problem, and exit 2."""
    result = curl(*args, env=clean_env())
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert stderr.startswith("usage: lattice-curl")
    assert message in stderr


def test_max_time_exits_28(lattice: LocalLattice) -> None:
    """-m bounds the whole transfer: a service that takes 2 s to answer, with -m 0.5,
    gives exit 28 and a message naming the options to change."""
    result = curl("-m", "0.5", lattice.url + "/slow", env=env_for(lattice))
    assert result.returncode == 28
    assert b"timed out" in result.stderr
    assert b"-m" in result.stderr
    assert result.stdout == b""
    # Let the stand-in finish the abandoned request, so none is cut off at teardown.
    deadline = time.monotonic() + 30
    while not any(record["requestPath"] == "/slow" for record in lattice.access_log):
        assert time.monotonic() < deadline, "the stand-in never finished /slow"
        time.sleep(0.05)


def test_help_lists_every_exit_code() -> None:
    """--help and docs/curl.md both list every exit code the command uses."""
    from lattice_client._curl import ExitCode

    result = curl("--help", env=clean_env())
    assert result.returncode == 0
    docs = (Path(__file__).parent.parent / "docs" / "curl.md").read_text()
    for code in ExitCode:
        assert f"\n{code.value:4d}  ".encode() in result.stdout, code
        assert f"\n| {code.value} | " in docs, code


def test_missing_region_is_a_usage_error() -> None:
    """A host that names no region, without --region or AWS_REGION, exits 2 before sending."""
    env = clean_env(AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret")
    result = curl("http://127.0.0.1:9/", env=env)
    assert result.returncode == 2
    assert b"--region" in result.stderr


def test_verbose_shows_the_signing_steps_without_secrets(
    lattice: LocalLattice, target: Target
) -> None:
    """-v writes the request as sent, the canonical request and the string to sign, and
    the response headers to stderr, with no secret key, session token or signature."""
    result = curl("-v", "-H", "X-Trace: 1", lattice.url + "/echo?b=2&a=1", env=env_for(lattice))
    assert result.returncode == 0, result.stderr
    stderr = result.stderr.decode()
    sent = target.seen[-1]
    signature = sent["authorization"].rpartition("Signature=")[2]
    credentials = lattice.credentials
    for secret in (credentials.secret_access_key, credentials.session_token, signature):
        assert secret
        assert secret not in stderr
        assert secret.encode() not in result.stdout
    assert "> GET /echo?b=2&a=1" in stderr
    assert "Signature=<redacted>" in stderr
    assert "x-amz-security-token: <redacted>" in stderr
    assert "*   a=1&b=2\n" in stderr  # the canonical query, sorted
    assert "*   x-trace:1\n" in stderr
    assert f"*   x-amz-date:{sent['x-amz-date']}\n" in stderr
    assert "*   AWS4-HMAC-SHA256\n" in stderr
    assert "do not reproduce" not in stderr
    assert "< HTTP/1.1 200" in stderr
    assert "< x-answer: echo" in stderr


def test_profile_reads_botocore_credentials(lattice: LocalLattice, tmp_path: Path) -> None:
    """--profile signs with that profile's credentials from the shared credentials file;
    an unknown profile exits 41."""
    credentials_file = tmp_path / "credentials"
    (profile,) = write_credentials([lattice.principal], credentials_file)
    env = clean_env(AWS_SHARED_CREDENTIALS_FILE=str(credentials_file))
    result = curl("--profile", profile, "--region", lattice.region, lattice.url + "/echo", env=env)
    assert result.returncode == 0, result.stderr
    assert lattice.principal.arn in json.loads(result.stdout)["signed-by"]

    result = curl("--profile", "nobody", "--region", lattice.region, lattice.url, env=env)
    assert result.returncode == 41
    assert b"'nobody'" in result.stderr


def test_botocore_is_imported_only_for_profile(lattice: LocalLattice) -> None:
    """With credentials in the environment the command never imports botocore."""
    code = (
        "import sys\n"
        "from lattice_client._curl import main\n"
        "status = main(['-s', '-o', sys.argv[2], sys.argv[1]])\n"
        "print(status, 'botocore' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, lattice.url + "/echo", os.devnull],
        env=env_for(lattice),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.split() == [b"0", b"False"], result.stderr


def test_no_credentials_exits_41() -> None:
    """Without any credentials the command says where it looked and exits 41."""
    result = curl("--region", "us-west-2", "http://127.0.0.1:9/", env=clean_env())
    assert result.returncode == 41
    assert b"no AWS credentials found" in result.stderr
    assert b"--profile" in result.stderr
    assert b"credentials=" not in result.stderr


def test_connection_refused_is_a_transport_error(lattice: LocalLattice) -> None:
    """Nothing listening: exit 7 with the URL in the message; -s -S still shows it."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = curl("-s", "-S", f"http://127.0.0.1:{port}/x", env=env_for(lattice))
    assert result.returncode == 7
    assert result.stderr.startswith(b"lattice-curl: transport error")

    result = curl("-s", f"http://127.0.0.1:{port}/x", env=env_for(lattice))
    assert result.returncode == 7
    assert result.stderr == b""


def test_https_http2_with_cacert(target: Target) -> None:
    """Over TLS, --cacert trusts the stand-in's CA and --http2 negotiates HTTP/2; without
    the CA the certificate is refused (exit 7)."""
    principal = Principal.generate()
    with LocalLattice(app=target, tls=True, principals=[principal]) as tls_lattice:
        assert tls_lattice.ca_file is not None
        env = env_for(tls_lattice)
        url = tls_lattice.url + "/echo"
        result = curl("--http2", "--cacert", tls_lattice.ca_file, "-i", url, env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(b"HTTP/2 200\r\n")

        result = curl(url, env=env)
        assert result.returncode == 7
        assert b"CERTIFICATE_VERIFY_FAILED" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_only_on_a_terminal(lattice: LocalLattice, tmp_path: Path) -> None:
    """A 4 MiB download draws a progress meter when stderr is a terminal, and none when
    stderr is a pipe or with -s."""
    import pty

    url = f"{lattice.url}/bytes?n={4 * 1024 * 1024}"
    output = str(tmp_path / "out")
    primary, secondary = pty.openpty()
    try:
        result = curl("-o", output, url, env=env_for(lattice), stderr=secondary)
        os.close(secondary)
        drawn = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(primary)
    assert result.returncode == 0
    assert b"download" in drawn
    assert b"4.0 MiB / 4.0 MiB 100%" in drawn

    result = curl("-o", output, url, env=env_for(lattice))
    assert result.returncode == 0
    assert result.stderr == b""
