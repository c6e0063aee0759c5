# SPDX-License-Identifier: GPL-2.0-only
"""What every layer shares and nothing below it: the one error type and
the shapes of JSON and checks.  No I/O."""

from typing import Any


class Error(Exception):
    """A failure to report as one line on stderr."""


# A JSON object as read from or written to a record.
Json = dict[str, Any]

# (name, ok) pairs: what scripts/test and the verbs' checks report.
Checks = list[tuple[str, bool]]
