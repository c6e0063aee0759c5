# SPDX-License-Identifier: GPL-2.0-only
"""The suite and the fixes: putting kunit/ into a worktree (with the
per-tree adaptations), the finding constants, applying or reverting fixes."""

import os
import re
import tempfile
from typing import Optional

from .core import (
    BACKPORTS_DIR, Error, KUNIT_DIR, SUITE_FILES, TOP, capture, git,
    git_env, read_text, run, status, write_text,)
from .fixes import (
    UpstreamFix, reverse_candidates, stable_patch_name,)
from .facts import FACT_NAMES, TreeFacts, by_name as fact
from .trees import Tree


UPSTREAM_FIX = os.path.join(TOP, "fix", "upstream.patch")
from .names import (  # noqa: E402
    CASE_DIAG_PREFIX as CASE_DIAG_PREFIX, CASE_FINDINGS as CASE_FINDINGS,
    DIS_CAPSETS as DIS_CAPSETS,
    DIS_PREFIX as DIS_PREFIX, EXPLORE_PREFIX as EXPLORE_PREFIX,
    FINDING_INVARIANTS as FINDING_INVARIANTS, FINDING_PMUS as FINDING_PMUS,
    HAZARDS as HAZARDS, SUITE as SUITE, SUITE_DIS as SUITE_DIS,
    SUITE_EXPLORE as SUITE_EXPLORE,)


def adaptation_table() -> list[tuple[str, str]]:
    """kunit/adapt/facts: (fact, sed file) in the order they apply."""
    out = []
    for text in read_text(os.path.join(KUNIT_DIR, "adapt",
                                       "facts")).splitlines():
        words = text.split("#", 1)[0].split()
        if words:
            if len(words) != 2 or words[0] not in FACT_NAMES:
                raise Error(f"kunit/adapt/facts: bad line '{text}'")
            out.append((words[0], words[1]))
    return out


def adaptations(tf: TreeFacts) -> list[str]:
    """The sed files that adapt the suite to a tree with facts @tf: one
    for each fact of kunit/adapt/facts that the tree's source lacks."""
    return [sed for fact, sed in adaptation_table() if not tf[fact]]


def suite_source(tf: TreeFacts) -> dict[str, str]:
    """The suite's files as they go into a tree with facts @tf: {file
    name: text}, adaptations(@tf) applied to each."""
    out = {}
    seds = adaptations(tf)
    for path in SUITE_FILES:
        src = read_text(path)
        for sed in seds:
            src = run(["sed", "-f", os.path.join(KUNIT_DIR, "adapt", sed)],
                      input=src)
        out[os.path.basename(path)] = src
    return out


def suite_text(tf: Optional[TreeFacts] = None) -> str:
    """The suite's files as adapted to a tree with facts @tf (None: as in
    kunit/) as one text, the parts in the order ibs_kunit.c includes
    them."""
    if tf is None:
        return "\n".join(read_text(p) for p in SUITE_FILES)
    return "\n".join(suite_source(tf).values())


def dis_suite_built(tf: TreeFacts) -> bool:
    """Does the suite as adapted to a tree with facts @tf register
    amd_ibs_dis?"""
    return re.search(r'\.name\s*=\s*"' + SUITE_DIS + '"',
                     suite_text(tf)) is not None


def write_suite(wt: str, files: dict[str, str]) -> None:
    """The suite's files into arch/x86/events/amd/ of @wt; a file of the
    suite that @files lacks is removed."""
    amd = os.path.join(wt, "arch/x86/events/amd")
    for path in SUITE_FILES:
        name = os.path.basename(path)
        target = os.path.join(amd, name)
        if name in files:
            write_text(target, files[name])
        elif os.path.exists(target):
            os.unlink(target)


def install_suite(wt: str, t: Tree) -> None:
    """Add the suite as adapted to the facts of tree @t (those of @wt's
    pristine source), Kconfig symbols, Makefile hook and .kunitconfig;
    commit.  An Error in one line if the suite cannot serve @t
    (Tree.check_servable())."""
    t.check_servable()
    write_suite(wt, suite_source(t.facts()))
    install_build_files(wt)
    git(["add", "-f", "arch/x86/events"], cwd=wt)
    git(["commit", "-q", "-m", "perf/x86/amd/ibs: add the amd_ibs KUnit suite "
         "(test harness, not for stable)"], cwd=wt, env=git_env())


def without_spdx(text: str) -> str:
    """A fragment of ours as it goes into a kernel file: without our own
    SPDX line (the kernel file it joins has its own; .kunitconfig files
    carry none)."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith("# SPDX-License-Identifier:"))


def suite_kconfig(c_text: Optional[str] = None) -> str:
    """kunit/kunitconfig without its SPDX line: the suite's Kconfig
    fragment; with @c_text, without the symbols of ours that neither are
    the first nor appear (as CONFIG_X) in that source."""
    lines = without_spdx(read_text(os.path.join(KUNIT_DIR,
                                                "kunitconfig"))).splitlines()
    if c_text is not None:
        unused = set(kconfig_symbols()) - set(kconfig_symbols(c_text))
        lines = [x for x in lines
                 if x.split("=")[0].removeprefix("CONFIG_") not in unused]
    return "".join(x + "\n" for x in lines)


def kconfig_symbols(c_text: Optional[str] = None) -> list[str]:
    """The symbols kunit/Kconfig defines, in order; with @c_text only the
    first and those the source tests."""
    text = read_text(os.path.join(KUNIT_DIR, "Kconfig"))
    syms = re.findall(r"^config (\w+)$", text, re.M)
    if c_text is None:
        return syms
    code = re.sub(r"/\*.*?\*/", "", c_text, flags=re.S)
    return syms[:1] + [x for x in syms[1:] if "CONFIG_" + x in code]


def kconfig_fragment(c_text: Optional[str] = None) -> str:
    """kunit/Kconfig as it goes into arch/x86/events/Kconfig: the blocks
    of kconfig_symbols(@c_text)."""
    text = without_spdx(read_text(os.path.join(KUNIT_DIR, "Kconfig")))
    keep = kconfig_symbols(c_text)
    blocks = re.split(r"\n(?=config )", text.strip("\n"))
    return "\n".join(b.rstrip("\n") + "\n" for b in blocks
                     if b.split("\n", 1)[0].removeprefix("config ") in keep)


def install_build_files(wt: str, c_text: Optional[str] = None) -> None:
    """The Kconfig symbols, Makefile hook and .kunitconfig of the suite
    (with @c_text: of the symbols that source uses, see suite_kconfig());
    again on a tree that has them, they are replaced."""
    amd = os.path.join(wt, "arch/x86/events/amd")
    with open(os.path.join(amd, ".kunitconfig"), "w") as f:
        f.write(suite_kconfig(c_text))
    mk = os.path.join(amd, "Makefile")
    text = read_text(mk)
    hook = "obj-$(CONFIG_PERF_EVENTS_AMD_IBS_KUNIT_TEST)\t+= ibs_kunit.o\n"
    if hook not in text:
        text = text.replace("obj-$(CONFIG_X86_LOCAL_APIC)\t\t+= ibs.o\n",
                            "obj-$(CONFIG_X86_LOCAL_APIC)\t\t+= ibs.o\n" +
                            hook, 1)
    if hook not in text:
        text += hook
    write_text(mk, text)
    kc = os.path.join(wt, "arch/x86/events/Kconfig")
    text = read_text(kc)
    i = text.rindex("endmenu")
    first = text.find("config " + kconfig_symbols()[0] + "\n")
    start = first if first != -1 else i
    write_text(kc, text[:start] + kconfig_fragment(c_text) + "\n" + text[i:])


def _ibs_c_fact(wt: str, name: str) -> bool:
    """Fact @name (facts.FACTS) of the ibs.c now in @wt."""
    return fact(name).test(read_text(
        os.path.join(wt, "arch/x86/events/amd/ibs.c")))


def has_fix(wt: str) -> bool:
    """True if perf_ibs_start() clears the CTL before setting IBS_STARTED."""
    return _ibs_c_fact(wt, "fix-race")


DIS_FIX = os.path.join(TOP, "fix", "caps-dis.patch")


def has_dis_fix(wt: str) -> bool:
    """True if perf_ibs_start() also writes the CTL itself with
    IBS_CAPS_DIS before setting IBS_STARTED (fix/caps-dis.patch)."""
    return _ibs_c_fact(wt, "fix-dis")


# Manali Shukla's fix of the stop window ("perf/amd/ibs: Fix race
# condition in IBS"), as the mail we resend.
STOP_FIX = os.path.join(TOP, "fix", "stop-nmi.patch")
# Ours: perf_ibs_stop() counts no rollover (a throttled sample counted
# once); the mail against the mainline base, and the same change as sed
# commands for trees whose ibs.c reads differently around it.
COUNT_FIX = os.path.join(TOP, "fix", "prev-count.patch")
COUNT_FIX_SED = os.path.join(TOP, "fix", "prev-count.sed")


def has_stop_fix(wt: str) -> bool:
    """True if perf_ibs_handle_irq() does not enable the PMU again while
    IBS_STOPPING is set (fix/stop-nmi.patch)."""
    return _ibs_c_fact(wt, "fix-stop")


def has_count_fix(wt: str) -> bool:
    """True if perf_ibs_stop() folds nothing when the CTL holds a
    completed sample (fix/prev-count.patch)."""
    return _ibs_c_fact(wt, "fix-count")


def apply_count_fix(wt: str, log: str) -> str:
    """fix/prev-count.patch with git am; on a tree where it does not
    apply, fix/prev-count.sed over ibs.c (committed).  Returns what was
    done."""
    if not status(["git", "am", "-q", COUNT_FIX], cwd=wt, log=log,
                  env=git_env()):
        return "git am fix/prev-count.patch"
    status(["git", "am", "--abort"], cwd=wt)
    sed_ibs_c(wt, read_text(COUNT_FIX_SED), "fix/prev-count.sed")
    git(["commit", "-q", "-a", "-m", "fix/prev-count.sed"], cwd=wt,
        env=git_env())
    if not has_count_fix(wt):
        raise Error("fix/prev-count.sed left ibs.c without the count fix")
    return "sed -f fix/prev-count.sed"


def sed_ibs_c(wt: str, script: str, what: str) -> None:
    """Run the sed commands @script (named @what in errors) over the
    ibs.c of @wt, in place; an Error if they change nothing."""
    path = os.path.join(wt, "arch/x86/events/amd/ibs.c")
    src = read_text(path)
    with tempfile.NamedTemporaryFile("w", suffix=".sed") as f:
        f.write(script)
        f.flush()
        out = capture(["sed", "-f", f.name, path]).out
    if out == src:
        raise Error(f"{what} changes nothing in {path}")
    with open(path, "w") as f:
        f.write(out)


def git_am(wt: str, patches: list[str], log: str, what: str) -> None:
    """git am @patches on @wt (no fuzz, no three-way fallback), logged;
    aborted and an Error naming @what if they do not apply."""
    if status(["git", "am", "-q"] + patches, cwd=wt, log=log, env=git_env()):
        status(["git", "am", "--abort"], cwd=wt)
        raise Error(f"{what} does not apply with git am (log: {log})")


def apply_dis_fix(wt: str, log: str) -> None:
    git_am(wt, [DIS_FIX], log, "fix/caps-dis.patch")


def backport_patches(series: str) -> list[str]:
    d = os.path.join(BACKPORTS_DIR, series)
    sf = os.path.join(d, "series")
    if not os.path.exists(sf):
        return []
    return [os.path.join(d, line.strip())
            for line in read_text(sf).splitlines()
            if line.strip() and not line.startswith("#")]


def apply_fix(wt: str, series: str, log: str) -> None:
    """git am the backport of @series; no fuzz, no three-way fallback."""
    patches = backport_patches(series)
    if not patches:
        raise Error(f"no backport for series {series} in backports/{series}/")
    git_am(wt, patches, log, f"backports/{series}")


def revert_fix(wt: str, log: str) -> None:
    """git apply -R the upstream fix (it must be textually the same)."""
    if status(["git", "apply", "-R", UPSTREAM_FIX], cwd=wt, log=log):
        raise Error(f"git apply -R fix/upstream.patch failed (log: {log})")


def revert_series_fix(wt: str, f: UpstreamFix, log: str) -> str:
    """Take patch @f of the series out of @wt: git apply -R of the first
    of fixes.reverse_candidates() that applies.  Returns what was done."""
    for p in reverse_candidates(f):
        if status(["git", "apply", "-R", "--check", p], cwd=wt) == 0:
            if status(["git", "apply", "-R", p], cwd=wt, log=log):
                raise Error(f"git apply -R {os.path.relpath(p, TOP)} "
                            f"failed (log: {log})")
            return f"git apply -R {os.path.relpath(p, TOP)}"
    raise Error(f"{f.sha[:12]} ({f.name}) cannot be taken out of this "
                "tree: no patch of fix/assorted/ applies in reverse")


def series_backport(series: str, f: UpstreamFix) -> Optional[str]:
    """The patch of backports/<series>/ that is @f's backport, if any."""
    name = stable_patch_name(f)
    for p in backport_patches(series):
        if os.path.basename(p) == name:
            return p
    return None


def kunit_can_skip(tf: TreeFacts) -> bool:
    """Can the suite on a tree with facts @tf mark a case skipped?"""
    return tf["kunit-skip"]
