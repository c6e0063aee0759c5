# SPDX-License-Identifier: GPL-2.0-only
"""Argument handling shared by the verbs."""

import argparse
import re
from typing import Optional

from .core import Error
from .trees import Tree, registry_tree, user_tree


def add_tree_args(ap: argparse.ArgumentParser,
                  series_help: str = "stable series, e.g. 6.1") -> None:
    """--series, or --tree/--ref/--kconfig/--revert-fix: one tree."""
    ap.add_argument("--series", help=series_help)
    ap.add_argument("--tree", metavar="DIR",
                    help="your own kernel git tree (only read; a worktree "
                         "in the cache is used)")
    ap.add_argument("--ref", metavar="REF",
                    help="commit or branch of --tree (default HEAD)")
    ap.add_argument("--kconfig", action="append", metavar="CONFIG_X=y",
                    help="with --tree: one more Kconfig line this tree "
                         "needs to build (repeatable; recorded)")
    ap.add_argument("--revert-fix", action="store_true",
                    help="with --tree: if the tree already carries the fix, "
                         "revert it (git apply -R) for the unfixed run")


def check_kconfig(lines: Optional[list[str]]) -> list[str]:
    """--kconfig values: whole CONFIG_ lines, nothing else."""
    lines = lines or []
    for line in lines:
        if not re.fullmatch(r"CONFIG_\w+=(y|n|m|\d+|\"[^\"]*\")", line):
            raise Error(f"--kconfig {line}: not a CONFIG_X=value line")
    return lines


def tree_from_args(args: argparse.Namespace,
                   default_series: Optional[str] = None) -> Tree:
    """The tree add_tree_args() named."""
    if args.tree:
        if args.series:
            raise Error("--series and --tree exclude each other")
        t = user_tree(args.tree, args.ref)
        t.allow_revert = getattr(args, "revert_fix", False)
        t.extra_kconfig = check_kconfig(getattr(args, "kconfig", None))
        return t
    if args.ref:
        raise Error("--ref goes with --tree")
    if getattr(args, "kconfig", None):
        raise Error("--kconfig goes with --tree")
    series = args.series or default_series
    if not series:
        raise Error("name a --series or a --tree")
    return registry_tree(series)
