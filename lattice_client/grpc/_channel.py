"""Sync channel helpers: the authority without its port, signed and sent alike."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import grpc

from lattice_client._credentials import CredentialsLike, with_role
from lattice_client._exceptions import ConfigurationError
from lattice_client._lattice import ANY_REGION, SIGNING_NAME
from lattice_client._retries import RetriesLike, grpc_retry_policy, resolve

from ._errors import map_error
from ._interceptor import _MappedCall
from ._signer import (
    CallSigner,
    Metadatum,
    authority_from_target,
    signer_for,
    with_default_authority,
)

ChannelOptions = Sequence[tuple[str, Any]]


class _Method:
    """A method of a signed channel: signs its calls, then has grpcio make them."""

    __slots__ = ("_inner", "_memo", "_method", "_signer")

    def __init__(self, inner: Any, method: str, signer: CallSigner) -> None:
        self._inner = inner
        self._method = method
        self._signer = signer
        # (Unix second, the metadata signing this method's calls in it): replaced
        # whole, never changed in place, so threads calling at once need no lock.
        self._memo: tuple[int, tuple[Metadatum, ...]] = (-1, ())

    def _signed(self, metadata: Any, timeout: float | None) -> Sequence[Metadatum]:
        """The call's metadata, signed now; may block to refresh credentials (``timeout``)."""
        if metadata:
            return self._signer.metadata(self._method, metadata, timeout)
        second = int(time.time())
        memo = self._memo
        if memo[0] == second:
            return memo[1]
        added = self._signer.signature(self._method, second, timeout)
        self._memo = (second, added)
        return added


# grpcio's multicallables are called with their arguments by position, in the
# order grpc.UnaryUnaryMultiCallable.__call__ defines: it binds them faster.


class _UnaryResponse(_Method):
    """A unary-unary or stream-unary method of a signed channel."""

    __slots__ = ()

    def __call__(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        signed = self._signed(metadata, timeout)
        try:
            return self._inner(request, timeout, signed, credentials, wait_for_ready, compression)
        except grpc.RpcError as error:
            mapped = map_error(error, self._method, self._signer.authority)
            if mapped is error:
                raise
            raise mapped from error

    def with_call(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> tuple[Any, grpc.Call]:
        signed = self._signed(metadata, timeout)
        try:
            return self._inner.with_call(  # type: ignore[no-any-return]
                request, timeout, signed, credentials, wait_for_ready, compression
            )
        except grpc.RpcError as error:
            mapped = map_error(error, self._method, self._signer.authority)
            if mapped is error:
                raise
            raise mapped from error

    def future(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> _MappedCall:
        signed = self._signed(metadata, timeout)
        call = self._inner.future(
            request, timeout, signed, credentials, wait_for_ready, compression
        )
        return _MappedCall(call, self._method, self._signer.authority)


class _StreamResponse(_Method):
    """A unary-stream or stream-stream method of a signed channel."""

    __slots__ = ()

    def __call__(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> _MappedCall:
        signed = self._signed(metadata, timeout)
        call = self._inner(request, timeout, signed, credentials, wait_for_ready, compression)
        return _MappedCall(call, self._method, self._signer.authority)


class SignedChannel(grpc.Channel):
    """A channel whose methods sign each call and raise Lattice's refusals typed.

    It does what `SigningInterceptor` does without grpcio's interceptor
    machinery, which costs a unary call more than signing it does.
    """

    def __init__(self, channel: grpc.Channel, signer: CallSigner) -> None:
        self._channel = channel
        self._signer = signer

    def __repr__(self) -> str:
        return f"<SignedChannel {self._signer!r}>"

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        inner = self._channel.unary_unary(method, *args, **kwargs)
        return _UnaryResponse(inner, method, self._signer)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        inner = self._channel.unary_stream(method, *args, **kwargs)
        return _StreamResponse(inner, method, self._signer)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        inner = self._channel.stream_unary(method, *args, **kwargs)
        return _UnaryResponse(inner, method, self._signer)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        inner = self._channel.stream_stream(method, *args, **kwargs)
        return _StreamResponse(inner, method, self._signer)

    def subscribe(
        self, callback: Callable[[grpc.ChannelConnectivity], None], try_to_connect: bool = False
    ) -> None:
        self._channel.subscribe(callback, try_to_connect=try_to_connect)

    def unsubscribe(self, callback: Callable[[grpc.ChannelConnectivity], None]) -> None:
        self._channel.unsubscribe(callback)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> SignedChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._channel.close()


def _signed(channel: grpc.Channel, signer: CallSigner, interceptors: Sequence[Any]) -> grpc.Channel:
    signed = SignedChannel(channel, signer)
    # The caller's interceptors wrap the signed channel: they see typed Lattice
    # errors, and a retry of theirs is signed afresh.
    return grpc.intercept_channel(signed, *interceptors) if interceptors else signed


def channel_signer(
    target: str,
    options: ChannelOptions,
    *,
    authority: str | None,
    aws_credentials: CredentialsLike,
    region: str | None,
    sigv4a: bool,
    region_set: str,
    service: str,
    retries: RetriesLike = None,
) -> tuple[CallSigner, list[tuple[str, Any]]]:
    """The signer for a channel to ``target``, and the options that send its authority.

    With ``retries``, the options also carry a service config whose
    ``retryPolicy`` grpcio follows (see `with_retry_policy`).
    """
    if (
        not isinstance(target, str)
        or not target
        or not target.isprintable()
        or any("\ud800" <= char <= "\udfff" for char in target)
    ):
        # grpcio encodes the target as UTF-8 and would raise a bare UnicodeEncodeError.
        raise ConfigurationError(
            "target must be 'host:port' (printable, no lone surrogates), "
            "for example 'svc.example.com:443'"
        )
    from_options = [value for name, value in options if name == "grpc.default_authority"]
    if from_options:
        given = str(from_options[-1])
        if authority is not None and authority.strip().lower() != given.strip().lower():
            raise ConfigurationError(
                f"authority={authority!r} and the channel option grpc.default_authority="
                f"{given!r} disagree; pass one of them"
            )
        authority = given
    if authority is None:
        authority = authority_from_target(target)
    signer = signer_for(
        authority,
        credentials=aws_credentials,
        region=region,
        sigv4a=sigv4a,
        region_set=region_set,
        service=service,
    )
    return signer, with_retry_policy(with_default_authority(options, signer.authority), retries)


def with_retry_policy(
    options: list[tuple[str, Any]], retries: RetriesLike
) -> list[tuple[str, Any]]:
    """``options`` plus a ``grpc.service_config`` that retries every method as ``retries`` says.

    grpcio's own retries (gRFC A6) run below the signing interceptor and re-send
    the call's metadata, signature included; every attempt leaves within
    ``Retries.total`` (at most 4 minutes) of the signing, so that signature is
    valid on each. The call's deadline (``timeout=``) bounds all attempts.
    """
    config = resolve(retries)
    if config is None or config.attempts < 2:
        return options
    names = {name for name, _ in options}
    if "grpc.service_config" in names:
        raise ConfigurationError(
            "retries= and the channel option grpc.service_config both configure retries; "
            "put a retryPolicy in your service config, or drop the option"
        )
    if any(name == "grpc.enable_retries" and not value for name, value in options):
        raise ConfigurationError(
            "retries= asks for retries and the channel option grpc.enable_retries=0 turns "
            "them off; pass one of them"
        )
    import json

    service_config = {
        "methodConfig": [{"name": [{}], "retryPolicy": grpc_retry_policy(config)}],
    }
    return [*options, ("grpc.service_config", json.dumps(service_config))]


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
    interceptors: Sequence[Any] = (),
    service: str = SIGNING_NAME,
    retries: RetriesLike = None,
) -> grpc.Channel:
    """A TLS channel to a Lattice service whose every call is signed.

    ``target`` is ``host:port`` (``billing-0123....on.aws:443``). ``credentials``
    are grpc's channel credentials (default: ``grpc.ssl_channel_credentials()``);
    ``aws_credentials`` are what calls are signed with (`Credentials`, a
    provider, a boto3 session, or None for the default chain), or the base
    ``role_arn`` (``role_session_name``, ``external_id``, ``duration``) is
    assumed with. The channel
    sends ``authority`` (default: the target's host, without the port) as
    ``:authority`` through ``grpc.default_authority``, and signs with that same
    host. Your ``interceptors`` run before the signer, so they see typed
    Lattice errors and a retry of theirs is signed afresh.
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
    channel = grpc.secure_channel(
        target,
        credentials if credentials is not None else grpc.ssl_channel_credentials(),
        options=merged,
        compression=compression,
    )
    return _signed(channel, signer, interceptors)


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
    interceptors: Sequence[Any] = (),
    service: str = SIGNING_NAME,
    retries: RetriesLike = None,
) -> grpc.Channel:
    """A plaintext channel (for a Lattice HTTP listener) whose every call is signed.

    Arguments as in `secure_channel`. Over plaintext the signature and the
    session token travel unencrypted: use it for HTTP listeners only.
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
    channel = grpc.insecure_channel(target, options=merged, compression=compression)
    return _signed(channel, signer, interceptors)
