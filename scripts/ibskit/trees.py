# SPDX-License-Identifier: GPL-2.0-only
"""Kernel trees: registry trees imported once, a user's tree (only read),
locks, and the per-run worktree in the cache."""

import fcntl
import glob
import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Optional

from .core import (
    Error, cache_dir, capture, git, phase, progress, read_text, run,)
from .facts import FACT_PATHS, TreeFacts, facts_of, read_tree_files, refusal
from .model import TreeRef
from .registry import (
    REGISTRY, apt_update, check_series, registry_version, series_of,
    upstream_version,)


@dataclass
class Tree:
    """A kernel source at one commit: a git repository and a revision."""

    repo: str           # git dir or work tree of the repository
    rev: str            # commit (sha) the runs start from
    version: str        # e.g. 6.1.192
    label: str          # e.g. v6.1.192-debian
    origin: str         # "registry" or the user's tree path
    series: str = field(init=False)
    # May the fix be reverted (git apply -R) for an unfixed run?  Yes for
    # the registry's fixed trees (that is how they show red); for a user's
    # tree only when asked (--revert-fix).
    allow_revert: bool = field(init=False)
    # Kconfig lines this tree needs beyond the suite's (--kconfig).
    extra_kconfig: list[str] = field(default_factory=list)
    # What the tree's source says (facts.FACTS), read once: facts().
    _facts: Optional[TreeFacts] = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.series = series_of(self.version)
        self.allow_revert = self.origin == "registry"

    def facts(self) -> TreeFacts:
        """The facts of the tree's source at its pristine commit, read
        once (git cat-file; a registry import stores only the blobs under
        WRITTEN_DIRS, so its other files (headers, KUnit) come from its
        work tree, where runs write only under WRITTEN_DIRS)."""
        if self._facts is None:
            self._facts = facts_of(read_tree_files(
                self.repo, self.rev, FACT_PATHS,
                disk=self.repo if self.origin == "registry" else None))
        return self._facts

    def check_servable(self) -> None:
        """An Error in one line if the suite cannot serve this tree."""
        why = refusal(self.label, self.facts())
        if why:
            raise Error(why)

    def ref(self) -> TreeRef:
        """The tree as a record names it, with the facts of its source."""
        return TreeRef(self.version, self.label, self.origin, self.rev,
                       self.series, list(self.extra_kconfig),
                       self.facts().to_json())


def prefetch(series: str) -> None:
    """The registry package of @series downloaded into the cache and, where
    xz is installed, unpacked (unpack_source()), unless its tree is
    imported already; registry_tree() then finds the .deb or the unpacked
    source.  It needs no build tool, so it runs beside the apt step."""
    repo = os.path.join(cache_dir(), "trees", f"linux-{series}")
    if os.path.isdir(os.path.join(repo, ".git")):
        return
    with phase("registry"):
        debver = registry_version(series)
    download(REGISTRY[series][0], debver)
    if shutil.which("xz"):
        unpack_source(series, debver)


def unpack_stamp(unpack: str) -> str:
    """The stamp of unpack_source()'s directory @unpack: beside it, not in
    it (the import takes every file in it)."""
    return unpack + ".done"


def unpack_source(series: str, debver: str) -> str:
    """The kernel source of the registry package of @series at @debver,
    unpacked into trees/linux-<series>.unpack/ once: a stamp beside that
    directory (not in it: the import takes every file in it) names the
    version it holds.  An import that stopped halfway leaves a .git in
    the directory; then it is unpacked again.  Returns the directory."""
    pkg = REGISTRY[series][0]
    unpack = os.path.join(cache_dir(), "trees", f"linux-{series}.unpack")
    stamp = unpack_stamp(unpack)
    if os.path.isdir(unpack) and os.path.exists(stamp) and \
            read_text(stamp) == debver and \
            not os.path.exists(os.path.join(unpack, ".git")):
        return unpack
    deb = download(pkg, debver)
    if os.path.exists(stamp):
        os.unlink(stamp)
    shutil.rmtree(unpack, ignore_errors=True)
    os.makedirs(unpack)
    progress(f"unpacking {os.path.basename(deb)}")
    member = f"./usr/src/linux-source-{series}.tar.xz"
    sh = (f"dpkg-deb --fsys-tarfile '{deb}' | tar -xO '{member}' | "
          f"tar -xJ --strip-components=1 -C '{unpack}'")
    with phase("unpack"):
        p = capture(["bash", "-o", "pipefail", "-c", sh])
    if p.rc:
        raise Error(f"unpacking {deb} failed: {p.err.strip()[-200:]}")
    with open(stamp, "w") as f:
        f.write(debver)
    return unpack


def registry_tree(series: str) -> Tree:
    """The pristine registry tree of @series, downloaded and imported once.

    The package's source is unpacked where its worktree lives
    (trees/linux-<series>/) and imported into a git repository there
    (import_tree()): the index the import writes is the worktree's, so
    the tree is hashed once and never checked out (a separate checkout of
    a full import cost 37 s on 7.3.4, the import 28 s).  Between runs
    worktree() resets it to the imported commit."""
    check_series(series)
    pkg = REGISTRY[series][0]
    cache = cache_dir()
    repo = os.path.join(cache, "trees", f"linux-{series}")
    drop_old_layout(series)
    if os.path.isdir(os.path.join(repo, ".git")):
        tags = git(["tag", "-l", "v*-debian"], cwd=repo, check=False).split()
        if tags:
            tag = sorted(tags)[-1]
            rev = canonical_import(repo, tag)
            ver = tag[1:-len("-debian")]
            return Tree(repo, rev, ver, tag, "registry")
    with phase("registry"):
        debver = registry_version(series)
    version = upstream_version(debver)
    tag = f"v{version}-debian"
    unpack = unpack_source(series, debver)
    shutil.rmtree(repo, ignore_errors=True)
    progress(f"importing {tag} into {repo}")
    with phase("import"):
        import_tree(unpack, tag, f"Linux {version} as shipped in Debian's "
                    f"{pkg} {debver}\n")
    # Renaming the directory keeps every file's inode and times, so the
    # index stays valid: nothing is hashed again.
    os.rename(unpack, repo)
    os.unlink(unpack_stamp(unpack))
    # The worktree is the pristine copy now (import_tree()); a tree a
    # run damaged outside WRITTEN_DIRS is imported again once
    # trees/linux-<series>/ is removed.
    deb = deb_path(pkg, debver)
    if deb:
        os.unlink(deb)
    rev = canonical_import(repo, tag)
    return Tree(repo, rev, version, tag, "registry")


def drop_old_layout(series: str) -> None:
    """Remove the cache's older layout of @series: a bare import in
    trees/linux-<series>.git and its worktree under work/."""
    cache = cache_dir()
    old = os.path.join(cache, "trees", f"linux-{series}.git")
    if not os.path.isdir(old):
        return
    progress(f"removing {old} and its worktrees (an older layout)")
    for wt in glob.glob(os.path.join(cache, "work", "v*-debian")):
        if os.path.isfile(os.path.join(wt, ".git")) and \
                old in read_text(os.path.join(wt, ".git")):
            shutil.rmtree(wt)
    shutil.rmtree(old)


def deb_path(pkg: str, debver: str) -> Optional[str]:
    """The .deb of @pkg at @debver in the cache's debs/, if it is there."""
    found = glob.glob(os.path.join(
        cache_dir(), "debs", f"{pkg}_{debver.replace(':', '%3a')}_*.deb"))
    return found[0] if found else None


def download(pkg: str, debver: str) -> str:
    """The .deb of @pkg at @debver, in the cache's debs/ (downloaded
    unless it is there); returns its path."""
    debs = os.path.join(cache_dir(), "debs")
    os.makedirs(debs, exist_ok=True)
    have = deb_path(pkg, debver)
    if have:
        return have
    progress(f"downloading {pkg} {debver}")
    for old in glob.glob(os.path.join(debs, f"{pkg}_*.deb")):
        os.unlink(old)
    opts = apt_update()
    with phase("download"):
        p = capture(["apt-get"] + opts + ["-q", "download",
                                          f"{pkg}={debver}"], cwd=debs)
    found = glob.glob(os.path.join(debs, f"{pkg}_*.deb"))
    if p.rc or not found:
        raise Error(f"download of {pkg} failed (package registry "
                    f"unreachable?): {p.last_error()}")
    return found[0]


# The directories whose files the runs change: the suite's files and its
# Kconfig entry, the fixes, the mutants (all in arch/x86/events/).  Only
# their blobs are written at import; a reset restores files from them.
WRITTEN_DIRS = ["arch/x86/events"]


def import_tree(wt: str, tag: str, msg: str) -> str:
    """Import the unpacked tree @wt as the commit @tag, in a repository
    right there; returns the commit id.

    Every file is hashed into the index, which is then the worktree's
    (with the files' stat data: nothing is hashed again), but only the
    blobs under WRITTEN_DIRS (and of the files directly in their parent
    directories, which a commit reads) are written to the object store:
    the tree and commit ids are those of a full import, at a fifth of the
    time and without a second copy of the tree (git add -A of 7.3.4 took
    28 s and 640 MB).  A file outside WRITTEN_DIRS that a run changed
    could not be restored: git says so ("unable to read") and the run
    stops.  The repository's git gc is off: it would find the blobs
    missing."""
    git(["init", "-q"], cwd=wt)
    git(["config", "gc.auto", "0"], cwd=wt)
    files = subprocess.run(["git", "ls-files", "--others", "-z"], cwd=wt,
                           capture_output=True, check=True).stdout
    subprocess.run(["git", "update-index", "--add", "--info-only", "-z",
                    "--stdin"], cwd=wt, input=files, check=True)
    # A commit rebuilds the trees from a changed file up to the root, and
    # reads every blob directly in those directories: theirs too.
    paths = [p for p in files.decode().split("\0") if p]
    parents = {"/".join(d.split("/")[:i])
               for d in WRITTEN_DIRS for i in range(d.count("/") + 1)}
    written = [p for p in paths
               if any(p.startswith(d + "/") for d in WRITTEN_DIRS) or
               os.path.dirname(p) in parents]
    subprocess.run(["git", "hash-object", "-w", "--stdin-paths"], cwd=wt,
                   input="".join(p + "\n" for p in written).encode(),
                   check=True, stdout=subprocess.DEVNULL)
    tree = git(["write-tree", "--missing-ok"], cwd=wt)
    rev = run(["git", "commit-tree", tree], cwd=wt, env=import_env(),
              input=msg).strip()
    git(["update-ref", "--no-deref", "HEAD", rev], cwd=wt)
    git(["tag", tag, rev], cwd=wt)
    return rev


# The commit a registry tree is imported as depends only on the package:
# its tree, its message and these fixed fields.  So every machine gets the
# same commit id for the same package, and the mainline series can name it
# as its base-commit (b4 reads that line).  The identity is the cache's
# own; the commit never leaves the cache, only its id does.
IMPORT_IDENT = ("amd-ibs-race cache", "cache@localhost")
IMPORT_DATE = "2000-01-01T00:00:00+00:00"


def import_env() -> dict[str, str]:
    env = dict(os.environ, GIT_AUTHOR_DATE=IMPORT_DATE,
               GIT_COMMITTER_DATE=IMPORT_DATE)
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = IMPORT_IDENT[0]
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = IMPORT_IDENT[1]
    return env


def canonical_import(repo: str, tag: str) -> str:
    """Point @tag at the canonical commit of its tree and message (the
    same tree, so a worktree and its build directory stay as they are);
    returns the commit id."""
    rev = git(["rev-parse", tag + "^{commit}"], cwd=repo)
    tree = git(["rev-parse", rev + "^{tree}"], cwd=repo)
    msg = git(["log", "-1", "--format=%B", rev], cwd=repo).strip() + "\n"
    canon = run(["git", "commit-tree", tree], cwd=repo, env=import_env(),
                input=msg).strip()
    if canon != rev:
        git(["tag", "-f", tag, canon], cwd=repo)
    return canon


def makefile_version(text: str) -> str:
    v = {}
    for key in ("VERSION", "PATCHLEVEL", "SUBLEVEL"):
        m = re.search(rf"^{key}\s*=\s*(\d*)", text, re.M)
        v[key] = m.group(1) if m else ""
    if not v["VERSION"] or not v["PATCHLEVEL"]:
        raise Error("no kernel version in the top Makefile")
    return f"{v['VERSION']}.{v['PATCHLEVEL']}.{v['SUBLEVEL'] or 0}"


def user_tree(path: str, ref: Optional[str]) -> Tree:
    """A maintainer's own git tree at @ref; it is only read."""
    if not os.path.isdir(path):
        raise Error(f"--tree {path}: no such directory")
    if run(["git", "-C", path, "rev-parse", "--git-dir"], check=False) == "":
        raise Error(f"--tree {path}: not a git repository")
    ref = ref or "HEAD"
    rev = git(["rev-parse", "--verify", "-q", ref + "^{commit}"], cwd=path,
              check=False)
    if not rev:
        raise Error(f"--tree {path}: no commit '{ref}'")
    bare = git(["rev-parse", "--is-bare-repository"], cwd=path) == "true"
    if not bare and git(["status", "--porcelain", "--untracked-files=no"],
                        cwd=path):
        raise Error(f"--tree {path}: has uncommitted changes; commit or stash "
                    "them (nothing was touched)")
    text = git(["show", f"{rev}:Makefile"], cwd=path, check=False)
    if not text:
        raise Error(f"--tree {path}: {ref} has no top Makefile")
    version = makefile_version(text)
    label = f"v{version}-{rev[:12]}"
    return Tree(os.path.abspath(path), rev, version, label,
                os.path.abspath(path))


def missing_blobs(repo: str, rev: str) -> tuple[list[bytes], list[bytes]]:
    """(missing, present) paths of @rev: snapshots may lack large blobs."""
    lt = subprocess.run(["git", "ls-tree", "-r", "-z", rev], cwd=repo,
                        capture_output=True, check=True).stdout
    pairs = [e.split(b"\t", 1) for e in lt.split(b"\0") if e]
    ents = [(meta.split()[2], path) for meta, path in pairs
            if meta.split()[1] == b"blob"]
    out = subprocess.run(["git", "cat-file", "--batch-check"], cwd=repo,
                         input=b"\n".join(sha for sha, _ in ents) + b"\n",
                         capture_output=True, check=True).stdout.split(b"\n")
    missing: list[bytes] = []
    present: list[bytes] = []
    for (_, path), line in zip(ents, out):
        (missing if line.endswith(b" missing") else present).append(path)
    return missing, present


_LOCKS: dict[str, int] = {}


def lock_tree(t: Tree) -> None:
    """Hold the tree's worktree and build directory for this process.

    Two verbs on the same tree would check out, patch and build over each
    other; the second waits here until the first exits."""
    if t.label in _LOCKS:
        return
    d = os.path.join(cache_dir(), "locks")
    os.makedirs(d, exist_ok=True)
    fd = os.open(os.path.join(d, t.label + ".lock"), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        progress(f"{t.label} is in use by another run; waiting")
        fcntl.flock(fd, fcntl.LOCK_EX)
    _LOCKS[t.label] = fd


def unlock_trees() -> None:
    """Let go of every tree this process holds, before another verb
    (a child process) works on one of them."""
    for fd in _LOCKS.values():
        os.close(fd)
    _LOCKS.clear()


def prime_cache_tree(wt: str) -> None:
    """Fill the index's cache-tree (the trees of @wt's HEAD all exist), so
    that a commit never has to rebuild a tree whose blobs a snapshot lacks;
    update-index --skip-worktree invalidates it."""
    git(["write-tree", "--missing-ok"], cwd=wt)


def changed_files(wt: str, rev: str) -> dict[str, tuple[bytes, int]]:
    """The files of the worktree @wt that differ from commit @rev or are
    not in it: {path: (SHA-1 of the content, mtime in ns)}."""
    if not os.path.exists(os.path.join(wt, ".git")):
        return {}
    paths: set[bytes] = set()
    for cmd in (["git", "diff", "--name-only", "--no-renames", "-z", rev],
                ["git", "ls-files", "--others", "-z"]):
        paths.update(subprocess.run(cmd, cwd=wt, capture_output=True,
                                    check=True).stdout.split(b"\0"))
    out: dict[str, tuple[bytes, int]] = {}
    for p in sorted(paths - {b""}):
        full = os.path.join(wt, p.decode())
        if not os.path.isfile(full) or os.path.islink(full):
            continue
        with open(full, "rb") as f:
            digest = hashlib.sha1(f.read()).digest()
        out[p.decode()] = (digest, os.stat(full).st_mtime_ns)
    return out


def keep_mtimes(wt: str, rev: str,
                before: dict[str, tuple[bytes, int]]) -> None:
    """Give every file of @wt that changed_files() lists and that has the
    content it had in @before (taken before the worktree was reset and
    prepared again) its mtime from then.  Resetting to the pristine commit
    and applying the same suite and fix again rewrites files with the
    bytes they had; with their old mtimes make rebuilds only what the new
    state really changed (without this every run re-ran Kconfig and the
    prepare stage).  A file whose content differs keeps its new mtime."""
    for path, (digest, _) in changed_files(wt, rev).items():
        old = before.get(path)
        if old and old[0] == digest:
            os.utime(os.path.join(wt, path), ns=(old[1], old[1]))


def worktree(t: Tree) -> str:
    """A clean worktree of @t at its pristine commit, in the cache: a
    registry tree's own work tree (registry_tree()), or a git worktree of
    a user's repository.  Each call resets it: checkout of the pristine
    commit, and every file that is not in it removed.

    A user's repository is only read (git worktree add writes its
    bookkeeping under the repository's worktrees/ and nothing else).  A
    snapshot that lacks some large blobs (firmware, generated GPU
    headers) gets them marked skip-worktree in the worktree's own index;
    the x86_64 KUnit build does not use them."""
    with phase("worktree"):
        return _worktree(t)


def worktree_path(t: Tree) -> str:
    """Where worktree() puts @t's worktree: a registry tree's own work
    tree, or for a user's tree a git worktree in the cache."""
    if t.origin == "registry":
        return t.repo
    return os.path.join(cache_dir(), "work", t.label)


def _worktree(t: Tree) -> str:
    wt = worktree_path(t)
    os.makedirs(os.path.dirname(wt), exist_ok=True)
    lock_tree(t)
    if os.path.exists(os.path.join(wt, ".git")):
        git(["checkout", "-q", "-f", "--detach", t.rev], cwd=wt)
        git(["clean", "-q", "-f", "-d", "-x"], cwd=wt)
        prime_cache_tree(wt)
        return wt
    if t.origin == "registry":
        raise Error(f"{wt} is not a git work tree; remove it and run again")
    shutil.rmtree(wt, ignore_errors=True)
    git(["worktree", "prune"], cwd=t.repo, check=False)
    progress(f"checking out {t.label} into {wt}")
    missing, present = missing_blobs(t.repo, t.rev)
    if not missing:
        git(["worktree", "add", "-q", "-f", "--detach", wt, t.rev], cwd=t.repo)
        return wt
    progress(f"{t.label}: the repository lacks {len(missing)} blobs (e.g. "
             f"{missing[0].decode()}); they are left out of the worktree")
    git(["worktree", "add", "-q", "-f", "--no-checkout", "--detach", wt,
         t.rev], cwd=t.repo)
    git(["reset", "-q", t.rev], cwd=wt)
    subprocess.run(["git", "update-index", "--skip-worktree", "-z", "--stdin"],
                   cwd=wt, input=b"\0".join(missing) + b"\0", check=True)
    subprocess.run(["git", "checkout-index", "-f", "-z", "--stdin"], cwd=wt,
                   input=b"\0".join(present) + b"\0", check=True)
    prime_cache_tree(wt)
    return wt
