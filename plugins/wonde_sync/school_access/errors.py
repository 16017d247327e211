"""Why a change to a site's access cannot be made; each message says what to do instead."""

from __future__ import annotations


class AccessLifecycleError(Exception):
    """A lifecycle action that cannot be done; the message says why and what to do."""


class UnknownSiteError(AccessLifecycleError):
    """No such site."""


class UnknownSchoolError(AccessLifecycleError):
    """The school is not in the catalog (or Wonde does not know it)."""


class NoAccessError(AccessLifecycleError):
    """The site has no access to its school to act on."""


class AccessConflictError(AccessLifecycleError):
    """The action clashes with the current state (e.g. the school belongs to another site)."""


class ConcurrentChangeError(AccessConflictError):
    """The access changed between reading and writing it (optimistic concurrency)."""
