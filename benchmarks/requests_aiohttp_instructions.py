"""Instructions per request spent by the requests adapter and the aiohttp middleware.

The machine is shared and wall-clock figures are noisy; instruction counts are not.
Run under callgrind twice, with N and 10N requests; the difference divided by 9N is
the per-request cost, without the start-up (imports, first-request caches):

    for mode in requests-control requests requests-aws4auth aiohttp-control aiohttp \\
                aiohttp-aws-auth; do
        for n in 1000 10000; do
            valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$mode.$n \\
                .venv/bin/python benchmarks/requests_aiohttp_instructions.py $n $mode
        done
    done
    callgrind_annotate /tmp/cg.<mode>.<n> | head -3   # "PROGRAM TOTALS"

requests: ``session.get`` through the whole of requests (prepare, merge settings,
adapter), with ``HTTPAdapter.send``'s network part replaced by a canned response;
"requests-control" is a plain session sending the same four headers a signature
adds, unsigned; "requests-aws4auth" signs with requests-aws4auth.

aiohttp: the middleware called as aiohttp calls it, on a real ``ClientRequest``,
with a handler that returns at once; "aiohttp-control" is a middleware that does
nothing; "aiohttp-aws-auth" is aiohttp-aws-auth's middleware.

A third argument "distinct" gives every request its own path (``/invoices/<i>``),
so that no request can reuse the signature of an identical one sent within the
same second: the cost of signing from scratch.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import requests
import requests.adapters
from multidict import CIMultiDict
from yarl import URL

import lattice_client
import lattice_client.aiohttp
import lattice_client.requests

CREDENTIALS = lattice_client.Credentials(
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session_token="session-token-value"
)
HOST = "billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
TARGET = f"https://{HOST}/invoices/2026?status=open&limit=50"


def _canned(adapter: requests.adapters.HTTPAdapter, request: requests.PreparedRequest) -> Any:
    response = requests.Response()
    response.status_code = 200
    response._content = b"ok"
    response.request = request
    return response


def _targets(n: int, distinct: bool) -> list[str]:
    if not distinct:
        return [TARGET] * n
    return [TARGET.replace("/2026?", f"/{i}?") for i in range(n)]


def run_requests(n: int, mode: str, distinct: bool) -> None:
    # What HTTPAdapter.send does before urllib3 (request_url, add_headers) stays; the
    # network does not.
    def send(self: requests.adapters.HTTPAdapter, request: Any, *args: Any, **kw: Any) -> Any:
        self.request_url(request, kw.get("proxies") or {})
        return _canned(self, request)

    requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]
    if mode == "requests":
        session: requests.Session = lattice_client.requests.Session(
            credentials=CREDENTIALS, region="us-west-2"
        )
    else:
        session = requests.Session()
        if mode == "requests-aws4auth":
            import requests_aws4auth

            session.auth = requests_aws4auth.AWS4Auth(
                CREDENTIALS.access_key_id,
                CREDENTIALS.secret_access_key,
                "us-west-2",
                "vpc-lattice-svcs",
                session_token=CREDENTIALS.session_token,
            )
        else:
            with lattice_client.requests.Session(credentials=CREDENTIALS) as signing:
                sent = signing.get(TARGET).request.headers
            session.headers.update(
                {k: str(v) for k, v in sent.items() if k.lower().startswith(("x-amz", "auth"))}
            )
    with session:
        for target in _targets(n, distinct):
            session.get(target)


def run_aiohttp(n: int, mode: str, distinct: bool) -> None:
    import aiohttp

    async def main() -> None:
        middleware: Any
        if mode == "aiohttp":
            middleware = lattice_client.aiohttp.SigningMiddleware(
                credentials=CREDENTIALS, region="us-west-2"
            )
        elif mode == "aiohttp-aws-auth":
            import aiohttp_aws_auth

            middleware = aiohttp_aws_auth.AwsSigV4Auth(
                aiohttp_aws_auth.AwsCredentials(
                    CREDENTIALS.access_key_id,
                    CREDENTIALS.secret_access_key,
                    CREDENTIALS.session_token,
                ),
                "us-west-2",
                "vpc-lattice-svcs",
            )
        else:

            async def middleware(request: Any, handler: Any) -> Any:
                return await handler(request)

        class Answer:
            status = 200

        async def handler(request: Any) -> Any:
            return Answer()

        loop = asyncio.get_running_loop()
        urls = [URL(target) for target in _targets(n, distinct)]
        headers = CIMultiDict({"Accept": "*/*", "Accept-Encoding": "gzip, deflate"})
        for url in urls:
            # aiohttp builds one ClientRequest per request sent; so does this loop.
            request = aiohttp.ClientRequest("GET", url, headers=headers, loop=loop)
            await middleware(request, handler)

    asyncio.run(main())


def main(n: int, mode: str, distinct: bool) -> None:
    if mode.startswith("requests"):
        run_requests(n, mode, distinct)
    else:
        run_aiohttp(n, mode, distinct)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3:] == ["distinct"])
