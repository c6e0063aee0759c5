# SPDX-License-Identifier: GPL-2.0-only
"""Host tools and the Debian package registry (apt, versions, series)."""

import glob
import os
import re
import shutil
import time
from typing import Optional

from .core import (
    Error, cache_dir, capture, log_file, phase, progress, read_text, run,
    status,)


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
STABLE_SERIES = ["5.10", "5.15", "6.1", "6.6", "6.12", "6.18", "6.19", "7.0"]


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


def have(cmd: str) -> bool:
    """A command on PATH or in git's libexec, or an absolute path."""
    if os.path.isabs(cmd):
        return os.path.exists(cmd)
    return bool(shutil.which(cmd)) or \
        os.path.exists(os.path.join("/usr/lib/git-core", cmd))


def ensure_tools(install: bool = True,
                 extra: Optional[dict[str, str]] = None) -> None:
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


def install_packages(missing: list[str]) -> None:
    progress("installing " + " ".join(missing))
    log = os.path.join(cache_dir(), "apt-install.log")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "install", "-y", "-q"] + missing, log=log, env=env,
        check=False)
    still = [p for p in missing if status(["dpkg", "-s", p])]
    if still:
        run(["apt-get", "update", "-q"], log=log, env=env, check=False)
        run(["apt-get", "install", "-y", "-q"] + still, log=log, env=env,
            check=False)
        still = [p for p in still if status(["dpkg", "-s", p])]
    if still:
        raise Error("could not install " + " ".join(still) + f" (log: {log})")


def mirror_uris() -> dict[str, str]:
    """Mirror URIs by archive name, read from the machine's apt sources.

    IBS_KIT_MIRROR (the URI of a Debian archive) overrides them."""
    uris: list[str] = []
    if os.environ.get("IBS_KIT_MIRROR"):
        uri = os.environ["IBS_KIT_MIRROR"]
        try:
            return debian_archives([uri])
        except Error:
            raise Error(f"IBS_KIT_MIRROR={uri} is not a Debian archive: "
                        "its path must end in /debian or "
                        "/debian-security") from None
    for path in ([] if uris else ["/etc/apt/sources.list"] +
                 sorted(glob.glob("/etc/apt/sources.list.d/*.list")) +
                 sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))):
        try:
            text = read_text(path)
        except OSError:
            continue
        uris += apt_source_uris(text)
    return debian_archives(uris)


def apt_source_uris(text: str) -> list[str]:
    """The archive URIs of one apt sources file: one-line ("deb [opts]
    URI suite ...") or deb822 ("URIs: ...") format."""
    uris: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"URIs:\s*(.*)", line)
        if m:
            uris += m.group(1).split()
        m = re.match(r"deb\s+(?:\[[^\]]*\]\s+)?(\S+)", line)
        if m:
            uris.append(m.group(1))
    return uris


def debian_archives(uris: list[str]) -> dict[str, str]:
    """{"debian": URI, "debian-security": URI} from archive URIs: each
    found by its last path component, the other derived from it."""
    found: dict[str, str] = {}
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


def apt_options() -> list[str]:
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
    if not os.path.exists(sources) or read_text(sources) != text:
        with open(sources, "w") as f:
            f.write(text)
    return ["-o", f"Dir::Etc::SourceList={sources}",
            "-o", "Dir::Etc::SourceParts=/nonexistent",
            "-o", f"Dir::State::Lists={d}/lists",
            "-o", f"Dir::Cache={d}",
            "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
            "-o", "APT::Sandbox::User=root"]


def apt_update(force: bool = False) -> list[str]:
    opts = apt_options()
    stamp = os.path.join(cache_dir(), "apt", "updated")
    if not force and os.path.exists(stamp) and \
            time.time() - os.path.getmtime(stamp) < 24 * 3600:
        return opts
    progress("reading the package registry (private apt lists)")
    log = os.path.join(cache_dir(), "apt", "update.log")
    p = capture(["apt-get"] + opts + ["-q", "update"], log=log_file(
        "update.log", os.path.join(cache_dir(), "apt")))
    if p.rc or re.search(r"^(Err|E):", p.out + p.err, re.M):
        raise Error(f"package registry unreachable (apt-get update failed, "
                    f"log: {log})")
    open(stamp, "w").close()
    return opts


def registry_version(series: str) -> str:
    """The Debian version of linux-source-<series> the registry serves."""
    pkg = REGISTRY[series][0]
    for attempt in (False, True):
        opts = apt_update(force=attempt)
        out = run(["apt-cache"] + opts + ["policy", pkg], check=False)
        m = re.search(r"Candidate:\s*(\S+)", out)
        if m and m.group(1) != "(none)":
            return m.group(1)
    raise Error(f"{pkg} not found in the package registry")


def upstream_version(debver: str) -> str:
    m = re.match(r"(\d+\.\d+(?:\.\d+)?)", debver)
    if not m:
        raise Error(f"not a kernel version: {debver}")
    return m.group(1)


def check_series(series: str,
                 allowed: Optional[list[str]] = None) -> None:
    allowed = allowed or sorted(REGISTRY, key=series_key)
    if series not in allowed:
        raise Error(f"unknown series '{series}' (known: {', '.join(allowed)})")


def series_key(s: str) -> tuple[int, ...]:
    return tuple(int(x) for x in s.split("."))


def series_of(version: str) -> str:
    return ".".join(version.split(".")[:2])
