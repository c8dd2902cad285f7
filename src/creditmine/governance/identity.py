"""Who acts: the operating-system user on a laptop, the authenticated account on the team server.

Nobody names themselves: there is no flag or variable that sets the actor. Two names are the same
person when they are equal after Unicode normalisation (NFKC), dropping every space and invisible
character and folding case, so "Dana", " dana", "da na" and "da\u200bna" are all dana.
"""

from __future__ import annotations

import os
import pwd
import re
import unicodedata

__all__ = ["ACCOUNT_PATTERN", "os_user", "person", "same_person"]

ACCOUNT_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
"""What a team account may be called: lower-case letters, digits, '.', '_' and '-'."""


def os_user() -> str:
    """The operating-system user this process runs as (its effective uid; environment variables
    such as USER or LOGNAME are not asked, since anyone may set them)."""
    return pwd.getpwuid(os.geteuid()).pw_name


def person(name: str) -> str:
    """The comparable form of a name: NFKC, no spaces or invisible characters, case folded."""
    text = unicodedata.normalize("NFKC", str(name))
    kept = "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch) in ("Cf", "Cc", "Zs", "Zl", "Zp")))
    return kept.casefold()


def same_person(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and person(a) == person(b)
