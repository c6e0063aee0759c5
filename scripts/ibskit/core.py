# SPDX-License-Identifier: GPL-2.0-only
"""Paths, errors, progress, the one command runner, JSON and tables."""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Callable, Optional, Sequence

from .common import Error as Error, Json as Json

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
KUNIT_DIR = os.path.join(TOP, "kunit")
BACKPORTS_DIR = os.path.join(TOP, "backports")
# The suite: one translation unit (ibs_kunit.c, which includes ibs.c) and
# the parts it includes after it, in that order.
SUITE_FILE = os.path.join(KUNIT_DIR, "ibs_kunit.c")
SUITE_FILES = [SUITE_FILE] + [
    os.path.join(KUNIT_DIR, f"ibs_kunit_{part}.c")
    for part in ("mock", "cases", "explore")]
PATCHES_DIR = os.path.join(TOP, "patches")
RESULTS_PAGE = os.path.join(TOP, "Documentation", "backport-results.md")
MUTATION_DIR = os.path.join(TOP, "results", "mutation")
MAINLINE_RESULTS = os.path.join(TOP, "results", "mainline")
# Beside the records: every recorded run's console and what the tree's
# kunit.py parse --json made of it, <tree label>/<variant>.{log,kunit.json}
CONSOLES_DIR = os.path.join(TOP, "results", "consoles")

UPSTREAM_SHA = "1b044ff3c17e9d7fd93ffc0ba541ccdeb992d7f5"
# "perf/amd/ibs: Support IBS_{FETCH|OP}_CTL2[Dis] to eliminate RMW race",
# as merged (linux-next, then mainline 7.1); tip-bot2 first announced it as
# 28063f05f38b with a mangled subject, and the branch was rebased to fix it
# (Documentation/findings.md).
DIS_SHA = "efa5700ec0da66662dc8375fe4e4b888487a6b84"
# 85dc600263c2 ("perf/x86/amd/ibs: Fix pmu::stop() nesting", v5.2): it
# moved the clear of IBS_STARTED after the disable write, the window
# fix/stop-nmi.patch closes (Documentation/findings.md).
STOP_FIXES_SHA = "85dc600263c2291cea33bffa90038808ee64198b"
# The seed has no author date; the submission's Message-ID
# (20260216042216.1440-6-ravi.bangoria@amd.com) carries its send time.
UPSTREAM_DATE = "2026-02-16T04:22:16+00:00"


# The length of the blob ids in a generated patch's index lines.  Left to
# git it follows the repository's object count, which the cache's
# repositories do not fix (an import packed or not), and a generated file
# would change with it; 9 is what the committed ones have.
INDEX_ABBREV = "--abbrev=9"




def die(msg: str) -> None:
    print(f"{os.path.basename(sys.argv[0])}: error: {msg}", file=sys.stderr)
    sys.exit(1)


def main_wrapper(fn: Callable[[], Optional[int]]) -> None:
    """Run a verb's main(); Error becomes one line on stderr and exit 1."""
    try:
        sys.exit(fn() or 0)
    except Error as e:
        die(str(e))
    except KeyboardInterrupt:
        die("interrupted")


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# Seconds spent per phase in this process (apt, registry, download, unpack,
# import, worktree, configure, build, boot), for scripts/bench.
PHASES: dict[str, float] = {}


class phase:
    """with phase("build"): ... adds the block's wall time to PHASES."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.t0 = 0.0

    def __enter__(self) -> None:
        self.t0 = time.time()

    def __exit__(self, kind: Optional[type[BaseException]],
                 value: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        PHASES[self.name] = PHASES.get(self.name, 0.0) + time.time() - self.t0


def cache_dir() -> str:
    """The cache directory, made if need be: IBS_KIT_CACHE, else
    amd-ibs-race under XDG_CACHE_HOME or ~/.cache; always absolute, as
    the steps run commands in other directories."""
    if os.environ.get("IBS_KIT_CACHE"):
        d, source = os.environ["IBS_KIT_CACHE"], "IBS_KIT_CACHE"
    elif os.environ.get("XDG_CACHE_HOME"):
        d = os.path.join(os.environ["XDG_CACHE_HOME"], "amd-ibs-race")
        source = "XDG_CACHE_HOME"
    else:
        d, source = os.path.expanduser("~/.cache/amd-ibs-race"), "HOME"
    d = os.path.abspath(d)
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as e:
        raise Error(f"the cache {d} (from {source}) cannot be a directory: "
                    f"{e.strerror}") from None
    return d


def run(cmd: Sequence[str], cwd: Optional[str] = None,
        log: Optional[str] = None, env: Optional[dict[str, str]] = None,
        check: bool = True, input: Optional[str] = None) -> str:
    """Run a command; output to @log (a path) or captured and returned."""
    if not log:
        p = capture(cmd, cwd=cwd, env=env, input=input)
        if check and p.rc:
            err = p.last_error()
            raise Error(f"'{' '.join(cmd[:3])}' failed with {p.rc}"
                        + (f": {err}" if err else ""))
        return p.out
    # Streamed into the log as it comes (a build's progress).
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        rc = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT,
                            env=env, input=input, text=True).returncode
    if check and rc:
        raise Error(f"'{' '.join(cmd[:3])}' failed with {rc} (log: {log})")
    return ""


@dataclass
class Proc:
    """What capture() saw of a command."""
    rc: int
    out: str
    err: str

    def last_error(self) -> str:
        """The last line of stderr, for a one-line error."""
        return (self.err.strip().splitlines() or [""])[-1]


def capture(cmd: Sequence[str], cwd: Optional[str] = None,
            log: Optional[str] = None, env: Optional[dict[str, str]] = None,
            input: Optional[str] = None) -> Proc:
    """Run a command for its exit status, stdout and stderr apart; both
    also appended to @log, after the command line."""
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                       env=env, input=input,
                       stdin=None if input is not None else subprocess.DEVNULL)
    if log:
        with open(log, "a") as f:
            f.write("$ " + " ".join(cmd) + "\n" + p.stdout + p.stderr)
    return Proc(p.returncode, p.stdout, p.stderr)


def status(cmd: Sequence[str], cwd: Optional[str] = None,
           log: Optional[str] = None,
           env: Optional[dict[str, str]] = None) -> int:
    """Run a command for its exit status; output to @log or dropped."""
    if log:
        with open(log, "a") as f:
            f.write("$ " + " ".join(cmd) + "\n")
            f.flush()
            return subprocess.run(cmd, cwd=cwd, stdout=f,
                                  stderr=subprocess.STDOUT, env=env).returncode
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, env=env).returncode


def git(args: list[str], cwd: Optional[str], check: bool = True,
        env: Optional[dict[str, str]] = None) -> str:
    return run(["git"] + list(args), cwd=cwd, check=check, env=env).strip()


def git_env() -> dict[str, str]:
    """Identity for commits inside the cache: the user's, or a local one."""
    env = dict(os.environ)
    if not git(["config", "user.name"], cwd=TOP, check=False):
        env.setdefault("GIT_AUTHOR_NAME", "amd-ibs-race cache")
        env.setdefault("GIT_COMMITTER_NAME", "amd-ibs-race cache")
    if not git(["config", "user.email"], cwd=TOP, check=False):
        env.setdefault("GIT_AUTHOR_EMAIL", "cache@localhost")
        env.setdefault("GIT_COMMITTER_EMAIL", "cache@localhost")
    return env


def read_text(path: str, errors: Optional[str] = None) -> str:
    """The whole text of the file @path."""
    with open(path, errors=errors) as f:
        return f.read()


def write_text(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def read_json(path: str) -> Any:
    with open(path) as f:
        return json.load(f)


def log_file(name: str, log_dir: Optional[str] = None,
             fresh: bool = True) -> str:
    """The path of the log @name in @log_dir (default: the cache's logs/),
    emptied unless @fresh is False."""
    d = log_dir or os.path.join(cache_dir(), "logs")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name)
    if fresh:
        open(path, "w").close()
    return path


def file_hash(path: str) -> str:
    return run(["git", "hash-object", path]).strip()


def suite_hash() -> str:
    """One id for everything that decides what the suite is on a tree: its
    C files, its Kconfig symbols and fragment, and the adaptations."""
    paths = SUITE_FILES + [os.path.join(KUNIT_DIR, n)
                           for n in ("Kconfig", "kunitconfig")]
    adapt = os.path.join(KUNIT_DIR, "adapt")
    paths += sorted(os.path.join(adapt, n) for n in os.listdir(adapt))
    text = "".join(f"{os.path.relpath(p, TOP)}\0{read_text(p)}\0"
                   for p in paths)
    return run(["git", "hash-object", "--stdin"], input=text).strip()


def write_json(path: str, data: Any) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")



def generated_note(command: str, sources: str) -> str:
    """The words every generated file starts with."""
    return (f"Generated by {command} from {sources}; do not edit by hand "
            f"(rerun {command.split()[0]}).")


def md_table(rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])] + \
        ["| " + " | ".join(r) + " |" for r in rows[1:]]


def text_table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in rows)

