"""Amazon SES: plain and template/attachment emails as raw MIME (boto3, off the event loop)."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import pydantic
from botocore import exceptions as boto

from fusion_stream.email import s3
from fusion_stream.email.mime import Attachment, build_message, content_type_for
from fusion_stream.email.validate import (
    DEFAULT_BLACKLIST,
    Blacklist,
    InvalidAddress,
    check_address,
    clean_list,
    clean_recipients,
)
from fusion_stream.envelope import Job, SendResult
from fusion_stream.errors import ConfigurationError, FusionError, RejectedError
from providers.base import BaseProvider, ErrorKind
from providers.email._aws import (
    PUBLISHED,
    SES_ERRORS,
    AwsClients,
    SesTransientError,
    ses_error,
)

log = logging.getLogger(__name__)

#: SES's message size limits (after base64), v1 SendRawEmail and v2 SendEmail
#: (https://docs.aws.amazon.com/ses/latest/dg/quotas.html); decimal MB, on the safe side
MAX_BYTES = {"v1": 10_000_000, "v2": 40_000_000}
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class SesSettings(pydantic.BaseModel):
    """Region, credentials, limits and defaults of the SES adapter (all optional)."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    #: SES region (identities are verified per region); also S3's when a URL names none
    region: str = "us-east-1"
    #: static credentials; unset = boto3's default chain (IRSA / instance role / env)
    aws_access_key_id: str | None = None
    aws_secret_access_key: pydantic.SecretStr | None = None
    aws_session_token: pydantic.SecretStr | None = None
    #: SES and S3 endpoint (moto, LocalStack); unset = AWS (or ``AWS_ENDPOINT_URL*``)
    endpoint_url: str | None = None
    #: S3 endpoint when it differs from ``endpoint_url``
    s3_endpoint_url: str | None = None
    #: ``v2`` SendEmail with Raw content (40 MB) or ``v1`` SendRawEmail (10 MB)
    api: Literal["v2", "v1"] = "v2"
    #: configuration set of every send (open/click tracking, event publishing); "" = none
    configuration_set: str = "lh_email_tracker"
    #: From address when the event has no ``config.config_fields.sender_id_email``
    sender_email: str | None = None
    #: From name when the event has neither ``sender_name`` nor ``sender_id_name``
    sender_name: str | None = None
    #: largest raw message sent; unset = SES's limit of ``api``
    max_message_bytes: int | None = pydantic.Field(default=None, gt=0)
    #: largest single attachment downloaded (the download stops there)
    max_attachment_bytes: int = pydantic.Field(default=30_000_000, gt=0)
    #: SES takes at most 50 recipients (to + cc + bcc) per message
    max_recipients: int = pydantic.Field(default=50, ge=1)
    #: blocked addresses and ``@domains``; a comma-separated string or a list
    blacklist: tuple[str, ...] = DEFAULT_BLACKLIST
    #: connect and read timeout of each AWS call, seconds
    timeout: float = pydantic.Field(default=30.0, gt=0)
    #: where attachments are downloaded; unset = the system temp dir
    temp_dir: Path | None = None

    @pydantic.field_validator("blacklist", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):  # env / provider-config text: "a@x.com, @y.com" or a list
            return tuple(
                p.strip("[]\"' ") for p in re.split(r"[,;\s]+", value) if p.strip("[]\"' ")
            )
        return value

    @pydantic.model_validator(mode="after")
    def _keys_in_pairs(self) -> SesSettings:
        if bool(self.aws_access_key_id) != bool(self.aws_secret_access_key):
            raise ValueError("aws_access_key_id and aws_secret_access_key go together")
        return self

    @property
    def message_limit(self) -> int:
        return self.max_message_bytes or MAX_BYTES[self.api]


class SesEmail(BaseProvider[SesSettings]):
    """Sends one email with SES as raw MIME: the old ``send_plain_email`` and
    ``send_template_attachment_email`` tasks.

    Payload: ``to``/``cc``/``bcc``, ``subject``, ``message`` (HTML; ``template`` instead when
    ``is_template``), ``sender_name``, ``config.config_fields`` (``sender_id_name``,
    ``sender_id_email``, ``reply_to``), ``files`` (S3 URLs). Invalid and blacklisted
    recipients are dropped and reported in the outcome; none left is ``rejected``.
    Attachments are streamed from S3 to a temp dir (capped), and the S3 objects deleted only
    once SES accepted the message. Errors carry the old worker's state string
    (``outcome_message``); see docs/email.md.
    """

    name = "ses"
    channels = ("email",)
    task = "send_plain_email"
    settings_model = SesSettings
    error_codes: ClassVar[Mapping[str, ErrorKind]] = {k: v[0] for k, v in SES_ERRORS.items()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: AwsClients | None = None
        self._lock = asyncio.Lock()

    async def send(self, job: Job) -> SendResult:
        settings = self.settings
        payload = job.payload
        recipients = clean_recipients(
            payload.get("to"),
            payload.get("cc"),
            payload.get("bcc"),
            blacklist=Blacklist(settings.blacklist),
        )
        if not recipients.all:
            reasons = "; ".join(f"{d.field}[{d.index}] {d.reason}" for d in recipients.dropped)
            raise RejectedError(f"no valid recipient ({reasons or 'none given'})")
        if len(recipients.all) > settings.max_recipients:
            raise RejectedError(
                f"{len(recipients.all)} recipients; SES takes at most "
                f"{settings.max_recipients} per message"
            )
        fields = _config_fields(payload)
        sender = self.sender_address(fields.get("sender_id_email"))
        reply_to, bad_reply_to = clean_list("reply_to", fields.get("reply_to"))
        files = [u for u in payload.get("files") or [] if u and str(u).strip()]
        objects = list(dict.fromkeys(s3.parse_s3_url(u) for u in files))
        html = str(
            (payload.get("template") if payload.get("is_template") else None)
            or payload.get("message")
            or ""
        )
        clients = await self.clients(settings)
        workdir = await self.run_blocking(_workdir, settings.temp_dir) if objects else None
        try:
            attachments = await self.fetch(clients, objects, workdir, settings)
            raw = await self.run_blocking(
                build_message,
                sender=sender,
                sender_name=_text(payload.get("sender_name"))
                or _text(fields.get("sender_id_name"))
                or settings.sender_name,
                to=recipients.to,
                cc=recipients.cc,
                reply_to=reply_to,
                subject=str(payload.get("subject") or ""),
                html=html,
                attachments=[a for a, _ in attachments],
            )
            if len(raw) > settings.message_limit:
                raise RejectedError(
                    f"message is {len(raw)} bytes; SES ({settings.api}) takes at most "
                    f"{settings.message_limit}"
                )
            await self.throttle(job)
            try:
                answer = await self.run_blocking(
                    self.call_ses, clients, raw, sender, recipients.to, recipients.cc,
                    recipients.bcc, message_tags(job),
                )  # fmt: skip
            except SesTransientError as exc:
                if exc.throttled:  # no send of this account until it has passed
                    self.penalise(exc.retry_after or 1.0)
                raise
        finally:
            if workdir is not None:  # the local copies go whatever happened
                await self.run_blocking(shutil.rmtree, workdir, ignore_errors=True)
        # SES accepted: only now may the attachments go (the old worker deleted them too).
        not_deleted = await self.delete_objects(clients, objects)
        details: dict[str, Any] = {
            "message": PUBLISHED,
            "task": "send_template_attachment_email" if objects else "send_plain_email",
            "recipients": len(recipients.all),
            "message_bytes": len(raw),
        }
        if recipients.dropped or bad_reply_to:
            details["dropped_recipients"] = [
                d.as_dict() for d in recipients.dropped + tuple(bad_reply_to)
            ]
        if attachments:
            details["attachments"] = [{"file": a.filename, "bytes": n} for a, n in attachments]
        if not_deleted:
            details["attachments_not_deleted"] = not_deleted
        message_id = answer.get("MessageId")
        return SendResult(
            provider=self.name,
            message_id=message_id,
            status=answer.get("ResponseMetadata", {}).get("HTTPStatusCode"),
            response=f"MessageId={message_id}",
            details=details,
        )

    def sender_address(self, configured: Any) -> str:
        address = configured or self.settings.sender_email
        if not address:
            raise ConfigurationError(
                "provider 'ses': no sender address: the event has no "
                "config.config_fields.sender_id_email and the 'sender_email' setting is unset"
            )
        try:
            return check_address(str(address))
        except InvalidAddress as exc:
            raise RejectedError(f"sender address is invalid: {exc}") from None

    async def clients(self, settings: SesSettings) -> AwsClients:
        """The clients of the current settings (remade, off the loop, when they change)."""
        async with self._lock:
            old = self._clients
            if old is None or old.settings is not settings:
                self._clients = await self.run_blocking(AwsClients, settings)
                if old is not None:  # sends in flight keep their own reference
                    await self.run_blocking(old.close)
            assert self._clients is not None
            return self._clients

    async def fetch(
        self,
        clients: AwsClients,
        objects: Sequence[s3.S3Object],
        workdir: Path | None,
        settings: SesSettings,
    ) -> list[tuple[Attachment, int]]:
        """Download each object (capped by the attachment and message limits), in order."""
        if workdir is None:
            return []
        budget = settings.message_limit * 3 // 4  # base64 makes 3 bytes 4
        found: list[tuple[Attachment, int]] = []
        for index, obj in enumerate(objects):
            limit = min(settings.max_attachment_bytes, budget)
            if limit <= 0:
                raise RejectedError(
                    f"attachments exceed SES's {settings.message_limit}-byte message limit"
                )
            got = await self.run_blocking(_download, clients, obj, workdir / str(index), limit)
            budget -= got.size
            name = obj.filename
            found.append(
                (Attachment(name, content_type_for(name, got.content_type), got.path), got.size)
            )
        return found

    def call_ses(
        self,
        clients: AwsClients,
        raw: bytes,
        sender: str,
        to: Sequence[str],
        cc: Sequence[str],
        bcc: Sequence[str],
        tags: list[dict[str, str]],
    ) -> dict[str, Any]:
        """SendEmail (v2, Raw) or SendRawEmail (v1); blocking, typed errors."""
        config_set = clients.settings.configuration_set
        extra: dict[str, Any] = {"ConfigurationSetName": config_set} if config_set else {}
        try:
            if clients.settings.api == "v2":
                destination = {
                    "ToAddresses": list(to),
                    "CcAddresses": list(cc),
                    "BccAddresses": list(bcc),
                }
                return clients.ses.send_email(
                    FromEmailAddress=sender,
                    Destination={k: v for k, v in destination.items() if v},
                    Content={"Raw": {"Data": raw}},
                    **({"EmailTags": tags} if tags else {}),
                    **extra,
                )
            return clients.ses.send_raw_email(
                Source=sender,
                Destinations=[*to, *cc, *bcc],
                RawMessage={"Data": raw},
                **({"Tags": tags} if tags else {}),
                **extra,
            )
        except (boto.BotoCoreError, boto.ClientError) as exc:
            raise ses_error(exc, self.name) from None

    async def delete_objects(
        self, clients: AwsClients, objects: Sequence[s3.S3Object]
    ) -> list[str]:
        """Delete the sent attachments; a failure is logged and reported, never raised (the
        email is out: raising would send it again)."""
        failed: list[str] = []
        for obj in objects:
            try:
                await self.run_blocking(_delete, clients, obj)
            except FusionError as exc:
                log.warning("ses: attachment %s not deleted after send: %s", obj, exc)
                failed.append(str(obj))
        return failed

    async def close(self) -> None:
        if self._clients is not None:
            clients, self._clients = self._clients, None
            await self.run_blocking(clients.close)


def message_tags(job: Job) -> list[dict[str, str]]:
    """SES message tags from task_type and tenant (ASCII letters, digits, ``_``, ``-``)."""
    tags = []
    for name, value in (("task_type", job.task_type), ("tenant", job.tenant)):
        clean = _TAG_UNSAFE.sub("_", str(value or "").strip())[:256]
        if clean:
            tags.append({"Name": name, "Value": clean})
    return tags


def _config_fields(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    config = payload.get("config")
    fields = config.get("config_fields") if isinstance(config, Mapping) else None
    return fields if isinstance(fields, Mapping) else {}


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _workdir(parent: Path | None) -> Path:
    return Path(tempfile.mkdtemp(prefix="fusion-email-", dir=parent))


def _download(clients: AwsClients, obj: s3.S3Object, dest: Path, limit: int) -> s3.Downloaded:
    return s3.download(clients.s3(obj.region), obj, dest, limit)


def _delete(clients: AwsClients, obj: s3.S3Object) -> None:
    s3.delete(clients.s3(obj.region), obj)
