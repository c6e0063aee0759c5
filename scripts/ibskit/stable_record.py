# SPDX-License-Identifier: GPL-2.0-only
"""What the public record says of "perf/amd/ibs: Assorted fixes" in the
stable series: per patch and series, released in which version, queued,
proposed, or nothing seen; and which series are end-of-life.  Data only,
read off the stable@vger.kernel.org archive, Greg Kroah-Hartman's release
announcements and the kernel.org push notifications with the project's
search tool on 2026-12-07; each entry names its mail.  The stable-queue
repository itself and no linux-stable tree were at hand, so "nothing
seen" means no mail was found, not that none exists."""

from dataclasses import dataclass


@dataclass(frozen=True)
class StableEntry:
    status: str     # RELEASED, QUEUED, AUTOSEL, nothing seen
    version: str    # the first release that carries it, or "-"
    evidence: str   # the mails, by Message-ID


SEEN_ON = "2026-12-07"
_NONE = StableEntry("nothing seen", "-", "no review, AUTOSEL or FAILED mail "
                    "found; no release announcement of the series names it")
_AUTOSEL_RACE = ("[PATCH AUTOSEL 7.0-5.10] "
                 "<20260420131539.986432-55-sashal@kernel.org>")
_REVIEW_70 = "7.0.10-rc1 review <20260520162148.390695140@linuxfoundation.org>"
_RELEASE_70 = "Linux 7.0.10 <2026052332-storage-thinly-a50b@gregkh>"
_RELEASE_618 = "Linux 6.18.33 <2026052326-strode-squealing-472d@gregkh>"

# {patch name (fixes.FIX_NAMES): {stable series: entry}}; series not named
# here: nothing seen.
RECORD: dict[str, dict[str, StableEntry]] = {
    "account-discarded": {
        "7.0": StableEntry("RELEASED", "7.0.10",
                           "[PATCH 7.0 0051/1146] <20260520162149.528921999@"
                           f"linuxfoundation.org>; {_RELEASE_70}"),
    },
    "ldlat-zen5": {
        "6.18": StableEntry("AUTOSEL, not released", "-",
                            "[PATCH AUTOSEL 7.0-6.18] <20260420131539."
                            "986432-76-sashal@kernel.org>; not in 6.18.33"),
        "7.0": StableEntry("AUTOSEL, not released", "-",
                           "the same AUTOSEL; not in 7.0.10-7.0.14 (no ibs.c "
                           "in their diffstats)"),
    },
    "phyaddrval": {
        "6.18": StableEntry("RELEASED", "6.18.33",
                            "[PATCH 6.18 038/957] <20260520162135.385733129@"
                            f"linuxfoundation.org>; {_RELEASE_618}; stable "
                            "commit aaf2712f7674"),
        "7.0": StableEntry("RELEASED", "7.0.10",
                           "[PATCH 7.0 0052/1146] <20260520162149.550577713@"
                           f"linuxfoundation.org>; {_RELEASE_70}"),
    },
    "allow-kernel-nmi": {
        "6.18": StableEntry("RELEASED", "6.18.33",
                            "[PATCH 6.18 039/957] <20260520162135.407340640@"
                            f"linuxfoundation.org>; {_RELEASE_618}; stable "
                            "commit 2783ed2442ce"),
        "7.0": StableEntry("RELEASED", "7.0.10",
                           "[PATCH 7.0 0053/1146] <20260520162149.572076201@"
                           f"linuxfoundation.org>; {_RELEASE_70}"),
    },
    "race": {
        "5.10": StableEntry("QUEUED, not released", "-",
                            f"{_AUTOSEL_RACE}; in queue/5.10 of the stable-rc "
                            "push <177954584557.931526.7700577026041997151@"
                            "gitolite.kernel.org> (2026-05-23) as "
                            "d3c01ccf9844; not in 5.10.258-5.10.260"),
        "7.0": StableEntry("QUEUED, not released", "-",
                           f"{_AUTOSEL_RACE}; in queue/7.0 of the same push "
                           "(as issue 32 reports; that part of the mail was "
                           "not readable here); not in "
                           "7.0.10-7.0.14"),
        **{s: StableEntry("AUTOSEL, not released", "-", _AUTOSEL_RACE)
           for s in ("5.15", "6.1", "6.6", "6.12", "6.18", "6.19")},
    },
}

# {series: (end of life, evidence)}
EOL: dict[str, tuple[str, str]] = {
    "5.10": ("projected December 2026", "kernel.org releases page"),
    "5.15": ("projected December 2026", "kernel.org releases page"),
    "6.1": ("projected December 2027", "kernel.org releases page"),
    "6.6": ("projected December 2027", "news reports of the 2026 LTS "
            "extension"),
    "6.12": ("projected December 2028", "news reports of the 2026 LTS "
             "extension"),
    "6.18": ("projected December 2028", "news reports of the 2026 LTS "
             "extension"),
    "6.19": ("not a long-term series; last release seen 6.19.13 "
             "(2026-04-18), no end-of-life mail found",
             "<2026041833-snowbird-deviant-beb9@gregkh>"),
    "7.0": ("END OF LIFE since 7.0.14 (2026-06-27)",
            "\"this is the LAST 7.0.y kernel release\", "
            "<2026062744-eject-breeder-4849@gregkh>"),
}


def entry(fix: str, series: str) -> StableEntry:
    """What the record says of patch @fix in @series."""
    return RECORD.get(fix, {}).get(series, _NONE)
