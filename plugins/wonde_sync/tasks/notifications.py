"""Failure notifications: one email for a failed catalog run, a failed site import, or an
import held by the mass-archive guard, sent through the SMTP provider's notifier.

Airflow runs ``on_failure_callback`` only when a task has failed for good (an attempt that
will be retried runs ``on_retry_callback`` instead), so a failure that Airflow retries
mails once, after the last try. The Airflow connection ``smtp_default`` turns them on: an
SMTP connection whose extra holds ``from_email`` and ``to`` (addresses separated by commas
or semicolons). Without it nothing is sent and one info line says so; a notification that
cannot be sent is logged and never changes the task's outcome.

Imported by DAG files (through :mod:`wonde_sync.tasks.defaults`), so only Airflow's SDK is
imported at module level.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

SMTP_CONN_ID = "smtp_default"
FULL_SYNC_DAG = "wonde_schools_full_sync"
INCREMENTAL_DAG = "wonde_incremental_sync"
#: The tasks of a full sync that build the catalog (the imports after them are per site).
CATALOG_TASKS = frozenset(
    {"prepare_database", "start_sync_run", "stage_directory", "validate_catalog", "publish_catalog"}
)
IMPORT_TASK = "import_sites"
#: Enough of a reason to act on; a longer one is cut (the task log has all of it).
MAX_REASON = 2000


@dataclass(frozen=True)
class Message:
    """One notification: a subject line and plain-text paragraphs."""

    subject: str
    paragraphs: tuple[str, ...]

    def html(self) -> str:
        """The body as HTML, every paragraph escaped (reasons and names are not markup)."""
        return "\n".join(f"<p>{html.escape(p)}</p>" for p in self.paragraphs)


def is_notified(context) -> bool:
    """Whether this task's failure is one people are mailed about (a site import, or a
    catalog step of the full sync)."""
    ti = context["ti"]
    return ti.task_id == IMPORT_TASK or (ti.dag_id == FULL_SYNC_DAG and ti.task_id in CATALOG_TASKS)


def compose(context) -> Message | None:
    """The message for a task's final failure; None for failures nobody is mailed about."""
    ti = context["ti"]
    task_id, dag_id = ti.task_id, ti.dag_id
    reason = _reason(context.get("exception"))
    tries = ti.try_number
    footer = (
        f"Airflow: DAG {dag_id}, run {context.get('run_id') or ti.run_id}, task {task_id}, "
        f"after {tries} attempt{'' if tries == 1 else 's'}. Task log: {_task_log(ti)}"
    )
    if task_id == IMPORT_TASK:
        return _import_message(context, dag_id, footer)
    if is_notified(context):
        return Message(
            "Wonde sync: the school directory sync failed (previous catalog kept)",
            (
                f"The school directory sync ({dag_id}) failed at {task_id}.",
                f"Reason: {reason}",
                "Next step: nothing was published, so the previous catalog is kept and "
                "searches keep using it. Fix the cause (Sync History on the Wonde page, "
                f"{_wonde_page()}, and the task log say more), then trigger {FULL_SYNC_DAG} "
                "again or wait for its next weekly run.",
                footer,
            ),
        )
    return None


def _import_message(context, dag_id: str, footer: str) -> Message:
    """One message for a failed batch of site imports: a paragraph per failed site."""
    error = context.get("exception")
    batch = _sites_failed(error)
    failures = (
        [(f.site_id, f.error) for f in batch.failures]
        if batch
        else [(site_id, error) for site_id in _site_ids(context)]
    )
    held = [site_id for site_id, e in failures if _held_by_guard(e)]
    labels = [_site_label(site_id) for site_id, _ in failures]
    if len(failures) == 1:
        what = f"import of site {labels[0]}"
        subject = f"{what} held by the mass-archive guard" if held else f"{what} failed"
    else:
        subject = f"imports of {len(failures)} sites failed: {', '.join(labels)}"
    paragraphs = [
        f"In {dag_id}, the "
        + (
            f"{what} failed."
            if len(failures) == 1
            else f"imports of {len(failures)} sites failed (the batch's other sites were imported)."
        )
    ]
    for (site_id, site_error), label in zip(failures, labels, strict=True):
        if site_id in held:
            paragraphs += [
                f"Site {label} was held: its import would archive more people than allowed, "
                f"so nothing was changed. Reason: {_reason(site_error)}",
                "Next step: check with the school that these people really left its MIS. "
                f"If they did, approve the archive: trigger {INCREMENTAL_DAG} with the "
                f"Params sites = {site_id}, full_resync = true and approve_mass_archive = "
                "true (or raise max_archive_pct). Until then, imports of this site that "
                "would archive as many are held the same way.",
            ]
        else:
            paragraphs.append(f"Site {label} failed. Reason: {_reason(site_error)}")
    if len(held) < len(failures):
        paragraphs.append(
            "Next step: a failed site's watermark did not move, so the next scheduled run of "
            f"{INCREMENTAL_DAG} retries its import from where the last good one ended (or "
            f"trigger it now with the Param sites). For the details, see the site's Sync "
            f"History on the Wonde page ({_wonde_page()}) and the task log."
        )
    return Message(f"Wonde sync: {subject}", (*paragraphs, footer))


class FailureNotifier(BaseNotifier):
    """``on_failure_callback`` of every Wonde task: mails :func:`compose`'s message, if any.

    Off (one info line, nothing sent) while the connection ``smtp_conn_id`` is not defined.
    """

    def __init__(self, smtp_conn_id: str = SMTP_CONN_ID) -> None:
        super().__init__()
        self.smtp_conn_id = smtp_conn_id

    def notify(self, context) -> None:
        """Send the message for this failure through the SMTP provider's notifier."""
        if not is_notified(context):
            return
        mail = self._mail_settings()
        message = compose(context) if mail else None
        if message is None:
            return
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        # Masked before escaping, so that a secret is found as it was written.
        message = Message(_redact(message.subject), tuple(map(_redact, message.paragraphs)))
        sender = SmtpNotifier(
            to=mail["to"],
            from_email=mail["from_email"],
            subject=" ".join(message.subject.split()),  # one header line
            html_content=message.html(),
            smtp_conn_id=self.smtp_conn_id,
        )
        try:
            # notify(), not sender(context): calling it would render the subject and body
            # as Jinja templates, and a reason may hold "{{".
            sender.notify(context)
        except Exception as exc:
            log.warning("The failure notification could not be sent: %s", _redact(str(exc)))
            return
        log.info("Failure notification sent to %s: %s", ", ".join(mail["to"]), sender.subject)

    def _mail_settings(self) -> dict | None:
        """Sender and recipients from the connection; None (and why, logged) when off."""
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            conn = BaseHook.get_connection(self.smtp_conn_id)
        except AirflowNotFoundException:
            log.info("Failure notifications are off: no Airflow connection %r.", self.smtp_conn_id)
            return None
        extra = conn.extra_dejson
        to = [a for a in re.split(r"[,;\s]+", str(extra.get("to") or "")) if a]
        if not to or not extra.get("from_email"):
            log.warning(
                "Failure notifications are off: the connection %r needs 'from_email' and "
                "'to' in its extra.",
                self.smtp_conn_id,
            )
            return None
        return {"to": to, "from_email": str(extra["from_email"])}


def _reason(error: BaseException | str | None) -> str:
    """The failure's own message (written for people), cut to :data:`MAX_REASON`."""
    if error is None:
        return "the task failed without an error message (see the task log)."
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def _in_chain(error: BaseException | str | None, kind: type) -> BaseException | None:
    """The first error of type ``kind`` in ``error``'s chain of causes, or None."""
    seen = set()
    while isinstance(error, BaseException) and id(error) not in seen:
        if isinstance(error, kind):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _held_by_guard(error: BaseException | str | None) -> bool:
    """Whether the mass-archive guard stopped the import (also when re-raised as another
    error: the task turns it into a no-retry failure)."""
    from wonde_sync.people.store import MassArchiveBlocked

    return _in_chain(error, MassArchiveBlocked) is not None


def _sites_failed(error: BaseException | str | None):
    """The batch's per-site failures in the error's chain, or None (the whole task failed)."""
    from wonde_sync.tasks.site_batches import SitesFailed

    return _in_chain(error, SitesFailed)


def _site_ids(context) -> list[str]:
    """The sites of the batch a mapped ``import_sites`` was given (else its map index label)."""
    batch = getattr(context.get("task"), "op_kwargs", {}).get("batch") or {}
    site_ids = batch.get("site_ids") if isinstance(batch, dict) else None
    return (
        [str(s) for s in site_ids]
        if site_ids
        else [str(getattr(context["ti"], "rendered_map_index", None) or "unknown")]
    )


def _site_label(site_id: str) -> str:
    """``site-id (Site name)``, or the id alone when the name cannot be read."""
    try:
        import sqlalchemy as sa

        from wonde_sync.core.database import engine_for, table

        engine = engine_for(create_missing=False)
        try:
            sites = table("sites")
            with engine.connect() as conn:
                query = sa.select(sites.c.name).where(sites.c.site_id == site_id)
                name = conn.execute(query).scalar()
        finally:
            engine.dispose()
    except Exception as exc:  # a notification goes out even when calm_db cannot be read
        log.info("Site %s: its name could not be read for the notification: %s", site_id, exc)
        name = None
    return f"{site_id} ({name})" if name else site_id


def _base_url() -> str:
    from airflow.sdk.configuration import conf

    return conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")


def _wonde_page() -> str:
    return f"{_base_url()}/wonde/ui/"


def _task_log(ti) -> str:
    try:
        return ti.log_url
    except Exception:  # the link is a convenience; the footer names the task anyway
        return "see the task in Airflow"


def _redact(text: str) -> str:
    """``text`` with every secret Airflow masks in logs (connection passwords, Wonde tokens)
    masked too."""
    try:
        from airflow.sdk.log import redact

        return str(redact(text))
    except ImportError:
        return text
