# SPDX-License-Identifier: GPL-2.0-only
"""C source as text: the suite's case arrays and its top-level chunks
(functions, declarations, comments).  Pure functions of a string."""

import re
from typing import Optional

CASE_ENTRY = re.compile(r"\b[A-Z_]*CASE[A-Z_]*\((\w+)[,)]")


def c_chunks(src: str) -> list[tuple[Optional[str], str]]:
    """Split C source into top-level chunks at blank lines outside braces
    and comments; returns [(name or None, text)]."""
    chunks: list[str] = []
    cur: list[str] = []
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


def chunk_name(text: str) -> Optional[str]:
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
        # the #include of a part of the suite: the part's file name
        m = re.search(r'^#include "([\w.]+)"', code, re.M)
        if m:
            return m.group(1)
    for line in code.splitlines():
        if not line or line[0] in " \t#}":
            continue
        m = re.fullmatch(r"(\w+\(\w+\));", line)
        if m:  # a macro invocation such as kunit_test_suite(suite);
            return m.group(1)
        m = re.fullmatch(r"([A-Z_]+)\((\w+),.*\);", line)
        if m:  # KUNIT_ARRAY_PARAM(name, array, desc); -> its first argument
            return f"{m.group(1)}({m.group(2)})"
        m = (re.match(r"struct (\w+) \{", line) or
             re.match(r"(?:static\s+)?[\w\s\*]*?\b(\w+)\s*(?:\[\w*\])?\s*=",
                      line) or
             re.match(r"(?:static\s+)?[\w\s\*]*?\b(\w+)\s*\(", line))
        if m:
            return m.group(1)
    return None
