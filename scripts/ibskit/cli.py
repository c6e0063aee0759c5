# SPDX-License-Identifier: GPL-2.0-only
"""Argument handling shared by the verbs."""

import argparse
import concurrent.futures
import re
from typing import Optional

from .core import Error
from .registry import REGISTRY, ensure_tools
from .trees import Tree, prefetch, registry_tree, user_tree
from .redgreen import VARIANTS


def verb_parser(doc: Optional[str]) -> argparse.ArgumentParser:
    """A verb's parser: its module docstring is its --help."""
    return argparse.ArgumentParser(
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter)


def add_state_arg(ap: argparse.ArgumentParser) -> None:
    """--state: the fix state of the worktree (redgreen.VARIANTS)."""
    ap.add_argument("--state", choices=[str(v) for v in VARIANTS],
                    default="as-is")


def add_record_args(ap: argparse.ArgumentParser, what: str) -> None:
    """--record (write @what) and --origin."""
    ap.add_argument("--record", action="store_true", help="write " + what)
    ap.add_argument("--origin", metavar="TEXT",
                    help="with --record: where the tree came from, e.g. "
                         "github:owner/repo@commit")


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


def trees_for(args: argparse.Namespace,
              default_series: Optional[str] = None,
              suite: bool = True) -> list[Tree]:
    """The host tools installed, then the trees the arguments name: every
    registry tree with --all (where the verb has it), else the one
    add_tree_args() named.  With @suite (a verb that builds the suite),
    a tree the suite cannot serve is refused in one line first: a user's
    tree before anything is installed, every tree before any is run."""
    # The registry package's download needs no build tools: it runs
    # beside the apt step of a bare machine (private apt lists, no lock
    # shared with apt-get install).
    if getattr(args, "tree", None):
        # A user's tree: read (and refused) before anything is installed.
        t = tree_from_args(args, default_series)
        if suite:
            t.check_servable()
        ensure_tools()
        return [t]
    series = (
        list(REGISTRY) if getattr(args, "all", False)
        else [s for s in [getattr(args, "series", None) or default_series]
              if s in REGISTRY])
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        fetched = [pool.submit(prefetch, s) for s in series[:1]]
        ensure_tools()
        for f in fetched:
            f.result()
    out = [registry_tree(s) for s in REGISTRY] \
        if getattr(args, "all", False) else [tree_from_args(args,
                                                            default_series)]
    if suite:
        for t in out:
            t.check_servable()
    return out


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
