"""grpc.aio: signing interceptors and channel helpers for asyncio gRPC clients.

Credential refreshes run in a worker thread, one at a time per channel, so a
call never blocks the event loop while the others wait for fresh credentials.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import grpc
import grpc.aio

from lattice_client._credentials import CredentialsLike, with_role
from lattice_client._lattice import ANY_REGION, SIGNING_NAME
from lattice_client._retries import RetriesLike

from ._aio import interceptors_for
from ._aio_channel import SignedChannel
from ._channel import ChannelOptions, channel_signer
from ._signer import CallSigner, signer_for

__all__ = [
    "insecure_channel",
    "secure_channel",
    "signing_interceptors",
]


def signing_interceptors(
    authority: str,
    *,
    credentials: CredentialsLike = None,
    role_arn: str | None = None,
    role_session_name: str | None = None,
    external_id: str | None = None,
    duration: timedelta | int | None = None,
    region: str | None = None,
    sigv4a: bool = False,
    region_set: str = ANY_REGION,
    service: str = SIGNING_NAME,
) -> list[grpc.aio.ClientInterceptor]:
    """Four interceptors (one per call kind) that sign every call of a grpc.aio channel.

    Pass all four in ``interceptors=`` of a channel whose ``grpc.default_authority``
    is ``authority``: grpc.aio registers an interceptor for one call kind only
    (grpc/grpc#31442), so a single object cannot cover them all. Arguments as
    in `lattice_client.grpc.SigningInterceptor`.
    """
    return interceptors_for(
        signer_for(
            authority,
            credentials=with_role(
                credentials,
                role_arn=role_arn,
                role_session_name=role_session_name,
                external_id=external_id,
                duration=duration,
            ),
            region=region,
            sigv4a=sigv4a,
            region_set=region_set,
            service=service,
        )
    )


def secure_channel(
    target: str,
    credentials: grpc.ChannelCredentials | None = None,
    *,
    aws_credentials: CredentialsLike = None,
    role_arn: str | None = None,
    role_session_name: str | None = None,
    external_id: str | None = None,
    duration: timedelta | int | None = None,
    region: str | None = None,
    sigv4a: bool = False,
    region_set: str = ANY_REGION,
    authority: str | None = None,
    options: ChannelOptions = (),
    compression: grpc.Compression | None = None,
    interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    service: str = SIGNING_NAME,
    retries: RetriesLike = None,
) -> grpc.aio.Channel:
    """A grpc.aio TLS channel to a Lattice service whose every call is signed.

    Arguments as in `lattice_client.grpc.secure_channel`; your ``interceptors``
    run before the signers. Without interceptors of yours the channel signs each
    call as it is made, without grpc.aio's interceptor machinery.
    """
    signer, merged = channel_signer(
        target,
        options,
        authority=authority,
        aws_credentials=with_role(
            aws_credentials,
            role_arn=role_arn,
            role_session_name=role_session_name,
            external_id=external_id,
            duration=duration,
        ),
        region=region,
        sigv4a=sigv4a,
        region_set=region_set,
        service=service,
        retries=retries,
    )
    if interceptors:
        return grpc.aio.secure_channel(
            target,
            credentials if credentials is not None else grpc.ssl_channel_credentials(),
            options=merged,
            compression=compression,
            interceptors=_with_signers(interceptors, signer),
        )
    channel = grpc.aio.secure_channel(
        target,
        credentials if credentials is not None else grpc.ssl_channel_credentials(),
        options=merged,
        compression=compression,
    )
    return SignedChannel(channel, signer)


def insecure_channel(
    target: str,
    *,
    aws_credentials: CredentialsLike = None,
    role_arn: str | None = None,
    role_session_name: str | None = None,
    external_id: str | None = None,
    duration: timedelta | int | None = None,
    region: str | None = None,
    sigv4a: bool = False,
    region_set: str = ANY_REGION,
    authority: str | None = None,
    options: ChannelOptions = (),
    compression: grpc.Compression | None = None,
    interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    service: str = SIGNING_NAME,
    retries: RetriesLike = None,
) -> grpc.aio.Channel:
    """A grpc.aio plaintext channel (for a Lattice HTTP listener) whose every call is signed.

    Arguments as in `lattice_client.grpc.secure_channel`.
    """
    signer, merged = channel_signer(
        target,
        options,
        authority=authority,
        aws_credentials=with_role(
            aws_credentials,
            role_arn=role_arn,
            role_session_name=role_session_name,
            external_id=external_id,
            duration=duration,
        ),
        region=region,
        sigv4a=sigv4a,
        region_set=region_set,
        service=service,
        retries=retries,
    )
    if interceptors:
        return grpc.aio.insecure_channel(
            target,
            options=merged,
            compression=compression,
            interceptors=_with_signers(interceptors, signer),
        )
    channel = grpc.aio.insecure_channel(target, options=merged, compression=compression)
    return SignedChannel(channel, signer)


def _with_signers(
    interceptors: Sequence[grpc.aio.ClientInterceptor], signer: CallSigner
) -> list[grpc.aio.ClientInterceptor]:
    # grpc.aio offers no way to wrap a channel in interceptors from outside, so
    # with the caller's own the signers join them, last, to run after theirs:
    # their interceptors see typed errors, and a retry of theirs is signed afresh.
    return [*interceptors, *interceptors_for(signer)]
