"""Instructions per request through lattice_client.Client over httpx.MockTransport.

Run under callgrind twice, with N and 10N requests; the difference divided by 9N
is the per-request cost, without the start-up (imports, first-request caches):

    for n in 2000 20000; do
        valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$n \\
            .venv/bin/python benchmarks/httpx_instructions.py $n sync
    done
    callgrind_annotate /tmp/cg.2000 | head -3; callgrind_annotate /tmp/cg.20000 | head -3

The third argument "unsigned" sends the same requests through a plain
httpx.Client carrying the same four headers a signature adds (the control).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timezone

import httpx

import lattice_client

CREDENTIALS = lattice_client.Credentials(
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session_token="session-token-value"
)
URL = "https://billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
PATH = "/invoices/2026?status=open&limit=50"


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"ok")


def main(n: int, mode: str) -> None:
    if mode == "async":

        async def run() -> None:
            async with lattice_client.AsyncClient(
                credentials=CREDENTIALS, base_url=URL, transport=httpx.MockTransport(handler)
            ) as client:
                for _ in range(n):
                    await client.get(PATH)

        asyncio.run(run())
        return
    if mode == "unsigned":
        headers = lattice_client.sign(
            "GET", URL + PATH, credentials=CREDENTIALS, now=datetime.now(timezone.utc)
        )
        client: httpx.Client = httpx.Client(
            base_url=URL, headers=dict(headers), transport=httpx.MockTransport(handler)
        )
    else:
        client = lattice_client.Client(
            credentials=CREDENTIALS, base_url=URL, transport=httpx.MockTransport(handler)
        )
    with client:
        for _ in range(n):
            client.get(PATH)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "sync")
