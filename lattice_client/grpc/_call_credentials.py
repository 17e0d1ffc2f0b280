"""Signing as grpc call credentials: an ``AuthMetadataPlugin``, composed with TLS credentials.

The form google-auth ships (``google.auth.transport.grpc.AuthMetadataPlugin``):
grpc asks the plugin for each call's metadata, in a thread of its own, so a
credentials refresh may block there. grpc attaches call credentials only on a
secure channel (TLS, or ``grpc.local_channel_credentials()``); over a plain
``grpc.insecure_channel`` it refuses the call, which is why the interceptors
stay the way to reach a Lattice HTTP listener.
"""

from __future__ import annotations

import time
from datetime import timedelta

import grpc

from lattice_client._credentials import CredentialsLike, with_role
from lattice_client._exceptions import ConfigurationError
from lattice_client._lattice import ANY_REGION, SIGNING_NAME

from ._signer import signer_for

__all__ = ["LatticeAuthMetadataPlugin", "call_credentials"]


class LatticeAuthMetadataPlugin(grpc.AuthMetadataPlugin):
    """Signs each call for Lattice as ``POST https://<authority>/<Service>/<Method>``.

    Wrap it with ``grpc.metadata_call_credentials(plugin)`` (or use
    `call_credentials`) and compose it with channel credentials; the channel
    must send ``authority`` as ``:authority`` (channel option
    ``grpc.default_authority``): a call whose ``:authority`` differs fails
    before it is sent, since Lattice would refuse its signature. The options
    are `SigningInterceptor`'s.
    """

    def __init__(
        self,
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
    ) -> None:
        self._signer = signer_for(
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

    @property
    def authority(self) -> str:
        """The host every call is signed for; send it as ``:authority``."""
        return self._signer.authority

    def __repr__(self) -> str:
        return f"<LatticeAuthMetadataPlugin {self._signer!r}>"

    def __call__(
        self, context: grpc.AuthMetadataContext, callback: grpc.AuthMetadataPluginCallback
    ) -> None:
        """Give grpc the signature metadata for one call (``context`` names the method)."""
        try:
            # service_url is "<scheme>://<:authority>/<package.Service>" (no scheme over
            # local credentials); method_name is the bare method.
            where, _, service = context.service_url.partition("://")[2].partition("/")
            if where.lower() != self._signer.authority:
                raise ConfigurationError(
                    f"this call goes to :authority {where!r} but is signed for "
                    f"{self._signer.authority!r}; set the channel option "
                    f"('grpc.default_authority', {self._signer.authority!r})"
                )
            method = f"/{service}/{context.method_name}"
            metadata = self._signer.signature(method, int(time.time()))
        except Exception as exc:  # grpc fails the call with this error, nothing is sent
            callback((), exc)
            return
        callback(metadata, None)


def call_credentials(
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
) -> grpc.CallCredentials:
    """``grpc.CallCredentials`` that sign every call for ``authority``; see the plugin.

    Compose them with TLS::

        grpc.composite_channel_credentials(
            grpc.ssl_channel_credentials(), call_credentials(authority)
        )
    """
    plugin = LatticeAuthMetadataPlugin(
        authority,
        credentials=credentials,
        role_arn=role_arn,
        role_session_name=role_session_name,
        external_id=external_id,
        duration=duration,
        region=region,
        sigv4a=sigv4a,
        region_set=region_set,
        service=service,
    )
    return grpc.metadata_call_credentials(plugin, name="lattice_client")
