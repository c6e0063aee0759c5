# SPDX-License-Identifier: GPL-2.0-only
"""Shared helpers of the scripts/ verbs: trees, suite, fix, build, QEMU, KTAP.

Every verb in scripts/ is a thin command line around the functions here.
Nothing here writes outside the cache directory (IBS_KIT_CACHE, default
~/.cache/amd-ibs-race) except the result files a verb is asked to write; a
user's kernel checkout is only read, and used through a git worktree.
"""

import email.utils
import fcntl
import functools
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KUNIT_DIR = os.path.join(TOP, "kunit")
BACKPORTS_DIR = os.path.join(TOP, "backports")
UPSTREAM_FIX = os.path.join(TOP, "fix", "upstream.patch")
SUITE = "amd_ibs"
# The same cases again on hardware with IBS_CAPS_DIS (the case names of its
# results carry this prefix); skipped on trees without the capability, not
# built on 5.10 (no kunit_skip() there: kunit/adapt/).
SUITE_DIS = "amd_ibs_dis"
DIS_PREFIX = SUITE_DIS + "."

# Series the package registry carries: package, suite, archive (the last
# path component of the mirror URI in the machine's own apt sources).
REGISTRY = {
    "5.10": ("linux-source-5.10", "bullseye-security", "debian-security"),
    "6.1": ("linux-source-6.1", "bookworm-security", "debian-security"),
    "6.12": ("linux-source-6.12", "bookworm-security", "debian-security"),
    "7.2": ("linux-source-7.2", "sid", "debian"),
    "7.3": ("linux-source-7.3", "trixie-backports", "debian"),
}
# The tree the mainline series is based on, checked and sent against: the
# newest registry tree.
MAINLINE_BASE = "7.3"
# The author our mainline series carries in patches/: not a person.  Whoever
# sends the series is its author (DCO); scripts/send puts the sender in its
# place (as_sender()).  .invalid (RFC 2606) can never be delivered to.
PLACEHOLDER = ("Sender Placeholder", "sender@placeholder.invalid")
STABLE_SERIES = ["5.10", "5.15", "6.1", "6.6", "6.12", "6.18", "6.19", "7.0"]

SUITE_EXPLORE = "amd_ibs_explore"
EXPLORE_PREFIX = SUITE_EXPLORE + "."
# The diagnostic prefix of a window case per finding (see suite_cases()).
CASE_DIAG_PREFIX = {"race": "race: ", "stop": "stop-race: "}
# Per finding: the exploration's invariants (names in brackets in the
# suite's messages) that it breaks, and the capability sets it needs
# (None: every set).  "race": 1b044ff3c17e (and, with IBS_CAPS_DIS, its
# reopening, fix/caps-dis.patch); "stop": fix/stop-nmi.patch.
FINDING_INVARIANTS = {
    "race": {"nmi-enabled", "stale-sample", "foreign-claimed"},
    "stop": {"nmi-reenabled", "end-hw"},
}
DIS_CAPSETS = ("dis", "all")


PACKAGES = {  # command -> Debian package
    "qemu-system-x86_64": "qemu-system-x86",
    "make": "make",
    "gcc": "gcc",
    "flex": "flex",
    "bison": "bison",
    "bc": "bc",
    "git": "git",
    "xz": "xz-utils",
    "dpkg-deb": "dpkg",
    "apt-get": "apt",
    "perl": "perl",
    "cpio": "cpio",
}
HEADER_PACKAGES = {  # header -> Debian package
    "/usr/include/libelf.h": "libelf-dev",
    "/usr/include/openssl/ssl.h": "libssl-dev",
}


class Error(Exception):
    """A failure to report as one line on stderr."""


def die(msg):
    print(f"{os.path.basename(sys.argv[0])}: error: {msg}", file=sys.stderr)
    sys.exit(1)


def main_wrapper(fn):
    """Run a verb's main(); Error becomes one line on stderr and exit 1."""
    try:
        sys.exit(fn() or 0)
    except Error as e:
        die(str(e))
    except KeyboardInterrupt:
        die("interrupted")


def progress(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# Seconds spent per phase in this process (apt, registry, download, unpack,
# import, worktree, configure, build, boot), for scripts/bench.
PHASES = {}


class phase:
    """with phase("build"): ... adds the block's wall time to PHASES."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t0 = time.time()

    def __exit__(self, *exc):
        PHASES[self.name] = PHASES.get(self.name, 0.0) + time.time() - self.t0


def cache_dir():
    d = os.environ.get("IBS_KIT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        "amd-ibs-race")
    os.makedirs(d, exist_ok=True)
    return d


def run(cmd, cwd=None, log=None, env=None, check=True, input=None):
    """Run a command; output to @log (a path) or captured and returned."""
    if log:
        with open(log, "a") as f:
            f.write("$ " + " ".join(cmd) + "\n")
            f.flush()
            p = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT,
                               env=env, input=input, text=True)
        out = ""
    else:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                           env=env, input=input)
        out = p.stdout
    if check and p.returncode:
        where = f" (log: {log})" if log else ""
        err = "" if log else (p.stderr.strip().splitlines() or [""])[-1]
        raise Error(f"'{' '.join(cmd[:3])}' failed with {p.returncode}{where}"
                    + (f": {err}" if err else ""))
    return out


def git(args, cwd, check=True, env=None):
    return run(["git"] + args, cwd=cwd, check=check, env=env).strip()


def git_env():
    """Identity for commits inside the cache: the user's, or a local one."""
    env = dict(os.environ)
    if not git(["config", "user.name"], cwd=TOP, check=False):
        env.setdefault("GIT_AUTHOR_NAME", "amd-ibs-race cache")
        env.setdefault("GIT_COMMITTER_NAME", "amd-ibs-race cache")
    if not git(["config", "user.email"], cwd=TOP, check=False):
        env.setdefault("GIT_AUTHOR_EMAIL", "cache@localhost")
        env.setdefault("GIT_COMMITTER_EMAIL", "cache@localhost")
    return env


# --- tools ---------------------------------------------------------------

def have(cmd):
    """A command on PATH or in git's libexec, or an absolute path."""
    if os.path.isabs(cmd):
        return os.path.exists(cmd)
    return bool(shutil.which(cmd)) or \
        os.path.exists(os.path.join("/usr/lib/git-core", cmd))


def ensure_tools(install=True, extra=None):
    """Install the Debian packages the build and QEMU need, if missing.

    @extra: more {command: package} a verb needs."""
    wanted = dict(PACKAGES, **(extra or {}))
    missing = sorted({pkg for cmd, pkg in wanted.items() if not have(cmd)} |
                     {pkg for hdr, pkg in HEADER_PACKAGES.items()
                      if not os.path.exists(hdr)})
    if not missing:
        return
    if not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Error("missing packages: " + " ".join(missing) +
                    " (install them, e.g. apt-get install " +
                    " ".join(missing) + ")")
    with phase("apt"):
        install_packages(missing)


def install_packages(missing):
    progress("installing " + " ".join(missing))
    log = os.path.join(cache_dir(), "apt-install.log")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "install", "-y", "-q"] + missing, log=log, env=env,
        check=False)
    still = [p for p in missing
             if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode]
    if still:
        run(["apt-get", "update", "-q"], log=log, env=env, check=False)
        run(["apt-get", "install", "-y", "-q"] + still, log=log, env=env,
            check=False)
        still = [p for p in still if subprocess.run(
            ["dpkg", "-s", p], capture_output=True).returncode]
    if still:
        raise Error("could not install " + " ".join(still) + f" (log: {log})")


# --- the package registry --------------------------------------------------

def mirror_uris():
    """Mirror URIs by archive name, read from the machine's apt sources.

    IBS_KIT_MIRROR (the URI of a Debian archive) overrides them."""
    uris = []
    if os.environ.get("IBS_KIT_MIRROR"):
        uris.append(os.environ["IBS_KIT_MIRROR"])
    for path in ([] if uris else ["/etc/apt/sources.list"] +
                 sorted(glob.glob("/etc/apt/sources.list.d/*.list")) +
                 sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))):
        try:
            text = open(path).read()
        except OSError:
            continue
        uris += apt_source_uris(text)
    return debian_archives(uris)


def apt_source_uris(text):
    """The archive URIs of one apt sources file: one-line ("deb [opts]
    URI suite ...") or deb822 ("URIs: ...") format."""
    uris = []
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"URIs:\s*(.*)", line)
        if m:
            uris += m.group(1).split()
        m = re.match(r"deb\s+(?:\[[^\]]*\]\s+)?(\S+)", line)
        if m:
            uris.append(m.group(1))
    return uris


def debian_archives(uris):
    """{"debian": URI, "debian-security": URI} from archive URIs: each
    found by its last path component, the other derived from it."""
    found = {}
    for uri in uris:
        uri = uri.rstrip("/")
        name = uri.rsplit("/", 1)[-1]
        if name in ("debian", "debian-security"):
            found.setdefault(name, uri)
    if "debian" in found and "debian-security" not in found:
        found["debian-security"] = found["debian"] + "-security"
    if "debian-security" in found and "debian" not in found:
        found["debian"] = found["debian-security"][:-len("-security")]
    if not found:
        raise Error("no Debian mirror found in the machine's apt sources")
    return found


def apt_options():
    d = os.path.join(cache_dir(), "apt")
    os.makedirs(os.path.join(d, "lists", "partial"), exist_ok=True)
    os.makedirs(os.path.join(d, "archives", "partial"), exist_ok=True)
    sources = os.path.join(d, "sources.list")
    uris = mirror_uris()
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    signed = f"[signed-by={keyring}] " if os.path.exists(keyring) else ""
    lines = sorted({f"deb {signed}{uris[archive]} {suite} main"
                    for _, suite, archive in REGISTRY.values()})
    text = "\n".join(lines) + "\n"
    if not os.path.exists(sources) or open(sources).read() != text:
        with open(sources, "w") as f:
            f.write(text)
    return ["-o", f"Dir::Etc::SourceList={sources}",
            "-o", "Dir::Etc::SourceParts=/nonexistent",
            "-o", f"Dir::State::Lists={d}/lists",
            "-o", f"Dir::Cache={d}",
            "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
            "-o", "APT::Sandbox::User=root"]


def apt_update(force=False):
    opts = apt_options()
    stamp = os.path.join(cache_dir(), "apt", "updated")
    if not force and os.path.exists(stamp) and \
            time.time() - os.path.getmtime(stamp) < 24 * 3600:
        return opts
    progress("reading the package registry (private apt lists)")
    log = os.path.join(cache_dir(), "apt", "update.log")
    p = subprocess.run(["apt-get"] + opts + ["-q", "update"],
                       capture_output=True, text=True)
    with open(log, "w") as f:
        f.write(p.stdout + p.stderr)
    if p.returncode or re.search(r"^(Err|E):", p.stdout + p.stderr, re.M):
        raise Error(f"package registry unreachable (apt-get update failed, "
                    f"log: {log})")
    open(stamp, "w").close()
    return opts


def registry_version(series):
    """The Debian version of linux-source-<series> the registry serves."""
    pkg = REGISTRY[series][0]
    for attempt in (False, True):
        opts = apt_update(force=attempt)
        out = run(["apt-cache"] + opts + ["policy", pkg], check=False)
        m = re.search(r"Candidate:\s*(\S+)", out)
        if m and m.group(1) != "(none)":
            return m.group(1)
    raise Error(f"{pkg} not found in the package registry")


def upstream_version(debver):
    return re.match(r"(\d+\.\d+(?:\.\d+)?)", debver).group(1)


def check_series(series, allowed=None):
    allowed = allowed or sorted(REGISTRY, key=series_key)
    if series not in allowed:
        raise Error(f"unknown series '{series}' (known: {', '.join(allowed)})")


def series_key(s):
    return tuple(int(x) for x in s.split("."))


def series_of(version):
    return ".".join(version.split(".")[:2])


# --- trees -------------------------------------------------------------------

class Tree:
    """A kernel source at one commit: a git repository and a revision."""

    def __init__(self, repo, rev, version, label, origin):
        self.repo = repo          # git dir or work tree of the repository
        self.rev = rev            # commit (sha) the runs start from
        self.version = version    # e.g. 6.1.192
        self.label = label        # e.g. v6.1.192-debian
        self.origin = origin      # "registry" or the user's tree path
        self.series = series_of(version)
        # May the fix be reverted (git apply -R) for an unfixed run?  Yes for
        # the registry's fixed trees (that is how they show red); for a
        # user's tree only when asked (--revert-fix).
        self.allow_revert = origin == "registry"
        # Kconfig lines this tree needs beyond the suite's (--kconfig).
        self.extra_kconfig = []

    def as_dict(self):
        d = {"version": self.version, "label": self.label,
             "origin": self.origin, "commit": self.rev,
             "series": self.series}
        if self.extra_kconfig:
            d["extra_kconfig"] = self.extra_kconfig
        return d


def registry_tree(series):
    """The pristine registry tree of @series, downloaded and imported once."""
    check_series(series)
    pkg = REGISTRY[series][0]
    cache = cache_dir()
    repo = os.path.join(cache, "trees", f"linux-{series}.git")
    if os.path.isdir(repo):
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
    debs = os.path.join(cache, "debs")
    os.makedirs(debs, exist_ok=True)
    deb = glob.glob(os.path.join(debs, f"{pkg}_{debver.replace(':', '%3a')}_*.deb"))
    if not deb:
        progress(f"downloading {pkg} {debver}")
        for old in glob.glob(os.path.join(debs, f"{pkg}_*.deb")):
            os.unlink(old)
        opts = apt_update()
        with phase("download"):
            p = subprocess.run(["apt-get"] + opts + ["-q", "download",
                                                     f"{pkg}={debver}"],
                               cwd=debs, capture_output=True, text=True)
        deb = glob.glob(os.path.join(debs, f"{pkg}_*.deb"))
        if p.returncode or not deb:
            raise Error(f"download of {pkg} failed (package registry "
                        f"unreachable?): {(p.stderr.strip().splitlines() or [''])[-1]}")
    deb = deb[0]
    unpack = os.path.join(cache, "trees", f"linux-{series}.unpack")
    shutil.rmtree(unpack, ignore_errors=True)
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(unpack)
    progress(f"unpacking {os.path.basename(deb)}")
    member = f"./usr/src/linux-source-{series}.tar.xz"
    sh = (f"dpkg-deb --fsys-tarfile '{deb}' | tar -xO '{member}' | "
          f"tar -xJ --strip-components=1 -C '{unpack}'")
    with phase("unpack"):
        p = subprocess.run(["bash", "-o", "pipefail", "-c", sh],
                           capture_output=True, text=True)
    if p.returncode:
        raise Error(f"unpacking {deb} failed: {p.stderr.strip()[-200:]}")
    progress(f"importing {tag} into {repo}")
    env = import_env()
    with phase("import"):
        git(["init", "-q", "--bare", repo], cwd=cache)
        base = ["--git-dir", repo, "--work-tree", unpack]
        git(base + ["add", "-f", "-A"], cwd=unpack)
        git(base + ["commit", "-q", "-m",
                    f"Linux {version} as shipped in Debian's {pkg} {debver}"],
            cwd=unpack, env=env)
        git(["--git-dir", repo, "tag", tag], cwd=cache)
    shutil.rmtree(unpack)
    os.unlink(deb)  # the tagged commit holds all of it now
    rev = canonical_import(repo, tag)
    return Tree(repo, rev, version, tag, "registry")


# The commit a registry tree is imported as depends only on the package:
# its tree, its message and these fixed fields.  So every machine gets the
# same commit id for the same package, and the mainline series can name it
# as its base-commit (b4 reads that line).  The identity is the cache's
# own; the commit never leaves the cache, only its id does.
IMPORT_IDENT = ("amd-ibs-race cache", "cache@localhost")
IMPORT_DATE = "2000-01-01T00:00:00+00:00"


def import_env():
    env = dict(os.environ, GIT_AUTHOR_DATE=IMPORT_DATE,
               GIT_COMMITTER_DATE=IMPORT_DATE)
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = IMPORT_IDENT[0]
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = IMPORT_IDENT[1]
    return env


def canonical_import(repo, tag):
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


def makefile_version(text):
    v = {}
    for key in ("VERSION", "PATCHLEVEL", "SUBLEVEL"):
        m = re.search(rf"^{key}\s*=\s*(\d*)", text, re.M)
        v[key] = m.group(1) if m else ""
    if not v["VERSION"] or not v["PATCHLEVEL"]:
        raise Error("no kernel version in the top Makefile")
    return f"{v['VERSION']}.{v['PATCHLEVEL']}.{v['SUBLEVEL'] or 0}"


def user_tree(path, ref):
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


def missing_blobs(repo, rev):
    """(missing, present) paths of @rev: snapshots may lack large blobs."""
    lt = subprocess.run(["git", "ls-tree", "-r", "-z", rev], cwd=repo,
                        capture_output=True, check=True).stdout
    ents = [e.split(b"\t", 1) for e in lt.split(b"\0") if e]
    ents = [(meta.split()[2], path) for meta, path in ents
            if meta.split()[1] == b"blob"]
    out = subprocess.run(["git", "cat-file", "--batch-check"], cwd=repo,
                         input=b"\n".join(sha for sha, _ in ents) + b"\n",
                         capture_output=True, check=True).stdout.split(b"\n")
    missing, present = [], []
    for (_, path), line in zip(ents, out):
        (missing if line.endswith(b" missing") else present).append(path)
    return missing, present


_LOCKS = {}


def lock_tree(t):
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


def unlock_trees():
    """Let go of every tree this process holds, before another verb
    (a child process) works on one of them."""
    for fd in _LOCKS.values():
        os.close(fd)
    _LOCKS.clear()


def prime_cache_tree(wt):
    """Fill the index's cache-tree (the trees of @wt's HEAD all exist), so
    that a commit never has to rebuild a tree whose blobs a snapshot lacks;
    update-index --skip-worktree invalidates it."""
    git(["write-tree", "--missing-ok"], cwd=wt)


def worktree(t):
    """A clean worktree of @t at its pristine commit, in the cache.

    The repository is only read (git worktree add writes its bookkeeping
    under the repository's worktrees/ and nothing else).  A snapshot that
    lacks some large blobs (firmware, generated GPU headers) gets them
    marked skip-worktree in the worktree's own index; the x86_64 KUnit
    build does not use them."""
    with phase("worktree"):
        return _worktree(t)


def _worktree(t):
    wt = os.path.join(cache_dir(), "work", t.label)
    os.makedirs(os.path.dirname(wt), exist_ok=True)
    lock_tree(t)
    if os.path.exists(os.path.join(wt, ".git")):
        git(["checkout", "-q", "-f", "--detach", t.rev], cwd=wt)
        git(["clean", "-q", "-f", "-d", "-x"], cwd=wt)
        prime_cache_tree(wt)
        return wt
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


# --- the suite and the fix ----------------------------------------------------

def adaptations(series):
    """The sed files that adapt the suite to @series (kunit/adapt/series)."""
    table = {}
    for line in open(os.path.join(KUNIT_DIR, "adapt", "series")):
        line = line.split("#", 1)[0].split()
        if line:
            table[line[0]] = [] if line[1:] == ["-"] else line[1:]
    if series in table:
        return table[series]
    # A series the table does not name: the nearest older one's adaptations.
    older = [s for s in table if series_key(s) <= series_key(series)]
    return table[max(older, key=series_key)] if older else []


def suite_source(series):
    src = open(os.path.join(KUNIT_DIR, "ibs_kunit.c")).read()
    for sed in adaptations(series):
        src = run(["sed", "-f", os.path.join(KUNIT_DIR, "adapt", sed)],
                  input=src)
    return src


def dis_suite_built(series):
    """Does the suite as adapted to @series register amd_ibs_dis?"""
    return re.search(r'\.name\s*=\s*"' + SUITE_DIS + '"',
                     suite_source(series)) is not None


def install_suite(wt, series):
    """Add the suite, Kconfig symbol, Makefile hook and .kunitconfig; commit."""
    amd = os.path.join(wt, "arch/x86/events/amd")
    with open(os.path.join(amd, "ibs_kunit.c"), "w") as f:
        f.write(suite_source(series))
    install_build_files(wt)
    git(["add", "-f", "arch/x86/events"], cwd=wt)
    git(["commit", "-q", "-m", "perf/x86/amd/ibs: add the amd_ibs KUnit suite "
         "(test harness, not for stable)"], cwd=wt, env=git_env())


def without_spdx(text):
    """A fragment of ours as it goes into a kernel file: without our own
    SPDX line (the kernel file it joins has its own; .kunitconfig files
    carry none)."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith("# SPDX-License-Identifier:"))


# Tracked files that carry no SPDX line, and why: generated (their source
# carries it), upstream's, patches and commit-message sources (their text
# goes into mails and git as it is), license texts.
SPDX_EXEMPT = [
    (r"patches/", "generated by scripts/gen-patches"),
    (r"backports/", "generated by scripts/gen-backports and verify"),
    (r"results/", "records written by scripts/verify and mutate"),
    (r"Documentation/backport-results\.md$", "generated by scripts/report"),
    (r"Documentation/bench\.md$", "generated by scripts/bench --write"),
    (r"fix/upstream\.patch$", "upstream commit 1b044ff3c17e, verbatim"),
    (r"fix/(caps-dis|stop-nmi)\.patch$", "a git format-patch mail (its "
     "first line is the From line)"),
    (r"kunit/(mainline/|caps-dis/|stop-nmi/|explore/|cover$)", "commit "
     "message and cover letter sources, copied into the mails as they "
     "are"),
    (r"scripts/tests/data/.*\.log$", "console output captured from runs "
     "of the suite (test fixtures)"),
    (r"(COPYING|LICENSES/.*)$", "the license texts"),
    (r"\.gitignore$", "not source"),
]


def spdx_problems():
    """Tracked files that should carry an SPDX-License-Identifier line in
    their first three lines and do not."""
    out = []
    for path in git(["ls-files"], cwd=TOP).splitlines():
        if any(re.match(pat, path) for pat, _ in SPDX_EXEMPT):
            continue
        with open(os.path.join(TOP, path), errors="replace") as f:
            head = [f.readline() for _ in range(3)]
        if not any(re.search(r"SPDX-License-Identifier: \S+", h)
                   for h in head):
            out.append(path)
    return out


def install_build_files(wt):
    """The Kconfig symbol, Makefile hook and .kunitconfig of the suite."""
    amd = os.path.join(wt, "arch/x86/events/amd")
    with open(os.path.join(amd, ".kunitconfig"), "w") as f:
        f.write(without_spdx(open(os.path.join(KUNIT_DIR,
                                               "kunitconfig")).read()))
    mk = os.path.join(amd, "Makefile")
    text = open(mk).read()
    hook = "obj-$(CONFIG_PERF_EVENTS_AMD_IBS_KUNIT_TEST)\t+= ibs_kunit.o\n"
    text = text.replace("obj-$(CONFIG_X86_LOCAL_APIC)\t\t+= ibs.o\n",
                        "obj-$(CONFIG_X86_LOCAL_APIC)\t\t+= ibs.o\n" + hook, 1)
    if hook not in text:
        text += hook
    open(mk, "w").write(text)
    kc = os.path.join(wt, "arch/x86/events/Kconfig")
    text = open(kc).read()
    i = text.rindex("endmenu")
    frag = without_spdx(open(os.path.join(KUNIT_DIR, "Kconfig")).read())
    open(kc, "w").write(text[:i] + frag + "\n" + text[i:])


def ibs_start_body(wt):
    src = open(os.path.join(wt, "arch/x86/events/amd/ibs.c")).read()
    m = re.search(r"\nstatic void perf_ibs_start\(.*?\n}\n", src, re.S)
    if not m:
        raise Error("perf_ibs_start() not found in ibs.c")
    return m.group(0)


def has_fix(wt):
    """True if perf_ibs_start() clears the CTL before setting IBS_STARTED."""
    body = ibs_start_body(wt)
    clear = body.find("perf_ibs_disable_event(perf_ibs, hwc, 0);")
    started = body.find("set_bit(IBS_STARTED")
    return clear != -1 and started != -1 and clear < started


DIS_FIX = os.path.join(TOP, "fix", "caps-dis.patch")


def has_caps_dis(wt):
    """Does the tree's ibs.c know IBS_CAPS_DIS (efa5700ec0da, v7.1)?"""
    return "IBS_CAPS_DIS" in open(
        os.path.join(wt, "arch/x86/events/amd/ibs.c")).read()


def has_dis_fix(wt):
    """True if perf_ibs_start() also writes the CTL itself with
    IBS_CAPS_DIS before setting IBS_STARTED (fix/caps-dis.patch)."""
    body = ibs_start_body(wt)
    m = re.search(r"if \(ibs_caps & IBS_CAPS_DIS\)\n\t\twrmsr[lq]\("
                  r"hwc->config_base, 0\);", body)
    started = body.find("set_bit(IBS_STARTED")
    return bool(m) and started != -1 and m.start() < started


STOP_FIX = os.path.join(TOP, "fix", "stop-nmi.patch")


def has_stop_fix(wt):
    """True if perf_ibs_handle_irq() leaves a sample found with
    IBS_STOPPING set to perf_ibs_stop() (fix/stop-nmi.patch)."""
    src = open(os.path.join(wt, "arch/x86/events/amd/ibs.c")).read()
    return re.search(r"if \(test_bit\(IBS_STOPPING, pcpu->state\)\)\n"
                     r"\t\treturn 1;", src) is not None


def git_am(wt, patches, log, what):
    """git am @patches on @wt (no fuzz, no three-way fallback), logged;
    aborted and an Error naming @what if they do not apply."""
    p = subprocess.run(["git", "am", "-q"] + patches, cwd=wt,
                       capture_output=True, text=True, env=git_env())
    with open(log, "a") as f:
        f.write(f"$ git am {' '.join(patches)}\n{p.stdout}{p.stderr}")
    if p.returncode:
        subprocess.run(["git", "am", "--abort"], cwd=wt, capture_output=True)
        raise Error(f"{what} does not apply with git am (log: {log})")


def apply_dis_fix(wt, log):
    git_am(wt, [DIS_FIX], log, "fix/caps-dis.patch")


def backport_patches(series):
    d = os.path.join(BACKPORTS_DIR, series)
    sf = os.path.join(d, "series")
    if not os.path.exists(sf):
        return []
    return [os.path.join(d, line.strip()) for line in open(sf)
            if line.strip() and not line.startswith("#")]


def apply_fix(wt, series, log):
    """git am the backport of @series; no fuzz, no three-way fallback."""
    patches = backport_patches(series)
    if not patches:
        raise Error(f"no backport for series {series} in backports/{series}/")
    git_am(wt, patches, log, f"backports/{series}")


def revert_fix(wt, log):
    """git apply -R the upstream fix (it must be textually the same)."""
    p = subprocess.run(["git", "apply", "-R", UPSTREAM_FIX], cwd=wt,
                       capture_output=True, text=True)
    with open(log, "a") as f:
        f.write(f"$ git apply -R {UPSTREAM_FIX}\n{p.stdout}{p.stderr}")
    if p.returncode:
        raise Error(f"git apply -R fix/upstream.patch failed (log: {log})")


# --- build and boot -----------------------------------------------------------

# The kernel the suite runs in is allnoconfig plus exactly this, the
# suite's kunitconfig and a tree's --kconfig lines: 64-bit, printk and the
# serial console for the KTAP output under QEMU.  KUnit tests run from
# kernel_init() before any init process, so no block, filesystem or ELF
# support is needed, and kunit_shutdown=reboot with QEMU's -no-reboot ends
# the run (poweroff would need ACPI).
# Two CPUs and a preemptible kernel that reports per-CPU accesses from
# preemptible code (DEBUG_PREEMPT): pcpu->state is per CPU, and a test
# that could migrate between two of its accesses would read another CPU's.
MIN_KCONFIG = ("CONFIG_64BIT=y\nCONFIG_PRINTK=y\nCONFIG_TTY=y\n"
               "CONFIG_SERIAL_8250=y\nCONFIG_SERIAL_8250_CONSOLE=y\n"
               "CONFIG_SMP=y\nCONFIG_PREEMPT=y\nCONFIG_DEBUG_KERNEL=y\n"
               "CONFIG_DEBUG_PREEMPT=y\n")
QEMU_CPUS = "2"


def build_dir(t):
    d = os.path.join(cache_dir(), "build", t.label)
    os.makedirs(d, exist_ok=True)
    return d


def kconfig_line(line):
    """The .config form of a fragment line: =n is written 'is not set'."""
    m = re.fullmatch(r"(CONFIG_\w+)=n", line)
    return f"# {m.group(1)} is not set" if m else line


def kconfig_holds(line, have):
    """Is fragment @line in effect in the .config lines @have?"""
    m = re.fullmatch(r"# (CONFIG_\w+) is not set", line)
    if m:
        return not any(h.startswith(m.group(1) + "=") for h in have)
    return line in have


def configure(wt, bdir, log, extra=()):
    """'make allnoconfig' with KCONFIG_ALLCONFIG = MIN_KCONFIG, the suite's
    kunitconfig and @extra; skipped when the build directory was configured
    from the same recipe and every line still holds."""
    frag = MIN_KCONFIG + without_spdx(
        open(os.path.join(KUNIT_DIR, "kunitconfig")).read()) + \
        "".join(kconfig_line(line) + "\n" for line in extra)
    recipe = "allnoconfig\n" + frag
    cfg = os.path.join(bdir, ".config")
    stamp = os.path.join(bdir, ".ibs-kit-kconfig")
    want = [line for line in frag.splitlines()
            if line.startswith("CONFIG_") or line.endswith(" is not set")]
    if os.path.exists(cfg) and os.path.exists(stamp) and \
            open(stamp).read() == recipe:
        have = set(open(cfg).read().splitlines())
        if all(kconfig_holds(line, have) for line in want):
            return
    allconfig = os.path.join(bdir, ".ibs-kit-allconfig")
    with open(allconfig, "w") as f:
        f.write(frag)
    run(["make", "ARCH=x86_64", f"O={bdir}", f"KCONFIG_ALLCONFIG={allconfig}",
         "allnoconfig"], cwd=wt, log=log)
    have = set(open(cfg).read().splitlines())
    lost = [line for line in want if not kconfig_holds(line, have)]
    if lost:
        raise Error(f"kconfig dropped {', '.join(lost)} (log: {log})")
    with open(stamp, "w") as f:
        f.write(recipe)


def build(wt, bdir, log, extra_kconfig=()):
    """Configure and build bzImage; returns seconds.  The driver and the
    suite must have been built (ibs.o, ibs_kunit.o)."""
    t0 = time.time()
    with phase("configure"):
        configure(wt, bdir, log, extra_kconfig)
    jobs = str((os.cpu_count() or 1) + 1)
    with phase("build"):
        run(["make", "-j" + jobs, "ARCH=x86_64", f"O={bdir}", "bzImage"],
            cwd=wt, log=log)
    for obj in ("ibs.o", "ibs_kunit.o"):
        if not os.path.exists(os.path.join(bdir, "arch/x86/events/amd", obj)):
            raise Error(f"the build made no arch/x86/events/amd/{obj} "
                        f"(log: {log})")
    return time.time() - t0


def w1_warnings(wt, bdir, log):
    """Warnings of 'make W=1' that point into the suite's own source.

    The suite object is rebuilt with W=1; warnings inside the included
    ibs.c are the tree's own and not counted."""
    p = subprocess.run(["make", "ARCH=x86_64", f"O={bdir}", "W=1",
                        "arch/x86/events/amd/ibs_kunit.o"], cwd=wt,
                       capture_output=True, text=True)
    with open(log, "a") as f:
        f.write("$ make W=1 arch/x86/events/amd/ibs_kunit.o\n" + p.stdout +
                p.stderr)
    if p.returncode:
        raise Error(f"W=1 build of ibs_kunit.o failed (log: {log})")
    return [line for line in p.stderr.splitlines()
            if re.search(r"ibs_kunit\.c:\d+:\d+: warning:", line)]


def boot(bdir, log, timeout=300):
    """Boot bzImage under QEMU (TCG), return (console text, seconds)."""
    kernel = os.path.join(bdir, "arch/x86/boot/bzImage")
    cmdline = ("console=ttyS0 kunit.enable=1 kunit.autorun=1 "
               "kunit.filter_glob=" + SUITE +
               "* kunit_shutdown=reboot oops=panic panic=-1 printk.time=1")
    # TCG, never KVM: on these machines /dev/kvm exists but guests hang.
    cmd = ["qemu-system-x86_64", "-nodefaults", "-m", "1024", "-smp", QEMU_CPUS,
           "-accel", "tcg", "-kernel", kernel, "-append", cmdline,
           "-no-reboot", "-nographic", "-serial", "stdio"]
    t0 = time.time()
    try:
        with phase("boot"):
            p = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=timeout, errors="replace")
        out = p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(
            e.stdout, bytes) else (e.stdout or "")
        out += f"\n[ibs-kit: QEMU timed out after {timeout}s]\n"
    secs = time.time() - t0
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n" + out)
    return out, secs


_TS = re.compile(r"^\s*\[\s*(\d+\.\d+)\]\s?")
_WARN = re.compile(r"WARNING: CPU: \d+ PID: \d+ at (\S+)"
                   r"|(BUG: [^:]*(?:preemptible|atomic|invalid context)[^:]*)")
_RESULT = re.compile(r"^(\s*)(not ok|ok) (\d+)(?: -)? ([^\s#]+)(?:\s*#\s*(\S+))?")


_PARAM = re.compile(r"^(\s*)(not ok|ok) (\d+)(?: -)? (.*?)(?:\s+#\s*(\S+).*)?$")
_PLAN = re.compile(r"^(\s*)1\.\.\d+\s*$")
_OLD_PARAM = re.compile(r"^\s*# (\w+): (not ok|ok) \d+ - (.*?)\s*$")


def parse_ktap(text, suite=SUITE):
    """Per-case results of @suite in KTAP/TAP console output.

    Returns {"cases": {name: "pass"|"fail"|"skip"}, "suite": result or None,
    "diagnostics": {name: [lines]}, "params": {name: {description:
    verdict}}, "seconds": the suite's own time from the printk
    timestamps, or None}; understands the 5.10 TAP dialect ("ok 1 -
    name") and KTAP ("ok 1 name").  The cases are the results one level
    below the suite (the indentation of its plan line); results nested
    deeper are the parameters of the case that follows them (KUnit before
    v5.18 prints them as "# case: ok N - description" lines instead).  The
    diagnostics of a case are the console lines between the previous
    result and its own (KUnit's '#' lines and the messages of failed
    expectations).  A kernel WARN inside a case fails that case, whatever
    KUnit said, with "kernel WARN at <location>" as a diagnostic."""
    cases, diags, params, result = {}, {}, {}, None
    inside, pending, warned, pending_params = False, [], [], {}
    start = seconds = case_indent = None
    for raw in text.splitlines():
        ts = _TS.match(raw)
        line = _TS.sub("", raw.rstrip("\r"))
        if re.match(rf"^\s*# Subtest: {re.escape(suite)}\s*$", line):
            inside, pending, case_indent = True, [], None
            start = float(ts.group(1)) if ts else None
            continue
        if not inside:
            continue
        plan = _PLAN.match(line)
        if plan:
            if case_indent is None:
                case_indent = len(plan.group(1))
            continue
        m = _RESULT.match(line)
        if m:
            indent, status, _, name, directive = m.groups()
            verdict = "pass" if status == "ok" else "fail"
            if directive and directive.upper() == "SKIP":
                verdict = "skip"
            if name == suite and len(indent) == 0:
                result = verdict
                inside = False
                if ts and start is not None:
                    seconds = round(float(ts.group(1)) - start, 3)
                continue
            if case_indent is not None and len(indent) > case_indent:
                pm = _PARAM.match(line)
                pending_params[pm.group(4)] = verdict
                pending.append(line.strip())
                continue
            if len(indent) > 0 and name not in cases:
                if warned:
                    verdict = "fail"
                    pending += [f"kernel WARN at {w}" for w in warned]
                cases[name] = verdict
                diags[name] = pending
                if pending_params:
                    params[name] = pending_params
                pending, warned, pending_params = [], [], {}
            continue
        om = _OLD_PARAM.match(line)
        if om:  # KUnit 5.11-5.17: "# case: ok 1 - description"
            pending_params[om.group(3)] = "pass" if om.group(2) == "ok" \
                else "fail"
        w = _WARN.search(line)
        if w:
            warned.append(w.group(1) or w.group(2))
        if line.strip() and not re.match(r"^\s*(# Subtest: |KTAP version)",
                                         line):
            pending.append(line.strip())
    return {"cases": cases, "suite": result, "diagnostics": diags,
            "params": params, "seconds": seconds}


_EXPLORED = re.compile(
    r"(caps [^:]+): (\d+) sequences, (\d+) \(sequence, point, NMI "
    r"content\) tuples explored; points per callback: (.*)$")
_VIOLATION = re.compile(r"^(caps [^:]+): .*? \[([a-z-]+)\]: ")


def explored(lines):
    """The exploration's own report in a case's diagnostics: {"tuples":
    total, "sequences": total, "params": {description: {"tuples": n,
    "points": "..."}}, "violations": {description: sorted invariant
    names}}."""
    out = {"tuples": 0, "sequences": 0, "params": {}, "violations": {}}
    for line in lines:
        m = _EXPLORED.search(line)
        if m:
            out["params"][m.group(1)] = {"tuples": int(m.group(3)),
                                         "points": m.group(4).strip()}
            out["tuples"] += int(m.group(3))
            out["sequences"] += int(m.group(2))
            continue
        m = _VIOLATION.match(line)
        if m:
            v = out["violations"].setdefault(m.group(1), [])
            if m.group(2) not in v:
                v.append(m.group(2))
    for v in out["violations"].values():
        v.sort()
    return out


def parse_run(text):
    """parse_ktap() of the three suites, merged: the amd_ibs_dis cases
    carry DIS_PREFIX, the amd_ibs_explore cases EXPLORE_PREFIX.  "suite"
    is amd_ibs's result, "suite_dis" amd_ibs_dis's and "suite_explore"
    amd_ibs_explore's (None where it did not run), "seconds" the sum,
    "explore" the exploration's report (explored())."""
    res = parse_ktap(text, SUITE)
    res["seconds_by_suite"] = {SUITE: res["seconds"]}
    for suite, prefix, key in ((SUITE_DIS, DIS_PREFIX, "suite_dis"),
                               (SUITE_EXPLORE, EXPLORE_PREFIX,
                                "suite_explore")):
        sub = parse_ktap(text, suite)
        res[key] = sub["suite"]
        res["seconds_by_suite"][suite] = sub["seconds"]
        for name, verdict in sub["cases"].items():
            res["cases"][prefix + name] = verdict
            res["diagnostics"][prefix + name] = sub["diagnostics"][name]
        for name, p in sub["params"].items():
            res["params"][prefix + name] = p
        if sub["seconds"] is not None and res["seconds"] is not None:
            res["seconds"] = round(res["seconds"] + sub["seconds"], 3)
    res["explore"] = explored(
        [line for n, lines in res["diagnostics"].items()
         if n.startswith(EXPLORE_PREFIX) for line in lines])
    return res


def cases_passed(cases):
    """Did every case pass (skips allowed in amd_ibs_dis only)?"""
    return bool(cases) and all(
        v == "pass" or (v == "skip" and n.startswith(DIS_PREFIX))
        for n, v in cases.items())


def run_passed(res):
    """Did every suite that ran end well and every case that ran pass?"""
    return (res["suite"] == "pass" and
            res.get("suite_dis") in (None, "pass", "skip") and
            res.get("suite_explore") in (None, "pass") and
            cases_passed(res["cases"]))


# --- one run and the red/green verdict -----------------------------------------

VARIANTS = ("unfixed", "shipped", "fixed", "all-fixes", "as-is")


def prepare(t, variant, log):
    """Worktree of @t with the suite and the fix state @variant.

    variant: "unfixed" (1b044ff3c17e removed if the tree carries it and
    that is allowed), "shipped" (1b044ff3c17e applied with git am of the
    backport if the tree lacks it, nothing else), "fixed" (as "shipped",
    and on a tree with IBS_CAPS_DIS also fix/caps-dis.patch if the tree
    lacks it), "all-fixes" (as "fixed", and fix/stop-nmi.patch if the tree
    lacks it), "as-is" (nothing but the suite).  Returns (worktree, action,
    fix_in_tree, info) where info says {"caps_dis": the tree knows
    IBS_CAPS_DIS, "dis_fix_in_tree": perf_ibs_start() has the DIS fix,
    "stop_fix_in_tree"/"stop_fix": perf_ibs_handle_irq() has the
    IBS_STOPPING check before/after the variant's patches}."""
    if variant not in VARIANTS:
        raise Error(f"unknown variant {variant}")
    wt = worktree(t)
    install_suite(wt, t.series)
    fixed_before = has_fix(wt)
    info = {"caps_dis": has_caps_dis(wt), "dis_fix_in_tree": has_dis_fix(wt)}
    actions = []
    if variant == "unfixed" and fixed_before:
        if not t.allow_revert:
            raise Error(f"{t.label} already carries the fix (perf_ibs_start() "
                        "clears the CTL before IBS_STARTED); pass --revert-fix "
                        "to run it unfixed with the fix reverted")
        if info["dis_fix_in_tree"]:
            raise Error(f"{t.label} carries fix/caps-dis.patch too; an "
                        "unfixed run of it is not supported")
        revert_fix(wt, log)
        actions.append("git apply -R fix/upstream.patch")
    elif variant in ("shipped", "fixed", "all-fixes") and not fixed_before:
        apply_fix(wt, t.series, log)
        actions.append(f"git am backports/{t.series}/")
    fixed = variant in ("fixed", "all-fixes")
    if fixed and info["caps_dis"] and not info["dis_fix_in_tree"]:
        apply_dis_fix(wt, log)
        actions.append("git am fix/caps-dis.patch")
    info["stop_fix_in_tree"] = has_stop_fix(wt)
    if variant == "all-fixes" and not info["stop_fix_in_tree"]:
        git_am(wt, [STOP_FIX], log, "fix/stop-nmi.patch")
        actions.append("git am fix/stop-nmi.patch")
    info["stop_fix"] = has_stop_fix(wt)
    action = " + ".join(actions) or "none"
    if variant != "as-is" and has_fix(wt) != (variant != "unfixed"):
        raise Error(f"{t.label}: perf_ibs_start() is not {variant} after "
                    f"'{action}'")
    if variant == "all-fixes" and not info["stop_fix"]:
        raise Error(f"{t.label}: perf_ibs_handle_irq() lacks the "
                    f"IBS_STOPPING check after '{action}'")
    if fixed and info["caps_dis"] and not has_dis_fix(wt):
        raise Error(f"{t.label}: perf_ibs_start() lacks the IBS_CAPS_DIS "
                    f"fix after '{action}'")
    return wt, action, fixed_before, info


def kunit_run(t, variant, log_dir=None):
    """Build and boot @t in state @variant (see prepare()); a result dict."""
    log_dir = log_dir or os.path.join(cache_dir(), "logs")
    os.makedirs(log_dir, exist_ok=True)
    log = os.path.join(log_dir, f"{t.label}-{variant}.log")
    open(log, "w").close()
    wt, action, fixed_before, info = prepare(t, variant, log)
    bdir = build_dir(t)
    progress(f"{t.label} [{variant}]: building (log: {log})")
    build_s = build(wt, bdir, log, t.extra_kconfig)
    progress(f"{t.label} [{variant}]: built in {build_s:.0f}s, booting QEMU")
    out, run_s = boot(bdir, log)
    warnings = w1_warnings(wt, bdir, log)
    res = parse_run(out)
    if res["suite"] is None:
        raise Error(f"{t.label} [{variant}]: no {SUITE} result in the QEMU "
                    f"output (log: {log})")
    failed = sorted(n for n, v in res["cases"].items() if v == "fail")
    progress(f"{t.label} [{variant}]: {len(res['cases']) - len(failed)} "
             f"passed, {len(failed)} failed in {run_s:.1f}s")
    return {"tree": t.as_dict(), "variant": variant, "action": action,
            "fix_in_tree": fixed_before, "cases": res["cases"],
            "caps_dis": info["caps_dis"],
            "dis_fix_in_tree": info["dis_fix_in_tree"],
            "dis_suite_built": dis_suite_built(t.series),
            "stop_fix": info["stop_fix"],
            "stop_fix_in_tree": info["stop_fix_in_tree"],
            "params": res["params"], "explore": res["explore"],
            "seconds_by_suite": res["seconds_by_suite"],
            "failed": failed, "diagnostics": res["diagnostics"],
            "w1_warnings": warnings, "suite_seconds": res["seconds"],
            "build_seconds": round(build_s, 1), "run_seconds": round(run_s, 1),
            "log": log}


@functools.lru_cache(maxsize=None)
def suite_cases(series=None):
    """What the suite as built for @series (the source as in kunit/ when
    None; read once per process) runs: {suite name: [case names]}, and {case name: finding} for
    its window cases.  A case belongs to a finding when its function, or an
    ibs_kunit_*() helper it calls, prints a message that starts with that
    finding's CASE_DIAG_PREFIX ("race: ", "stop-race: ")."""
    src = suite_source(series) if series else open(SUITE_FILE).read()
    fns = {n: t for n, t in c_chunks(src) if n}
    arrays = {}
    for m in re.finditer(r"static struct kunit_case (\w+)\[\] = \{(.*?)\n\};",
                         src, re.S):
        arrays[m.group(1)] = re.findall(r"KUNIT_CASE(?:_PARAM)?\((\w+)",
                                        m.group(2))
    suites = {}
    for m in re.finditer(r"static struct kunit_suite \w+ = \{(.*?)\n\};",
                         src, re.S):
        name = re.search(r'\.name\s*=\s*"(\w+)"', m.group(1)).group(1)
        arr = re.search(r"\.test_cases\s*=\s*(\w+)", m.group(1)).group(1)
        suites[name] = list(dict.fromkeys(arrays.get(arr, [])))
    findings = {}
    for case in {c for cs in suites.values() for c in cs}:
        body = fns.get(case, "")
        texts = [body] + [fns.get(h, "") for h in
                          re.findall(r"\b(ibs_kunit_\w+)\(", body)]
        for finding, prefix in CASE_DIAG_PREFIX.items():
            if any(f'"{prefix}' in t for t in texts):
                findings[case] = finding
    return suites, findings


def red_with(run, name, finding):
    """@name failed, with a diagnostic of @finding (its window cases print
    CASE_DIAG_PREFIX[finding] first)."""
    return run["cases"].get(name) == "fail" and any(
        line.startswith(CASE_DIAG_PREFIX[finding])
        for line in run["diagnostics"].get(name, []))


def finding_present(finding, run, dis):
    """Is @finding in the code @run ran, for the IBS_CAPS_DIS set-up when
    @dis (the amd_ibs_dis suite, the exploration's DIS capability sets)?"""
    if finding == "race":
        if run["variant"] == "unfixed":
            return True
        return dis and run["caps_dis"] and run["variant"] == "shipped"
    return not run.get("stop_fix")


_ALL_EXPLORED = re.compile(r"all (\d+) parameters explored")


def explore_checks(variant, r):
    """The exploration of one run: every parameter (capability set, PMU,
    the other PMU running or not) ran to its end, and violates exactly the
    invariants of the findings present there - at least one of each, none
    other; KUnit's verdicts agree.  Where KUnit has parameterised cases the
    parameters are KUnit's; in the 5.10 loop the loop's own count."""
    case = EXPLORE_PREFIX + "ibs_test_explore"
    ex = r.get("explore") or {"params": {}, "violations": {}}
    ktap = r.get("params", {}).get(case)
    if ktap:
        complete = set(ktap) == set(ex["params"])
    else:
        m = [int(x.group(1)) for line in r["diagnostics"].get(case, [])
             if (x := _ALL_EXPLORED.search(line))]
        complete = m == [len(ex["params"])]
    checks = [(f"{variant} {SUITE_EXPLORE}: every parameter explored "
               f"({len(ex['params'])})", bool(ex["params"]) and complete)]
    red_any = False
    for desc in sorted(ex["params"]):
        dis = desc.split(",")[0][len("caps "):] in DIS_CAPSETS
        present = [f for f in FINDING_INVARIANTS
                   if finding_present(f, r, dis)]
        red_any = red_any or bool(present)
        got = set(ex["violations"].get(desc, []))
        allowed = set().union(*(FINDING_INVARIANTS[f] for f in present))
        ok = got <= allowed and all(got & FINDING_INVARIANTS[f]
                                    for f in present)
        if ktap:
            ok = ok and ktap.get(desc) == ("fail" if present else "pass")
        want = " + ".join(present) or "nothing"
        checks.append((f"{variant} explore {desc}: finds {want} "
                       f"(got {', '.join(sorted(got)) or 'none'})", ok))
    checks.append((f"{variant} {case} "
                   f"{'fails' if red_any else 'passes'}",
                   r["cases"].get(case) == ("fail" if red_any else "pass")))
    return checks


def expectations(runs, series=None):
    """(name, ok) pairs: what the runs of verify() must show, case by case.

    The window cases of a finding (suite_cases()) fail with its diagnostic
    where the finding is in the code, and pass where it is not; every other
    case passes.  "race" (1b044ff3c17e) is in the unfixed run, and with
    IBS_CAPS_DIS also in the run as shipped (fix/caps-dis.patch); "stop"
    (fix/stop-nmi.patch) is everywhere but in the all-fixes run.  On a tree
    without IBS_CAPS_DIS every amd_ibs_dis case is skipped, and on one
    whose KUnit cannot skip (5.10) the suite is not built at all.  The
    exploration: explore_checks()."""
    suites, findings = suite_cases(series)
    checks = [("suite builds without W=1 warnings",
               not any(r.get("w1_warnings") for r in runs.values()))]
    any_run = next(iter(runs.values()))
    for variant, r in runs.items():
        for suite, prefix, dis in ((SUITE, "", False),
                                   (SUITE_DIS, DIS_PREFIX, True)):
            names = [prefix + c for c in suites.get(suite, [])]
            if dis and not any_run["dis_suite_built"]:
                checks.append((f"{variant}: {SUITE_DIS} not built (no "
                               "kunit_skip() in this KUnit)",
                               not any(n.startswith(DIS_PREFIX)
                                       for n in r["cases"])))
                continue
            for name in names:
                finding = findings.get(name[len(prefix):])
                if dis and not r["caps_dis"]:
                    checks.append((f"{variant} {name} is skipped",
                                   r["cases"].get(name) == "skip"))
                elif finding and finding_present(finding, r, dis):
                    checks.append((f"{variant} {name} fails with the "
                                   f"{finding} diagnostic",
                                   red_with(r, name, finding)))
                else:
                    checks.append((f"{variant} {name} passes",
                                   r["cases"].get(name) == "pass"))
        checks += explore_checks(variant, r)
    return checks


def verify(t, log_dir=None):
    """Every fix state of @t: unfixed, as shipped (on a tree that knows
    IBS_CAPS_DIS and lacks its fix), fixed (1b044ff3c17e, and
    fix/caps-dis.patch where it applies) and all-fixes (fixed and
    fix/stop-nmi.patch); the record of all runs."""
    runs = {"unfixed": kunit_run(t, "unfixed", log_dir)}
    if runs["unfixed"]["caps_dis"] and not runs["unfixed"]["dis_fix_in_tree"]:
        runs["shipped"] = kunit_run(t, "shipped", log_dir)
    runs["fixed"] = kunit_run(t, "fixed", log_dir)
    runs["all-fixes"] = kunit_run(t, "all-fixes", log_dir)
    checks = expectations(runs, t.series)
    rec = {"tree": t.as_dict(), "checks": [{"check": n, "ok": ok}
                                           for n, ok in checks],
           "verdict": "red->green" if all(ok for _, ok in checks)
           else "NOT red->green"}
    rec.update(runs)
    return rec


def finding_cases(finding, series=None):
    """The amd_ibs cases of @finding ("race": 1b044ff3c17e, "stop": the NMI
    inside perf_ibs_stop()), from the source."""
    suites, findings = suite_cases(series)
    return [c for c in suites.get(SUITE, []) if findings.get(c) == finding]


def file_hash(path):
    return run(["git", "hash-object", path]).strip()


def series_record(rec, origin=None):
    """The machine-readable result of one verify, for backports/<series>/."""
    red, green, allf = rec["unfixed"], rec["fixed"], rec["all-fixes"]
    series = rec["tree"]["series"]
    rc, sc = finding_cases("race", series), finding_cases("stop", series)
    return {
        "_generated": generated_note("scripts/verify --record",
                                     "a red -> green run"),
        "series": series,
        "tree": dict(rec["tree"], origin=origin or rec["tree"]["origin"]),
        "backport": fix_hashes(series, False),
        "suite": file_hash(SUITE_FILE),
        "fix_in_tree": red["fix_in_tree"],
        "applies": green["action"].startswith("git am") or
        red["fix_in_tree"],
        "apply_action": green["action"] if not red["fix_in_tree"]
        else red["action"],
        "w1_warnings": red.get("w1_warnings", []) +
        green.get("w1_warnings", []),
        "race_cases": rc,
        "unfixed_failed": red["failed"],
        "race_red": all(red_with(red, n, "race") for n in rc),
        "fixed_failed": green["failed"],
        "stop_cases": sc,
        "stop_red_fixed": all(red_with(green, n, "stop") for n in sc),
        "all_fixes_failed": allf["failed"],
        "all_green": bool(allf["cases"]) and not allf["failed"],
        "cases": len(allf["cases"]),
        "skipped": count(allf, allf["cases"], "skip"),
        "explore": explore_summary(rec),
        "suite_seconds": {v: rec[v].get("suite_seconds")
                          for v in VERIFY_RUNS if v in rec},
        "seconds": {f"{k}_{v}": rec[v][f"{k}_seconds"]
                    for v in VERIFY_RUNS if v in rec
                    for k in ("build", "run")},
        "date": time.strftime("%Y-%m-%d"),
        "verdict": rec["verdict"],
    }


VERIFY_RUNS = ("unfixed", "shipped", "fixed", "all-fixes")


def explore_summary(rec):
    """Per run of a verify: the tuples the exploration explored, its suite
    seconds, and the invariants it found violated, per parameter."""
    out = {}
    for v in VERIFY_RUNS:
        if v not in rec:
            continue
        ex = rec[v].get("explore") or {}
        out[v] = {"tuples": ex.get("tuples"),
                  "sequences": ex.get("sequences"),
                  "seconds": (rec[v].get("seconds_by_suite") or {}).get(
                      SUITE_EXPLORE),
                  "violations": ex.get("violations", {})}
    return out


def write_json(path, data):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")


def count(run, names, verdict):
    return sum(1 for n in names if run["cases"].get(n) == verdict)


def summary_table(records):
    """A short text table of verify records."""
    rows = [("tree", "unfixed: race cases red", "shipped: DIS race cases red",
             "fixed: stop cases red", "all fixes", "tuples", "build s",
             "run s", "verdict")]
    for r in records:
        series = r["tree"]["series"]
        rc, sc = finding_cases("race", series), finding_cases("stop", series)
        drc = [DIS_PREFIX + n for n in rc]
        red, green, allf = r["unfixed"], r["fixed"], r["all-fixes"]
        shipped = r.get("shipped")
        nskip = count(allf, allf["cases"], "skip")
        runs = [r[v] for v in VERIFY_RUNS if v in r]
        rows.append((
            r["tree"]["label"],
            f"{count(red, rc, 'fail')}/{len(rc)}" +
            (f" + {count(red, drc, 'fail')}/{len(drc)} DIS"
             if red["caps_dis"] else ""),
            f"{count(shipped, drc, 'fail')}/{len(drc)}"
            if shipped else "-",
            f"{count(green, sc, 'fail')}/{len(sc)}",
            f"{count(allf, allf['cases'], 'pass')}/{len(allf['cases'])} "
            "pass" + (f", {nskip} skipped" if nskip else ""),
            str((allf.get("explore") or {}).get("tuples")),
            "+".join(f"{x['build_seconds']:.0f}" for x in runs),
            "+".join(f"{x['run_seconds']:.1f}" for x in runs),
            r["verdict"]))
    return text_table([list(x) for x in rows])


def mainline_record(rec):
    """The machine-readable result of one verify of a tree that carries
    1b044ff3c17e (7.2, 7.3), for results/mainline/<label>.json."""
    runs = {v: rec[v] for v in VERIFY_RUNS if v in rec}
    series = rec["tree"]["series"]
    rc, sc = finding_cases("race", series), finding_cases("stop", series)
    return {
        "_generated": generated_note("scripts/verify --record",
                                     "a run of the suite in every fix state"),
        "tree": rec["tree"],
        "suite": file_hash(SUITE_FILE),
        "fix": fix_hashes(rec["tree"]["series"], True,
                          rec["fixed"]["caps_dis"] and
                          not rec["fixed"]["dis_fix_in_tree"]),
        "caps_dis": rec["fixed"]["caps_dis"],
        "race_cases": rc,
        "stop_cases": sc,
        "explore": explore_summary(rec),
        "runs": {v: {"action": r["action"], "failed": r["failed"],
                     "cases": len(r["cases"]),
                     "skipped": count(r, r["cases"], "skip"),
                     "build_seconds": r["build_seconds"],
                     "run_seconds": r["run_seconds"],
                     "suite_seconds": r.get("suite_seconds")}
                 for v, r in runs.items()},
        "race_red_unfixed": all(red_with(rec["unfixed"], n, "race")
                                for n in rc),
        "dis_race_red_shipped": "shipped" in rec and all(
            red_with(rec["shipped"], DIS_PREFIX + n, "race") for n in rc),
        "stop_red_fixed": all(red_with(rec["fixed"], n, "stop") for n in sc),
        "all_green_all_fixes": cases_passed(rec["all-fixes"]["cases"]),
        "w1_warnings": [w for r in runs.values()
                        for w in r.get("w1_warnings", [])],
        "date": time.strftime("%Y-%m-%d"),
        "verdict": rec["verdict"],
    }


# --- records and the generated results page -----------------------------------

RESULTS_PAGE = os.path.join(TOP, "Documentation", "backport-results.md")
MUTATION_DIR = os.path.join(TOP, "results", "mutation")
SUITE_FILE = os.path.join(KUNIT_DIR, "ibs_kunit.c")
BACKPORT_COLS = ["series", "tree version", "tree from", "extra Kconfig",
                 "applies", "W=1 warnings", "race cases red w/o fix",
                 "race cases green with fix", "stop cases red with fix",
                 "all green with fix/stop-nmi.patch too", "build s",
                 "run s", "suite s"]


def generated_note(command, sources):
    """The words every generated file starts with."""
    return (f"Generated by {command} from {sources}; do not edit by hand "
            f"(rerun {command.split()[0]}).")


def _yn(v):
    return "yes" if v else "NO"


def short_origin(origin):
    return re.sub(r"@([0-9a-f]{12})[0-9a-f]+$", r"@\1", origin)


def _runs_in(r):
    return [v for v in VERIFY_RUNS if f"build_{v}" in r["seconds"]]


def backport_rows():
    """One row of BACKPORT_COLS per stable series, from its verified.json.
    The runs: unfixed, fixed (the backport of 1b044ff3c17e) and all-fixes
    (fixed and fix/stop-nmi.patch)."""
    rows = []
    for series in STABLE_SERIES:
        path = os.path.join(BACKPORTS_DIR, series, "verified.json")
        if not os.path.exists(path):
            rows.append([series, "not run"] + [""] * (len(BACKPORT_COLS) - 2))
            continue
        r = json.load(open(path))
        sec = r["seconds"]
        runs = _runs_in(r)
        red = len([n for n in r["race_cases"] if n in r["unfixed_failed"]])
        race_fixed = [n for n in r["fixed_failed"] if n in r["race_cases"]]
        stop = len([n for n in r["stop_cases"] if n in r["fixed_failed"]])
        w1 = r.get("w1_warnings")
        suite = r.get("suite_seconds") or {}
        rows.append([
            series, r["tree"]["version"], short_origin(r["tree"]["origin"]),
            " ".join(r["tree"].get("extra_kconfig", [])) or "-",
            _yn(r["applies"]),
            "not checked" if w1 is None else str(len(w1)),
            f"{_yn(r['race_red'])} ({red}/{len(r['race_cases'])})",
            _yn(not race_fixed),
            f"{_yn(r['stop_red_fixed'])} ({stop}/{len(r['stop_cases'])})",
            f"{_yn(r['all_green'])} ({r['cases'] - len(r['all_fixes_failed']) - r.get('skipped', 0)}/"
            f"{r['cases']}" + (f", {r['skipped']} skipped" if r.get("skipped")
                               else "") + ")",
            "+".join(f"{sec['build_' + v]:.0f}" for v in runs),
            "+".join(f"{sec['run_' + v]:.1f}" for v in runs),
            "+".join("-" if suite.get(k) is None else f"{suite[k]:.2f}"
                     for k in runs)])
    return rows


def all_verify_records():
    """(label, record) of every verify record: backports/*/verified.json
    and results/mainline/*.json, oldest series first."""
    out = []
    for series in STABLE_SERIES:
        path = os.path.join(BACKPORTS_DIR, series, "verified.json")
        if os.path.exists(path):
            out.append((series, json.load(open(path))))
    for r in mainline_records():
        out.append((r["tree"]["series"], r))
    return out


def explore_rows():
    """Per tree: what the exploration explored and found in each run."""
    rows = [["series", "tree", "tuples (all fixes)", "explore suite s",
             "unfixed", "fixed", "all fixes"]]
    for series, r in all_verify_records():
        ex = r.get("explore") or {}

        def found(v):
            viol = (ex.get(v) or {}).get("violations")
            if viol is None:
                return "-"
            invs = sorted({i for x in viol.values() for i in x})
            return (f"{len(viol)} params: {', '.join(invs)}" if viol
                    else "nothing")
        allf = ex.get("all-fixes") or {}
        rows.append([series, r["tree"]["version"], str(allf.get("tuples")),
                     "-" if allf.get("seconds") is None
                     else f"{allf['seconds']:.2f}",
                     found("unfixed"), found("fixed"), found("all-fixes")])
    return rows


def stop_rows():
    """Per tree: the stop-window cases red with 1b044ff3c17e (and
    fix/caps-dis.patch), green with fix/stop-nmi.patch too."""
    rows = [["series", "tree", "stop cases red (fixed)",
             "green with fix/stop-nmi.patch"]]
    for series, r in all_verify_records():
        rows.append([series, r["tree"]["version"],
                     _yn(r.get("stop_red_fixed")),
                     _yn(r.get("all_green") or
                         r.get("all_green_all_fixes"))])
    return rows


def records_in(d):
    """The JSON records in directory @d, oldest series first."""
    if not os.path.isdir(d):
        return []
    recs = [json.load(open(os.path.join(d, n)))
            for n in sorted(os.listdir(d)) if n.endswith(".json")]
    return sorted(recs, key=lambda r: series_key(r["tree"]["series"]))


def mutation_records():
    return records_in(MUTATION_DIR)


def _mutant_cell(m):
    if m["verdict"] == "killed":
        return "killed by " + ", ".join(m["killers"][:2]) + \
            (" ..." if len(m["killers"]) > 2 else "")
    if m["verdict"] == "passes":
        return f"passes ({m['cases']} cases)"
    return m["verdict"]


def mutation_rows():
    recs = mutation_records()
    if not recs:
        return []
    names = [m["mutant"] for m in recs[0]["mutants"]]
    rows = [["tree", "from"] + names]
    for r in recs:
        by = {m["mutant"]: m for m in r["mutants"]}
        rows.append([r["tree"]["version"], short_origin(r["tree"]["origin"])] +
                    [_mutant_cell(by[n]) if n in by else "-" for n in names])
    return rows


def md_table(rows):
    return ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])] + \
        ["| " + " | ".join(r) + " |" for r in rows[1:]]


def text_table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in rows)


def results_markdown():
    """Documentation/backport-results.md as the records give it."""
    md = ["<!-- " + generated_note(
        "scripts/report", "backports/*/verified.json, "
        "results/mainline/*.json and results/mutation/*.json") + " -->", "",
          "# Backport results", "",
          "Each record is written by `scripts/verify --record` after a real run",
          "(build s, run s and suite s: per run - unfixed, [shipped,] fixed,",
          "all fixes; build s is",
          "that run's build, incremental where the build directory existed; run s is",
          "QEMU wall time under TCG, boot included; suite s is the suite's own",
          "time from the printk timestamps, - where the run predates that",
          "measurement; W=1 warnings counts the warnings in the suite's own",
          "source).", ""]
    md += md_table([BACKPORT_COLS] + backport_rows())
    ml = mainline_rows()
    if len(ml) > 1:
        md += ["", "## Mainline trees: 1b044ff3c17e on IBS_CAPS_DIS hardware",
               "",
               "From `results/mainline/<tree>.json` (written by",
               "`scripts/verify --record` on a tree that carries 1b044ff3c17e):",
               "unfixed = 1b044ff3c17e reverted; as shipped = the tree as it is;",
               "with fix/caps-dis.patch = as shipped plus our fix. The",
               "amd_ibs_dis suite runs every case on IBS_CAPS_DIS hardware;",
               "see Documentation/findings.md.", ""]
        md += md_table(ml)
    md += ["", "## The exploration (amd_ibs_explore)", "",
           "From the same records: tuples = (sequence, injection point, NMI",
           "content) runs of the all-fixes run, summed over the parameters",
           "(capability set x PMU x other PMU running); explore suite s from",
           "the printk timestamps; per run, how many parameters reported a",
           "violation and which invariants. See Documentation/invariants.md",
           "and Documentation/findings.md.", ""]
    md += md_table(explore_rows())
    md += ["", "## The NMI inside perf_ibs_stop() (fix/stop-nmi.patch)", "",
           "stop cases red (fixed) = ibs_test_{op,fetch}_sample_nmi_in_stop",
           "fail with the stop-race diagnostic with 1b044ff3c17e (and",
           "fix/caps-dis.patch) applied; green = every case passes with",
           "fix/stop-nmi.patch too.", ""]
    md += md_table(stop_rows())
    mut = mutation_rows()
    if mut:
        md += ["", "## Mutation check", "",
               "From `results/mutation/<tree>.json` (written by",
               "`scripts/mutate --record`): the suite on the tree with every",
               "fix, then on each hand-made mutant of its `ibs.c`. killed = a",
               "case expected to catch the mutant failed with its finding's",
               "diagnostic, or the exploration reported an expected invariant",
               "(the killers are named); n/a = the mutant's target is not in",
               "this tree.", ""]
        md += md_table(mut)
    return "\n".join(md) + "\n"


def refresh_command(tree, verb):
    """The command that rewrites a record of @tree (a record's "tree")."""
    if tree["origin"] == "registry":
        return f"scripts/{verb} --series {tree['series']} --record"
    m = re.match(r"github:([^@]+)@([0-9a-f]+)$", tree["origin"])
    where = f"--tree <a clone of {m.group(1)}> --ref {m.group(2)}" if m \
        else f"--tree {tree['origin']} --ref {tree['commit']}"
    kc = "".join(f" --kconfig {k}" for k in tree.get("extra_kconfig", []))
    origin = f" --origin {tree['origin']}" if verb == "verify" else ""
    return f"scripts/{verb} {where}{kc} --record{origin}"


def fix_hashes(series, fix_in_tree, dis_fix=False, stop_fix=True):
    """What a record says the fix was: the hashes of the backport's patch
    files (none for a tree that carries 1b044ff3c17e itself), of
    fix/caps-dis.patch where the run applied it, and of fix/stop-nmi.patch
    (the all-fixes run)."""
    out = {} if fix_in_tree else {os.path.basename(p): file_hash(p)
                                  for p in backport_patches(series)}
    if dis_fix:
        out[os.path.basename(DIS_FIX)] = file_hash(DIS_FIX)
    if stop_fix:
        out[os.path.basename(STOP_FIX)] = file_hash(STOP_FIX)
    return out


def record_problems():
    """(record, problem, refresh command) for every record that no longer
    matches the files it ran with."""
    suite = file_hash(SUITE_FILE)
    out = []
    for series in STABLE_SERIES:
        path = os.path.join(BACKPORTS_DIR, series, "verified.json")
        if not os.path.exists(path):
            continue
        r = json.load(open(path))
        rel = os.path.relpath(path, TOP)
        cmd = refresh_command(r["tree"], "verify")
        if r.get("suite") != suite:
            out.append((rel, "ran with another kunit/ibs_kunit.c", cmd))
        if r.get("backport") != fix_hashes(series, False):
            out.append((rel, f"ran with another backports/{series}/", cmd))
    for r in mutation_records():
        rel = os.path.join("results", "mutation", r["tree"]["label"] + ".json")
        cmd = refresh_command(r["tree"], "mutate")
        if r.get("suite") != suite:
            out.append((rel, "ran with another kunit/ibs_kunit.c", cmd))
        if r.get("fix") != fix_hashes(r["tree"]["series"],
                                      r.get("fix_in_tree", False),
                                      r.get("dis_fix_applied", False)):
            out.append((rel, "ran with another fix (or records none)", cmd))
    for r in mainline_records():
        rel = os.path.join("results", "mainline", r["tree"]["label"] + ".json")
        cmd = refresh_command(r["tree"], "verify")
        if r.get("suite") != suite:
            out.append((rel, "ran with another kunit/ibs_kunit.c", cmd))
        applied = "caps-dis.patch" in r.get("fix", {})
        if r.get("fix") != fix_hashes(r["tree"]["series"], True, applied):
            out.append((rel, "ran with another fix/caps-dis.patch", cmd))
    return out


MAINLINE_RESULTS = os.path.join(TOP, "results", "mainline")


def mainline_records():
    return records_in(MAINLINE_RESULTS)


def mainline_rows():
    """One row per mainline record: the race, the IBS_CAPS_DIS and the
    stop-window verdicts."""
    rows = [["tree", "tree from", "caps_dis", "unfixed: race cases red",
             "as shipped: DIS race cases red",
             "with fix/caps-dis.patch: race cases green, stop cases red",
             "with fix/stop-nmi.patch too", "verdict"]]
    for r in mainline_records():
        runs = r["runs"]
        n = len(r["race_cases"])
        sh = runs.get("shipped")
        fx, allf = runs["fixed"], runs["all-fixes"]
        race_fx = [x for x in fx["failed"]
                   if x.split(".")[-1] in r["race_cases"]]
        rows.append([
            r["tree"]["version"], short_origin(r["tree"]["origin"]),
            _yn(r["caps_dis"]),
            f"{_yn(r['race_red_unfixed'])}",
            (f"{_yn(r['dis_race_red_shipped'])} "
             f"({len([x for x in sh['failed'] if x.startswith(DIS_PREFIX) and x[len(DIS_PREFIX):] in r['race_cases']])}"
             f"/{n}; {len(sh['failed'])} failed of {sh['cases']})")
            if sh else "-",
            f"{_yn(not race_fx)}, {_yn(r['stop_red_fixed'])}",
            f"{_yn(r['all_green_all_fixes'])} ({allf['cases'] - len(allf['failed']) - allf['skipped']}"
            f"/{allf['cases']} pass)",
            r["verdict"]])
    return rows


def add_tree_args(ap, series_help="stable series, e.g. 6.1"):
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


def check_kconfig(lines):
    """--kconfig values: whole CONFIG_ lines, nothing else."""
    lines = lines or []
    for line in lines:
        if not re.fullmatch(r"CONFIG_\w+=(y|n|m|\d+|\"[^\"]*\")", line):
            raise Error(f"--kconfig {line}: not a CONFIG_X=value line")
    return lines


def tree_from_args(args, default_series=None):
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


# --- backports ----------------------------------------------------------------

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


def upstream_message():
    """(author, subject, body) of fix/upstream.patch."""
    text = open(UPSTREAM_FIX).read()
    head, rest = text.split("\n\n", 1)
    author = re.search(r"^From: (.*)$", head, re.M).group(1)
    subject = re.search(r"^Subject: (?:\[PATCH\] )?(.*)$", head, re.M).group(1)
    body = rest.split("\n---\n", 1)[0].rstrip("\n") + "\n"
    return author, subject, body


STABLE_HEADER = f"commit {UPSTREAM_SHA} upstream."


def message_span(text):
    """The upstream part of a patch's message: from the first line of the
    body (after the stable header line and its blank line, if any) down to
    and including the Link: trailer.  Returns (start, end) offsets."""
    head_end = text.index("\n\n") + 2
    start = head_end
    if text.startswith(STABLE_HEADER + "\n\n", start):
        start += len(STABLE_HEADER) + 2
    m = re.compile(r"^Link: .*\n", re.M).search(text, start)
    if not m:
        raise Error("no Link: trailer in the patch's message")
    return start, m.end()


def message_problems(path):
    """Why the backport @path does not carry the upstream message byte for
    byte behind 'commit <sha> upstream.' and a blank line ([] if it does)."""
    text = open(path).read()
    up = open(UPSTREAM_FIX).read()
    a, b = message_span(up)
    problems = []
    head_end = text.index("\n\n") + 2
    if not text.startswith(STABLE_HEADER + "\n\n", head_end):
        problems.append(f"the body does not start with '{STABLE_HEADER}' "
                        "and a blank line")
    try:
        c, d = message_span(text)
    except Error as e:
        return problems + [str(e)]
    if text[c:d] != up[a:b]:
        mine, theirs = text[c:d].splitlines(), up[a:b].splitlines()
        for n, (x, y) in enumerate(zip(mine + [None] * len(theirs),
                                       theirs + [None] * len(mine))):
            if x != y:
                problems.append(f"message line {n + 1} differs from "
                                f"fix/upstream.patch: {x!r} != {y!r}")
                break
    return problems


def rewrite_backport_message(path):
    """Put the upstream message into the backport @path, keeping its
    header, stable line, notes after the trailers and diff.  Returns True
    if the file changed."""
    text = open(path).read()
    up = open(UPSTREAM_FIX).read()
    a, b = message_span(up)
    c, d = message_span(text)
    new = text[:c] + up[a:b] + text[d:]
    if new != text:
        with open(path, "w") as f:
            f.write(new)
    return new != text


def series_file_text(names):
    """A stable-queue 'series' file (quilt: '#' starts a comment)."""
    return ("# " + generated_note("scripts/gen-backports",
                                  "fix/upstream.patch") + "\n" +
            "".join(n + "\n" for n in names))


def backport_name(subject):
    return re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-") + ".patch"


def generate_backport(t, check=False):
    """Write (or compare) backports/<series>/ for tree @t; True if changed."""
    wt = worktree(t)
    log = os.path.join(cache_dir(), "logs", f"{t.label}-gen-backport.log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    p = subprocess.run(["git", "apply", "--verbose", UPSTREAM_FIX], cwd=wt,
                       capture_output=True, text=True)
    with open(log, "w") as f:
        f.write(p.stdout + p.stderr)
    if p.returncode:
        raise Error(f"fix/upstream.patch does not apply to {t.label} as it "
                    f"is; a hand backport is needed (log: {log})")
    author, subject, body = upstream_message()
    note = os.path.join(BACKPORTS_DIR, "notes", t.series)
    msg = f"{subject}\n\ncommit {UPSTREAM_SHA} upstream.\n\n{body}"
    if os.path.exists(note):
        msg += open(note).read().strip() + "\n"
    env = git_env()
    env["GIT_AUTHOR_DATE"] = UPSTREAM_DATE
    env["GIT_COMMITTER_DATE"] = UPSTREAM_DATE
    git(["add", "-u", "arch/x86/events/amd/ibs.c"], cwd=wt)
    run(["git", "commit", "-q", f"--author={author}", "-F", "-"], cwd=wt,
        env=env, input=msg)
    name = backport_name(subject)
    patch = run(["git", "format-patch", "-1", "--stdout", "--zero-commit",
                 "--no-signature", f"--subject-prefix=PATCH {t.series}.y",
                 "HEAD"], cwd=wt)
    d = os.path.join(BACKPORTS_DIR, t.series)
    files = {name: patch, "series": series_file_text([name])}
    changed = any(not os.path.exists(os.path.join(d, n)) or
                  open(os.path.join(d, n)).read() != c
                  for n, c in files.items())
    if not check:
        os.makedirs(d, exist_ok=True)
        for n, c in files.items():
            with open(os.path.join(d, n), "w") as f:
                f.write(c)
    return changed


# --- the mainline series ----------------------------------------------------------

PATCHES_DIR = os.path.join(TOP, "patches")
# Our mainline series, in the order they apply (each on top of the ones
# before it): name -> (source directory, cover letter template, output
# directory).  A source directory holds one manifest file per patch.
MAINLINE_SERIES = {
    "kunit": (os.path.join(KUNIT_DIR, "mainline"),
              os.path.join(KUNIT_DIR, "cover"), PATCHES_DIR),
    "caps-dis": (os.path.join(KUNIT_DIR, "caps-dis"),
                 os.path.join(KUNIT_DIR, "caps-dis", "cover"),
                 os.path.join(PATCHES_DIR, "caps-dis")),
    "stop-nmi": (os.path.join(KUNIT_DIR, "stop-nmi"),
                 os.path.join(KUNIT_DIR, "stop-nmi", "cover"),
                 os.path.join(PATCHES_DIR, "stop-nmi")),
    "explore": (os.path.join(KUNIT_DIR, "explore"),
                os.path.join(KUNIT_DIR, "explore", "cover"),
                os.path.join(PATCHES_DIR, "explore")),
}


def c_chunks(src):
    """Split C source into top-level chunks at blank lines outside braces
    and comments; returns [(name or None, text)]."""
    chunks, cur = [], []
    depth, in_comment = 0, False
    for line in src.splitlines(keepends=True):
        if not line.strip() and depth == 0 and not in_comment and cur:
            chunks.append("".join(cur))
            cur = []
            continue
        cur.append(line)
        i = 0
        while i < len(line):
            two = line[i:i + 2]
            if in_comment:
                if two == "*/":
                    in_comment, i = False, i + 2
                    continue
            elif two == "/*":
                in_comment, i = True, i + 2
                continue
            elif two == "//":
                break
            elif line[i] in "\"'":
                q, i = line[i], i + 1
                while i < len(line) and line[i] != q:
                    i += 2 if line[i] == "\\" else 1
            elif line[i] == "{":
                depth += 1
            elif line[i] == "}":
                depth -= 1
            i += 1
    if cur:
        chunks.append("".join(cur))
    return [(chunk_name(c), c) for c in chunks]


def chunk_name(text):
    """The name a manifest gives a top-level piece: the function, variable,
    struct or enum it defines, the call it makes (kunit_test_suite(x);), or,
    for a piece of preprocessor lines only, the first macro it defines."""
    code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    m = re.search(r"^enum (\w+) \{", code, re.M)
    if m:
        return m.group(1)
    lines = [x for x in code.splitlines() if x.strip()]
    if lines and all(x.startswith(("#", " ", "\t")) for x in lines):
        m = re.search(r"^#define (\w+)", code, re.M)
        if m:
            return m.group(1)
    for line in code.splitlines():
        if not line or line[0] in " \t#}":
            continue
        m = re.fullmatch(r"(\w+\(\w+\));", line)
        if m:  # a macro invocation such as kunit_test_suite(suite);
            return m.group(1)
        m = (re.match(r"struct (\w+) \{", line) or
             re.match(r"(?:static\s+)?[\w\s\*]*?\b(\w+)\s*(?:\[\w*\])?\s*=",
                      line) or
             re.match(r"(?:static\s+)?[\w\s\*]*?\b(\w+)\s*\(", line))
        if m:
            return m.group(1)
    return None


def mainline_manifest():
    """Every patch of every mainline series, in the order they apply.

    A manifest file is a header ('Key: value' lines), a blank line and the
    commit message body.  Either it names a patch file of ours ('Patch:',
    committed with git am, its own message and author), or it adds pieces
    of ibs_kunit.c: 'Subject:', 'Chunks:' (top-level pieces, by name),
    'Files:' (the build files come with it) and 'Guard: SYMBOL' (the
    '#if SYMBOL' blocks inside earlier pieces, and the piece that defines
    SYMBOL, appear with this patch)."""
    patches = []
    for series, (src, cover, _) in MAINLINE_SERIES.items():
        for name in sorted(os.listdir(src)):
            path = os.path.join(src, name)
            if path == cover or name == "cover":
                continue
            text = open(path).read()
            head, _, body = text.partition("\n\n")
            fields = dict(line.split(": ", 1) for line in head.splitlines())
            patches.append({"series": series, "file": name,
                            "patch": fields.get("Patch"),
                            "subject": fields.get("Subject"),
                            "files": fields.get("Files", "").split(),
                            "chunks": fields.get("Chunks", "").split(),
                            "guard": fields.get("Guard"),
                            "body": body.strip() + "\n"})
    return patches


def strip_guard(text, guard):
    """@text without its '#if @guard' ... '#endif' blocks (not nested), and
    without the blank line before a block that ended its function."""
    out, skip = [], False
    for line in text.splitlines(keepends=True):
        if line.strip() == f"#if {guard}":
            skip = True
            continue
        if skip:
            skip = line.strip() != "#endif"
            continue
        if line.startswith("}") and out and not out[-1].strip():
            out.pop()
        out.append(line)
    return "".join(out)


def suite_stages():
    """ibs_kunit.c as it stands after each patch of the mainline series
    (None for a patch that does not change it)."""
    src = open(SUITE_FILE).read()
    chunks = c_chunks(src)
    manifest = mainline_manifest()
    owner, guards = {}, []
    for idx, p in enumerate(manifest):
        for c in p["chunks"]:
            if c != "*":
                owner[c] = idx
        if p["guard"]:
            guards.append((idx, p["guard"]))
    names = {n for n, _ in chunks}
    unknown = sorted(set(owner) - names)
    if unknown:
        raise Error("kunit/ manifests name chunks ibs_kunit.c does not have: "
                    + ", ".join(unknown))
    stages = []
    for k, p in enumerate(manifest):
        if p["patch"]:
            stages.append(None)
            continue
        keep = []
        for name, text in chunks:
            if owner.get(name, 0) > k:
                continue
            for g_idx, guard in guards:
                if g_idx > k:
                    if f"#define {guard}" in text:
                        text = ""
                    text = strip_guard(text, guard)
            if not text:
                continue
            lines = [line for line in text.splitlines(keepends=True)
                     if not (m := re.match(r"\s*KUNIT_CASE\((\w+)\),", line))
                     or owner.get(m.group(1), 0) <= k]
            keep.append("".join(lines))
        stages.append("\n".join(keep))
    last = [x for x in stages if x is not None]
    if last and last[-1] != src:
        raise Error("the last stage of the kunit/ manifests is not "
                    "ibs_kunit.c")
    return manifest, stages


def kunit_files_at(wt, stage_src, with_build_files):
    """Write the suite (one stage of it) into the worktree @wt."""
    amd = os.path.join(wt, "arch/x86/events/amd")
    with open(os.path.join(amd, "ibs_kunit.c"), "w") as f:
        f.write(stage_src)
    if not with_build_files:
        return
    install_build_files(wt)


def source_date():
    """A fixed date for generated commits: the last change of kunit/."""
    d = git(["log", "-1", "--format=%aI", "--", "kunit"], cwd=TOP, check=False)
    return d or "2026-01-01T00:00:00+00:00"


def commit_series(t, series="kunit", upto=None):
    """Commit the mainline series @series (or its first @upto patches), on
    top of the series before it, on a clean worktree of @t; returns
    (worktree, number of patches of @series committed)."""
    if series not in MAINLINE_SERIES:
        raise Error(f"unknown mainline series '{series}' (known: "
                    f"{', '.join(MAINLINE_SERIES)})")
    manifest, stages = suite_stages()
    order = list(MAINLINE_SERIES)
    wt = worktree(t)
    env = git_env()
    env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = source_date()
    env["GIT_AUTHOR_NAME"], env["GIT_AUTHOR_EMAIL"] = PLACEHOLDER
    n = 0
    for k, p in enumerate(manifest):
        if order.index(p["series"]) > order.index(series):
            break
        if p["series"] == series:
            if upto is not None and n == upto:
                break
            n += 1
        if p["patch"]:
            log = os.path.join(cache_dir(), "logs", f"{t.label}-series.log")
            os.makedirs(os.path.dirname(log), exist_ok=True)
            git_am(wt, [os.path.join(TOP, p["patch"])], log,
                   f"{p['patch']} (on {t.label} and the series before it)")
            continue
        kunit_files_at(wt, stages[k], with_build_files=bool(p["files"]))
        git(["add", "-f", "arch/x86/events"], cwd=wt)
        run(["git", "commit", "-q", "-F", "-"], cwd=wt, env=env,
            input=f"{p['subject']}\n\n{p['body']}")
    return wt, n


def series_patches(series):
    """The generated patch files of mainline series @series, in order."""
    out = MAINLINE_SERIES[series][2]
    return sorted(os.path.join(out, n) for n in os.listdir(out)
                  if n.endswith(".patch")) if os.path.isdir(out) else []


def sender():
    """(name, email) of git's configured identity: who sends and signs off."""
    name = git(["config", "user.name"], cwd=TOP, check=False)
    addr = git(["config", "user.email"], cwd=TOP, check=False)
    if not name or not addr:
        raise Error("git user.name/user.email are not set: the sender's "
                    "From: and Signed-off-by come from them")
    return name, addr


def sender_ident():
    """'Name <email>' of the sender, as in a Signed-off-by trailer."""
    return "%s <%s>" % sender()


def with_signoff(patch_text):
    """@patch_text with the sender's Signed-off-by added to its trailers."""
    return run(["git", "interpret-trailers", "--if-exists", "addIfDifferent",
                "--trailer", f"Signed-off-by: {sender_ident()}"],
               input=patch_text)


def as_sender(patch_text):
    """A patch of our own mainline series as its sender sends it: the
    placeholder author (PLACEHOLDER, see README) becomes the sender in the
    From: header and in the cover letter's shortlog."""
    name, addr = sender()
    ph_name, ph_email = PLACEHOLDER
    head, sep, body = patch_text.partition("\n\n")
    old = f"From: {ph_name} <{ph_email}>\n"
    if old not in head:
        raise Error(f"patch has no 'From: {ph_name} <{ph_email}>' header "
                    "(regenerate patches/ with scripts/gen-patches)")
    head = head.replace(old, "From: " + email.utils.formataddr(
        (name, addr)) + "\n", 1)
    body = re.sub(rf"^{re.escape(ph_name)} (\(\d+\):)$",
                  lambda m: f"{name} {m.group(1)}", body, flags=re.M)
    return head + sep + body


# --- mail ----------------------------------------------------------------------

STABLE_LIST = "stable@vger.kernel.org"

# git send-email's sendmail program for --outdir: each mail it is handed
# becomes one mbox file (mboxrd quoting) in the directory; nothing is sent.
MBOX_SINK = """#!/usr/bin/python3
import os, re, sys, time
outdir = %r
msg = sys.stdin.buffer.read().replace(b"\\r\\n", b"\\n")
if not msg.endswith(b"\\n"):
    msg += b"\\n"
msg = re.sub(rb"(?m)^(>*From )", rb">\\1", msg)
n = len([f for f in os.listdir(outdir) if f.endswith(".mbox")])
sender = "%s"
with open(os.path.join(outdir, "%%04d.mbox" %% n), "wb") as f:
    f.write(("From %%s %%s\\n" %% (sender, time.asctime(time.gmtime(0))))
            .encode() + msg + b"\\n")
"""


def trailer_people(text):
    """Addresses of the author and of the trailers of a patch."""
    people = re.findall(r"^From: (.+<[^>]+>)$", text, re.M)[:1]
    people += re.findall(r"^(?:Signed-off-by|Acked-by|Reviewed-by|"
                         r"Tested-by|Reported-by): (.+<[^>]+>)$", text, re.M)
    seen, out = set(), []
    for p in people:
        addr = re.search(r"<([^>]+)>", p).group(1).lower()
        if addr not in seen:
            seen.add(addr)
            out.append(p.strip())
    return out


def mainline_mails(series="kunit"):
    """The mails of mainline series @series (patches/, patches/caps-dis/)
    as the sender sends them: [(name, text)], To and Cc (get_maintainer.pl
    of the base tree)."""
    paths = series_patches(series)
    if not paths:
        raise Error(f"no patches of the {series} series (run "
                    "scripts/gen-patches)")
    names = [os.path.basename(p) for p in paths]
    wt = worktree(registry_tree(MAINLINE_BASE))
    real = [p for p in paths if not os.path.basename(p).startswith("0000-")]
    out = run(["perl", "scripts/get_maintainer.pl", "--no-rolestats",
               "--no-git", "--no-git-fallback"] + real, cwd=wt)
    to, cc = [], []
    for line in out.splitlines():
        line = line.strip()
        if line and "@" in line:
            (cc if "list" in line or "vger" in line else to).append(line)
    if not to:
        to, cc = cc[:1], cc[1:]
    mails = []
    for n, path in zip(names, paths):
        text = as_sender(open(path).read())
        if not n.startswith("0000-"):
            text = with_signoff(text)
        mails.append((n, text))
    return mails, to, cc


def stable_mails(series):
    """The mails of backports/<series>/: the upstream author stays the
    author, the sender adds a Signed-off-by; To stable, Cc the people of
    the upstream trailers."""
    check_series(series, STABLE_SERIES)
    patches = backport_patches(series)
    if not patches:
        raise Error(f"backports/{series}/ has no patches")
    cc, mails = [], []
    for p in patches:
        text = open(p).read()
        cc += [x for x in trailer_people(text) if x not in cc]
        mails.append((os.path.basename(p), with_signoff(text)))
    return mails, [STABLE_LIST], cc


def send_mails(mails, to, cc, outdir=None, smtp_server=None, smtp_port=None,
               dry_run=True):
    """git send-email the @mails ([(name, text)]) as the sender, threaded
    shallowly (every mail In-Reply-To the first).  @outdir: every mail
    git send-email would send is written there as one mbox file instead,
    and nothing is sent.  Returns git send-email's output."""
    name, addr = sender()
    me = email.utils.formataddr((name, addr))
    cc = [c for c in cc if addr.lower() not in c.lower()]
    tmp = tempfile.mkdtemp(prefix="ibs-send-")
    try:
        files = []
        for i, (n, text) in enumerate(mails):
            path = os.path.join(tmp, f"{i:04d}-{n}")
            with open(path, "w") as f:
                f.write(text)
            files.append(path)
        cmd = ["git", "send-email", "--confirm=never", "--suppress-cc=all",
               "--thread", "--no-chain-reply-to", "--8bit-encoding=UTF-8",
               f"--from={me}"]
        cmd += [f"--to={x}" for x in to] + [f"--cc={x}" for x in cc]
        if outdir:
            os.makedirs(outdir, exist_ok=True)
            if any(f.endswith(".mbox") for f in os.listdir(outdir)):
                raise Error(f"{outdir} already holds mails; name an empty "
                            "directory")
            sink = os.path.join(tmp, "mbox-sink")
            with open(sink, "w") as f:
                f.write(MBOX_SINK % (os.path.abspath(outdir), addr))
            os.chmod(sink, 0o755)
            cmd.append(f"--smtp-server={sink}")
        else:
            if smtp_server:
                cmd.append(f"--smtp-server={smtp_server}")
            if smtp_port:
                cmd.append(f"--smtp-server-port={smtp_port}")
            if dry_run:
                cmd.append("--dry-run")
        p = subprocess.run(cmd + files, capture_output=True, text=True,
                           cwd=TOP, stdin=subprocess.DEVNULL)
        if p.returncode:
            raise Error("git send-email failed: " +
                        (p.stderr.strip().splitlines() or [""])[-1])
        return p.stdout
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# checkpatch reports that the series may carry, each with the reason the
# cover letter gives; anything else counts.  Each is also re-checked here.
CHECKPATCH_EXCEPTIONS = {
    "FILE_PATH_CHANGES":
        "new files under arch/x86/events/amd/ are covered by the existing "
        "PERFORMANCE EVENTS SUBSYSTEM entry (F: arch/*/events/*/*), as "
        "get_maintainer.pl of the base tree shows",
    "UNKNOWN_COMMIT_ID":
        "the base is a release source tree without git history, so "
        "checkpatch cannot look up " + UPSTREAM_SHA[:12] + ", " +
        DIS_SHA[:12] + " or " + STOP_FIXES_SHA[:12] + "; they are the "
        "mainline commits named",
}


def spdxcheck_ready(t):
    """Let checkpatch's spdxcheck.py open a worktree of the cache's tree @t.

    It asserts that GitPython does not see a bare repository, and GitPython
    takes core.bare from the repository's own config, ignoring a worktree's.
    The cache's repositories are created bare but never used through a
    main work tree, so core.bare=false changes nothing else for them.  A
    user's tree is left alone."""
    if t.origin == "registry":
        git(["config", "core.bare", "false"], cwd=t.repo)


def checkpatch(wt, patch_text, log):
    """checkpatch.pl --strict of the tree @wt on one patch.

    Returns ((errors, warnings, checks), justified, output): the counts
    without the reports CHECKPATCH_EXCEPTIONS accepts, and the accepted
    ones as [(type, text)].  counts is None if checkpatch gave no summary."""
    # spdxcheck.py, which checkpatch runs, needs Debian's python3-ply and
    # python3-git: prefer the system python3 to any other on PATH.
    env = dict(os.environ, PATH="/usr/bin:" + os.environ.get("PATH", ""))
    p = subprocess.run(["perl", "scripts/checkpatch.pl", "--strict",
                        "--show-types", "-"],
                       cwd=wt, input=patch_text, capture_output=True,
                       text=True, env=env)
    with open(log, "a") as f:
        f.write(p.stdout + p.stderr)
    if "Traceback" in p.stdout + p.stderr:
        raise Error(f"checkpatch.pl broke (log: {log})")
    m = re.search(r"total: (\d+) errors, (\d+) warnings, (?:(\d+) checks, )?",
                  p.stdout)
    if not m:
        return None, [], p.stdout
    counts = {"ERROR": int(m.group(1)), "WARNING": int(m.group(2)),
              "CHECK": int(m.group(3) or 0)}
    justified = []
    for level, kind, text in re.findall(r"^(ERROR|WARNING|CHECK):(\w+): (.*)$",
                                        p.stdout, re.M):
        if not exception_holds(wt, kind, text, patch_text):
            continue
        counts[level] -= 1
        justified.append((kind, text))
    return ((counts["ERROR"], counts["WARNING"], counts["CHECK"]), justified,
            p.stdout)


def checkpatch_mails(series, t, log):
    """checkpatch --strict (of the base tree @t) on every patch mail of the
    mainline series @series exactly as send would hand it to the mail
    server, as git's configured identity: [(name, counts, justified)]."""
    wt = worktree(t)
    mails, to, cc = mainline_mails(series)
    outdir = tempfile.mkdtemp(prefix="ibs-mails-")
    try:
        send_mails(mails, to, cc, outdir=outdir)
        sent = [open(os.path.join(outdir, n)).read()
                for n in sorted(os.listdir(outdir))]
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
    if len(sent) != len(mails):
        raise Error(f"git send-email wrote {len(sent)} mails for "
                    f"{len(mails)} patches")
    out = []
    for (name, _), text in zip(mails, sent):
        if not name.startswith("0000-"):
            counts, justified, _ = checkpatch(wt, text, log)
            out.append((name, counts, justified))
    return out


def exception_holds(wt, kind, text, patch_text):
    """Is this checkpatch report one the series may carry (and is its
    reason still true)?"""
    if kind not in CHECKPATCH_EXCEPTIONS:
        return False
    if kind == "UNKNOWN_COMMIT_ID":
        return any(f"'{sha[:12]}'" in text
                   for sha in (UPSTREAM_SHA, DIS_SHA, STOP_FIXES_SHA))
    if kind == "FILE_PATH_CHANGES":
        with tempfile.NamedTemporaryFile("w", suffix=".patch") as f:
            f.write(patch_text)
            f.flush()
            out = run(["perl", "scripts/get_maintainer.pl", "--no-git",
                       "--no-git-fallback", f.name], cwd=wt, check=False)
        return "PERFORMANCE EVENTS SUBSYSTEM" in out
    return False


# --- mutation check ---------------------------------------------------------------

def _fn_span(src, name):
    m = re.search(r"\n(static [^\n]*\b" + name + r"\([^\n]*\n(?:[^\n]*\n)*?}\n)",
                  src)
    if not m:
        raise Error(f"{name}() not found in ibs.c")
    return m.start(1), m.end(1)


def _in_fn(src, name, edit):
    a, b = _fn_span(src, name)
    body = edit(src[a:b])
    if body == src[a:b]:
        raise Error(f"mutant does not apply to {name}() of this tree")
    return src[:a] + body + src[b:]


def _move(body, line, after=None, before=None):
    """Move @line (a whole line, with its indent) after/before another."""
    if line not in body:
        return body
    body = body.replace(line, "", 1)
    if after:
        return body.replace(after, after + line, 1) if after in body else ""
    return body.replace(before, line + before, 1) if before in body else ""


CLEAR_CTL = "\tperf_ibs_disable_event(perf_ibs, hwc, 0);\n"
SET_STARTED = "\tset_bit(IBS_STARTED,    pcpu->state);\n"
CLEAR_STOPPING = "\tclear_bit(IBS_STOPPING, pcpu->state);\n"
ENABLE = "\tperf_ibs_enable_event(perf_ibs, hwc, config);\n"
STOP_DISABLE = "\t\tperf_ibs_disable_event(perf_ibs, hwc, config);\n"
STOP_CLEAR_STARTED = "\t\tclear_bit(IBS_STARTED, pcpu->state);\n"
VAL_CHECK = "\tif (!(*buf++ & perf_ibs->valid_mask))\n\t\tgoto fail;\n"

OVERFLOW = "\tthrottle = perf_event_overflow(event, &data, &regs);\n"
SET_PERIOD = "\tif (!perf_ibs_set_period(perf_ibs, hwc, &period))\n"
STOP_SET_STOPPED = "\t\tset_bit(IBS_STOPPED, pcpu->state);\n"
FAIL_CLAIM = "\t\tif (test_and_clear_bit(IBS_STOPPED, pcpu->state))\n"
DEL_CLEAR_ENABLED = "\tif (!test_and_clear_bit(IBS_ENABLED, pcpu->state))\n"
STOP_CHECK = "\tif (test_bit(IBS_STOPPING, pcpu->state))\n\t\treturn 1;\n"
DIS_RESET = "\tif (ibs_caps & IBS_CAPS_DIS)\n\t\twrmsr"


def _drop_dis_reset(body):
    """perf_ibs_start() without fix/caps-dis.patch's CTL write."""
    m = re.search(r"\tif \(ibs_caps & IBS_CAPS_DIS\)\n\t\twrmsr[lq]\("
                  r"hwc->config_base, 0\);\n", body)
    return body[:m.start()] + body[m.end():] if m else body


def _swap(fn, old, new):
    """The edit that replaces @old by @new once in function @fn."""
    return lambda s: _in_fn(s, fn, lambda b: b.replace(old, new, 1))


def _reorder(fn, line, after=None, before=None):
    """The edit that moves @line of function @fn (see _move())."""
    return lambda s: _in_fn(s, fn, lambda b: _move(b, line, after, before))


class Mutant:
    """A hand-made breakage of ibs.c (applied to the tree with every fix)
    and the invariant it breaks: killed only if the exploration reports
    one of @explore (invariant names) or a case named in @cases fails with
    its finding's diagnostic.  @needs: a text the tree's ibs.c must have
    for the mutant to exist there (else "n/a")."""

    def __init__(self, what, edit, explore=(), cases=(), needs=None):
        self.what, self.edit = what, edit
        self.explore, self.cases, self.needs = set(explore), cases, needs


MUTANTS = {
    "fix-removed": Mutant(
        "perf_ibs_start() does not clear the CTL (the fix removed)",
        _swap("perf_ibs_start", CLEAR_CTL, ""),
        explore={"nmi-enabled", "stale-sample"},
        cases=("ibs_test_op_stale_ctl_nmi_in_start",
               "ibs_test_fetch_stale_ctl_nmi_in_start")),
    "clear-after-started": Mutant(
        "perf_ibs_start() clears the CTL after setting IBS_STARTED",
        _reorder("perf_ibs_start", CLEAR_CTL, after=CLEAR_STOPPING),
        explore={"nmi-enabled", "stale-sample"},
        cases=("ibs_test_op_ctl_cleared_before_started",
               "ibs_test_fetch_ctl_cleared_before_started")),
    "started-after-enable": Mutant(
        "perf_ibs_start() sets IBS_STARTED after the enable write",
        _reorder("perf_ibs_start", SET_STARTED, after=ENABLE),
        explore={"enabled-unstarted"}),
    "stop-clears-started-first": Mutant(
        "perf_ibs_stop() clears IBS_STARTED before disabling the hardware",
        _reorder("perf_ibs_stop", STOP_CLEAR_STARTED, before=STOP_DISABLE),
        explore={"late-nmi-unclaimed"}),
    "stop-no-stopped": Mutant(
        "perf_ibs_stop() does not set IBS_STOPPED",
        _swap("perf_ibs_stop", STOP_SET_STOPPED, ""),
        explore={"late-nmi-unclaimed"}),
    "stopped-kept": Mutant(
        "the NMI handler claims IBS_STOPPED without clearing it",
        _swap("perf_ibs_handle_irq", FAIL_CLAIM,
              FAIL_CLAIM.replace("test_and_clear_bit", "test_bit")),
        explore={"late-nmi-twice"}),
    "no-val-check": Mutant(
        "perf_ibs_handle_irq() does not check the Val bit",
        _swap("perf_ibs_handle_irq", VAL_CHECK, "\tbuf++;\n"),
        explore={"foreign-claimed", "stale-sample"}),
    "sample-dropped": Mutant(
        "perf_ibs_handle_irq() never reports a sample to perf",
        _swap("perf_ibs_handle_irq", SET_PERIOD,
              SET_PERIOD.replace("))\n", ") || 1)\n")),
        explore={"sample-lost"}),
    "sample-twice": Mutant(
        "perf_ibs_handle_irq() reports each sample twice",
        _swap("perf_ibs_handle_irq", OVERFLOW,
              OVERFLOW.replace("throttle = ", "") + OVERFLOW),
        explore={"sample-twice"}),
    "throttle-ignored": Mutant(
        "perf_ibs_handle_irq() ignores perf core's throttle verdict",
        _swap("perf_ibs_handle_irq", OVERFLOW,
              OVERFLOW.replace("throttle = ", "")),
        explore={"end-hw"}),
    "del-keeps-enabled": Mutant(
        "perf_ibs_del() leaves IBS_ENABLED set (a sequence with a second "
        "add fails)",
        _swap("perf_ibs_del", DEL_CLEAR_ENABLED,
              DEL_CLEAR_ENABLED.replace("test_and_clear_bit", "test_bit")),
        explore={"end-state"}),
    "stop-fix-removed": Mutant(
        "perf_ibs_handle_irq() re-enables a sample found with IBS_STOPPING "
        "(fix/stop-nmi.patch removed)",
        _swap("perf_ibs_handle_irq", STOP_CHECK, ""),
        explore={"nmi-reenabled", "end-hw"},
        cases=("ibs_test_op_sample_nmi_in_stop",
               "ibs_test_fetch_sample_nmi_in_stop")),
    "dis-fix-removed": Mutant(
        "perf_ibs_start() does not write the CTL with IBS_CAPS_DIS "
        "(fix/caps-dis.patch removed; capability-set space)",
        lambda s: _in_fn(s, "perf_ibs_start", _drop_dis_reset),
        explore={"nmi-enabled", "stale-sample"},
        cases=(DIS_PREFIX + "ibs_test_op_stale_ctl_nmi_in_start",),
        needs=DIS_RESET),
}


def mutant_verdict(m, res):
    """(verdict, killers): "killed" when an expected case fails with its
    finding's diagnostic or the exploration reports an expected invariant
    (killers: which) and the suite finished; "broken" when it did not
    (a crash, a hang), or a kernel WARN hit a case while no expected killer
    fired; "caught elsewhere"
    when only unexpected checks failed; "SURVIVED" when nothing failed."""
    findings = suite_cases()[1]
    killers = []
    for case in m.cases:
        finding = findings.get(case.split(".")[-1])
        if finding and red_with(res, case, finding):
            killers.append(case)
    seen = {i for v in res["explore"]["violations"].values() for i in v}
    killers += sorted(f"explore [{i}]" for i in seen & m.explore)
    failed = [n for n, v in res["cases"].items() if v == "fail"]
    warned = any(line.startswith("kernel WARN at")
                 for n in failed for line in res["diagnostics"].get(n, []))
    complete = all(res.get(k) is not None
                   for k in ("suite", "suite_explore"))
    if not complete:
        return "broken", []
    if killers:
        return "killed", killers
    if warned:
        return "broken", []
    return ("caught elsewhere" if failed else "SURVIVED"), []


def mutation_check(t, log_dir=None):
    """Run the suite on @t with every fix (the all-fixes state) and on each
    mutant of its ibs.c; mutant_verdict() for each."""
    log_dir = log_dir or os.path.join(cache_dir(), "logs")
    os.makedirs(log_dir, exist_ok=True)
    log = os.path.join(log_dir, f"{t.label}-mutation.log")
    open(log, "w").close()
    wt, _, fix_in_tree, info = prepare(t, "all-fixes", log)
    dis_applied = info["caps_dis"] and not info["dis_fix_in_tree"]
    ibs = os.path.join(wt, "arch/x86/events/amd/ibs.c")
    pristine = open(ibs).read()
    bdir = build_dir(t)
    rows = []
    for name, m in [("none", Mutant("the tree with every fix", None))] + \
            list(MUTANTS.items()):
        expected = sorted(m.explore) + list(m.cases)
        if m.needs and m.needs not in pristine:
            rows.append({"mutant": name, "what": m.what, "verdict": "n/a",
                         "killers": [], "expected": expected,
                         "failed_cases": [], "cases": 0})
            continue
        src = pristine if m.edit is None else m.edit(pristine)
        if not src:
            raise Error(f"mutant {name} does not apply to {t.label}")
        with open(ibs, "w") as f:
            f.write(src)
        progress(f"{t.label}: mutant {name}: building")
        build_s = build(wt, bdir, log, t.extra_kconfig)
        out, run_s = boot(bdir, log)
        res = parse_run(out)
        if res["suite"] is None and m.edit is None:
            raise Error(f"{t.label}: no suite result (log: {log})")
        failed = sorted(n for n, v in res["cases"].items() if v == "fail")
        if m.edit is None:
            verdict, killers = ("passes" if not failed and
                                res["suite_explore"] is not None
                                else "FAILS"), []
        else:
            verdict, killers = mutant_verdict(m, res)
        progress(f"{t.label}: mutant {name}: {verdict} "
                 f"({', '.join(killers) or f'{len(failed)} cases fail'})")
        rows.append({"mutant": name, "what": m.what, "verdict": verdict,
                     "killers": killers, "expected": expected,
                     "failed_cases": failed, "cases": len(res["cases"]),
                     "build_seconds": round(build_s, 1),
                     "run_seconds": round(run_s, 1)})
    with open(ibs, "w") as f:
        f.write(pristine)
    return {"_generated": generated_note(
        "scripts/mutate --record", "a run of the suite on each mutant"),
            "tree": t.as_dict(), "suite": file_hash(SUITE_FILE),
            "fix_in_tree": fix_in_tree, "dis_fix_applied": dis_applied,
            "fix": fix_hashes(t.series, fix_in_tree, dis_applied),
            "date": time.strftime("%Y-%m-%d"), "mutants": rows}
