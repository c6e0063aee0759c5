# SPDX-License-Identifier: GPL-2.0-only
"""The library of the scripts/ verbs, one module per step of the pipeline.

    common, names, model, csource
                      the bottom, no I/O: the error type, the suite's and
                      the findings' names, the records and results as
                      types, C source as text
    registry, trees   a tree: from the package registry or the user's
                      checkout (only read), into a worktree in the cache
    suite             + the suite (kunit/) and the fix state asked for
    kbuild, qemu      -> build -> boot under QEMU (TCG), console captured
    ktap, kunittool   -> KTAP/TAP parsed, by ktap (pure: text in, model
                      out) and by the tree's kunit.py
    redgreen          -> one run per fix state, the red -> green verdict
    records, results  -> JSON records (their types: model), the generated
                      results page
    backports, series, patches, mail, e2e
                      what maintainers receive: stable backports, the
                      mainline series (patches/), mails and checkpatch,
                      and the round trip through SMTP and b4
    mutants, flake    the mutation check over all of the above; one
                      kernel booted many times
    bench             the whole path timed per phase, beside kunit.py
    checks            scripts/test's checks beside the verify runs
    fixes             the five patches of "perf/amd/ibs: Assorted fixes",
                      read from a tree's ibs.c (pure)
    assorted          the series across the trees: scans, the matrix page
    core, cli         shared: paths, errors, the command runner, tables;
                      the verbs' common arguments

Every verb in scripts/ is a thin command line around these functions; it
imports the modules by name and calls them qualified (from ibskit import
redgreen; redgreen.verify(...)), as tools/testing/kunit/ does.  Nothing
writes outside the cache directory (IBS_KIT_CACHE, default
~/.cache/amd-ibs-race) except the result files a verb is asked to write; a
user's kernel checkout is only read, and used through a git worktree.
"""
