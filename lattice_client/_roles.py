"""An IAM role assumed through STS: the credentials of ``role_arn=``.

botocore makes the STS call (its STS client, its endpoint resolution, so
``AWS_ENDPOINT_URL_STS`` and ``AWS_STS_REGIONAL_ENDPOINTS`` apply), imported
only when a role is configured: a Lambda cold start without one never pays for
it. Refreshing ahead of expiry, and sharing one refresh between concurrent
requests, is `CredentialsSource`'s job, as for any provider.
"""

from __future__ import annotations

import os
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from ._credentials import Credentials, CredentialsLike, CredentialsSource
from ._exceptions import ConfigurationError, CredentialsRefreshError

__all__ = ["AssumeRoleProvider"]

# The limits STS itself enforces (API_AssumeRole): refused here, before any call.
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}")
_GLOBAL_STS_REGION = "us-east-1"
MIN_DURATION = timedelta(minutes=15)
MAX_DURATION = timedelta(hours=12)


class AssumeRoleProvider:
    """Credentials of the role ``role_arn``, assumed through STS with ``credentials``.

    ``credentials`` are the base, anything ``credentials=`` accepts (None: the
    environment, then botocore's chain). ``role_session_name`` (default
    ``lattice-client-<unix time>``) shows in the assumed-role ARN Lattice passes to
    targets; ``external_id`` is the one the role's trust policy asks for;
    ``duration`` (15 minutes to 12 hours, default STS's one hour) how long each
    set of role credentials lasts. ``region`` is the STS region (default:
    ``AWS_REGION``, else botocore's from ``AWS_DEFAULT_REGION`` or the profile, else
    us-east-1).

    A provider: give it to ``credentials=``, or pass ``role_arn=`` to any client,
    which builds one. Each ``get_credentials()`` calls AssumeRole once.
    """

    __slots__ = (
        "_base",
        "_client",
        "_client_for",
        "_lock",
        "_params",
        "_region",
        "role_arn",
    )

    def __init__(
        self,
        role_arn: str,
        *,
        credentials: CredentialsLike = None,
        role_session_name: str | None = None,
        external_id: str | None = None,
        duration: timedelta | int | None = None,
        region: str | None = None,
    ) -> None:
        if not isinstance(role_arn, str) or not _ROLE_ARN.fullmatch(role_arn):
            raise ConfigurationError(
                f"role_arn= must be an IAM role ARN such as "
                f"arn:aws:iam::111122223333:role/billing-caller, not {role_arn!r}"
            )
        if role_session_name is None:
            role_session_name = f"lattice-client-{int(time.time())}"
        elif not isinstance(role_session_name, str) or not _SESSION_NAME.fullmatch(
            role_session_name
        ):
            raise ConfigurationError(
                "role_session_name= must be 2 to 64 letters, digits or +=,.@_- "
                f"characters, not {role_session_name!r}"
            )
        params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": role_session_name}
        if external_id is not None:
            if not isinstance(external_id, str) or not _EXTERNAL_ID.fullmatch(external_id):
                # Not echoed: an external id is a shared secret of sorts.
                raise ConfigurationError(
                    "external_id= must be 2 to 1224 letters, digits or +=,.@:/_- characters"
                )
            params["ExternalId"] = external_id
        if duration is not None:
            params["DurationSeconds"] = _duration_seconds(duration)
        if region is not None and (not isinstance(region, str) or not region.strip()):
            raise ConfigurationError(
                f"region= must be an AWS region such as 'us-east-1', not {region!r}"
            )
        self.role_arn = role_arn
        self._params = params
        self._region = region
        self._base = (
            credentials
            if isinstance(credentials, CredentialsSource)
            else CredentialsSource(credentials)
        )
        self._lock = threading.Lock()
        self._client: Any = None
        self._client_for: Credentials | None = None

    def __repr__(self) -> str:
        return (
            f"<AssumeRoleProvider {self.role_arn} "
            f"session={self._params['RoleSessionName']!r} base={self._base!r}>"
        )

    def get_credentials(self) -> Credentials:
        """Call STS AssumeRole with the base credentials; the role's credentials, frozen."""
        base = self._base.get(datetime.now(timezone.utc))
        import botocore.exceptions

        try:
            with self._lock:
                client = self._sts_client(base)
            answer = client.assume_role(**self._params)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            raise CredentialsRefreshError(
                f"STS AssumeRole of {self.role_arn} with access key {base.access_key_id} "
                f"failed: {error.get('Code', 'error')}: {error.get('Message', '')}"
            ) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise CredentialsRefreshError(
                f"STS AssumeRole of {self.role_arn} failed ({type(exc).__name__}): "
                "check the network path to STS, AWS_REGION and AWS_ENDPOINT_URL_STS"
            ) from exc
        issued = answer["Credentials"]
        expiry = issued["Expiration"]
        if isinstance(expiry, str):
            expiry = datetime.fromisoformat(expiry.replace("Z", "+00:00"))
        return Credentials(
            issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"], expiry
        )

    def _sts_client(self, base: Credentials) -> Any:
        """botocore's STS client signing with ``base``; made again when the base rotates."""
        if self._client is None or self._client_for != base:
            import botocore.session

            session = botocore.session.Session()
            # botocore reads AWS_DEFAULT_REGION and the profile, not AWS_REGION (which
            # Lambda, ECS and EKS set); STS answers in every region, us-east-1 included.
            region = (
                self._region
                or os.environ.get("AWS_REGION")
                or session.get_config_variable("region")
                or _GLOBAL_STS_REGION
            )
            self._client = session.create_client(
                "sts",
                region_name=region,
                aws_access_key_id=base.access_key_id,
                aws_secret_access_key=base.secret_access_key,
                aws_session_token=base.session_token,
            )
            self._client_for = base
        return self._client


def _duration_seconds(duration: object) -> int:
    seconds = duration.total_seconds() if isinstance(duration, timedelta) else duration
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not MIN_DURATION.total_seconds() <= seconds <= MAX_DURATION.total_seconds()
    ):
        raise ConfigurationError(
            "duration= must be a timedelta (or seconds) from 15 minutes to 12 hours, "
            f"not {duration!r}; the role's own maximum session duration may be lower"
        )
    return int(seconds)
