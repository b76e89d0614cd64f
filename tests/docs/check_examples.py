#!/usr/bin/env python3
"""Runs the curl examples of README.md and docs/*.md against a running
itemserve, so that the documentation shows requests that work.

Usage: tests/docs/check_examples.py [--list] [--verbose] [BASE_URL]
BASE_URL (or ITEMSERVE_URL) is the server, e.g. http://127.0.0.1:3000.
The examples log in as `admin` with ITEMSERVE_ADMIN_PASSWORD; they need
curl and jq. Start the server on a fresh database: the examples create
items and users with fixed ids and names.

The conventions (described for writers in docs/api.md):
- Examples are the curl commands in ```sh, ```bash, ```shell and
  ```console blocks (for console, the lines after a `$ ` prompt) that
  address http://127.0.0.1:3000 (the address scripts/run serves on); a
  line ending in `\\` continues on the next. That address is replaced
  by BASE_URL. curl commands addressing other hosts are not run.
- Each file's examples run top to bottom in one `bash -e -o pipefail`, so
  variables set by earlier examples (`TOKEN=$(curl ...)`) are there for
  later ones. Files run one after the other, README.md first.
- A block holding an example may otherwise hold only variable
  assignments and comments.
- A curl command must exit 0 with a status below 400, unless a comment on
  it (or on the comment line just above it) says `# expect NNN`: then the
  status must be exactly NNN. `# expect stream` marks an answer that never
  ends: it is read for two seconds and must have status 200.

Exit status: 0 when every example passed, 1 when one failed (the example
and its output are printed), 2 for a usage or setup error.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC_ORIGIN = re.compile(r"https?://(?:127\.0\.0\.1|localhost):3000")
SHELL_BLOCKS = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
# `curl` where a command starts: at the start of the line, in `$(...)`,
# after a pipe, `;`, `&&` or `||`.
CURL = re.compile(r"(^|\$\(|[|;&]\s*)curl(?=\s)")
EXPECT = re.compile(r"#\s*expect\s+(\d{3}|stream)\b")
ASSIGNMENT = re.compile(r"^(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*=")
FAILED = re.compile(r"^@@failed (\S+)$", re.M)

PRELUDE = r"""
_doc_where=''
_doc_at() { _doc_where="$1"; }
trap 'rc=$?; [ "$rc" -eq 0 ] || echo "@@failed $_doc_where"' EXIT
# curl, checked: the body goes to stdout (for pipes and $(...)), the verdict
# to stderr.
_doc_curl() {
    local expect="$1" out status rc=0 ok=0
    shift
    local extra=()
    [ "$expect" = stream ] && extra=(--max-time 2)
    out="$(mktemp)"
    status="$(command curl -sS -o "$out" -w '%{http_code}' "${extra[@]}" "$@")" || rc=$?
    cat "$out"
    rm -f "$out"
    case "$expect" in
        stream) [ "$status" = 200 ] && { [ "$rc" -eq 0 ] || [ "$rc" -eq 28 ]; } && ok=1 ;;
        ok) [ "$rc" -eq 0 ] && [ "$status" -ge 200 ] && [ "$status" -lt 400 ] && ok=1 ;;
        *) [ "$rc" -eq 0 ] && [ "$status" = "$expect" ] && ok=1 ;;
    esac
    if [ -n "${_DOC_VERBOSE:-}" ]; then
        printf '\n  %s: HTTP %s\n' "$_doc_where" "$status" >&2
    fi
    if [ "$ok" -ne 1 ]; then
        local want="a status below 400"
        [ "$expect" = ok ] || want="HTTP $expect"
        printf '\nexpected %s, got HTTP %s (curl exit status %s)\n' "$want" "$status" "$rc" >&2
        return 1
    fi
}
"""


@dataclass
class Command:
    line: int  # where it starts in its file (1-based)
    text: str  # as written, continuation lines joined with newlines
    kind: str  # "curl", "foreign", "assignment", "other"
    expect: str = "ok"


@dataclass
class Block:
    path: Path
    line: int
    commands: list = field(default_factory=list)

    def examples(self):
        return [c for c in self.commands if c.kind == "curl"]


def shell_blocks(path):
    """The shell blocks of a Markdown file, as (line of the fence, [(line, text)])."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = len(m.group(1)), m.group(2), m.group(3).lower()
        start = i + 1
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            text = lines[i]
            body.append((i + 1, text[indent:] if text[:indent].strip() == "" else text.lstrip()))
            i += 1
        i += 1
        if lang in SHELL_BLOCKS:
            yield start, lang, body


def commands(lang, body):
    """Logical commands of a block: continuation lines joined, console
    output left out, comment lines kept (they may carry `# expect`)."""
    pending = None
    for number, text in body:
        if pending is not None:
            pending[1].append(text)
        else:
            if lang == "console":
                if not text.startswith("$ "):
                    continue
                text = text[2:]
            pending = (number, [text])
        if not text.endswith("\\"):
            yield pending[0], "\n".join(pending[1])
            pending = None
    if pending is not None:
        yield pending[0], "\n".join(pending[1])


def parse(path):
    blocks = []
    for start, lang, body in shell_blocks(path):
        block = Block(path, start)
        expect_next = None
        for number, text in commands(lang, body):
            stripped = text.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                m = EXPECT.search(stripped)
                expect_next = m.group(1) if m else None
                continue
            if CURL.search(stripped):
                kind = "curl" if DOC_ORIGIN.search(stripped) else "foreign"
            elif ASSIGNMENT.match(stripped):
                kind = "assignment"
            else:
                kind = "other"
            m = EXPECT.search(stripped)
            expect = m.group(1) if m else (expect_next or "ok")
            expect_next = None
            block.commands.append(Command(number, text, kind, expect))
        if block.examples():
            blocks.append(block)
    return blocks


def script(path, blocks, base_url):
    """One bash script running every example of a file in order."""
    rel = path.relative_to(ROOT)
    out = [PRELUDE]
    for block in blocks:
        for command in block.commands:
            text = DOC_ORIGIN.sub(base_url, command.text)
            if command.kind == "curl":
                text = CURL.sub(lambda m: f"{m.group(1)}_doc_curl {command.expect}", text)
            out.append(f"_doc_at '{rel}:{command.line}'")
            out.append(text)
    out.append("_doc_at ''")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base_url", nargs="?", default=os.environ.get("ITEMSERVE_URL"),
                    help="the running server, e.g. http://127.0.0.1:3000 (default: $ITEMSERVE_URL)")
    ap.add_argument("--list", action="store_true", help="print the examples found and exit")
    ap.add_argument("--verbose", "-v", action="store_true", help="print each request's status")
    args = ap.parse_args()

    files = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
    parsed = [(path, parse(path)) for path in files]

    problems = []
    for path, blocks in parsed:
        for block in blocks:
            for command in block.commands:
                if command.kind in ("other", "foreign"):
                    problems.append(
                        f"{path.relative_to(ROOT)}:{command.line}: a block with examples may hold only "
                        f"curl commands to http://127.0.0.1:3000, assignments and comments:\n    {command.text}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2

    total = sum(len(b.examples()) for _, blocks in parsed for b in blocks)
    if args.list:
        for path, blocks in parsed:
            for block in blocks:
                for command in block.commands:
                    print(f"{path.relative_to(ROOT)}:{command.line} [{command.kind}, expect {command.expect}]")
                    print("    " + command.text.replace("\n", "\n    "))
        print(f"{total} examples")
        return 0
    if total == 0:
        print("error: no curl examples found in README.md or docs/*.md", file=sys.stderr)
        return 2

    if not args.base_url:
        print("error: give the server's URL as an argument or in ITEMSERVE_URL", file=sys.stderr)
        return 2
    base_url = args.base_url.rstrip("/")
    if "://" not in base_url:
        base_url = "http://" + base_url
    for tool in ("bash", "curl", "jq"):
        if not shutil.which(tool):
            print(f"error: the examples need {tool}", file=sys.stderr)
            return 2
    needs_password = any("ITEMSERVE_ADMIN_PASSWORD" in c.text
                         for _, blocks in parsed for b in blocks for c in b.commands)
    if needs_password and not os.environ.get("ITEMSERVE_ADMIN_PASSWORD"):
        print("error: the examples log in with ITEMSERVE_ADMIN_PASSWORD, the server's admin password; set it",
              file=sys.stderr)
        return 2

    env = dict(os.environ)
    if args.verbose:
        env["_DOC_VERBOSE"] = "1"
    failed = 0
    for path, blocks in parsed:
        if not blocks:
            continue
        rel = path.relative_to(ROOT)
        count = sum(len(b.examples()) for b in blocks)
        if args.verbose:
            print(f"{rel}:")
        try:
            run = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script(path, blocks, base_url)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                 timeout=300, text=True, errors="replace")
            output, code = run.stdout, run.returncode
        except subprocess.TimeoutExpired as e:
            output, code = (e.stdout or b"").decode(errors="replace") + "\n(timed out)\n", 124
        if code == 0:
            if args.verbose:
                print(output, end="")
            print(f"ok   {rel}: {count} examples")
            continue
        failed += 1
        m = FAILED.search(output)
        where = m.group(1) if m else None
        output = FAILED.sub("", output).rstrip()
        print(f"FAIL {rel}: exit status {code}")
        example = None
        if where:
            line = int(where.rsplit(":", 1)[1])
            example = next((c for b in blocks for c in b.commands if c.line == line), None)
        if example:
            print(f"the example at {where}:")
            print("    " + example.text.replace("\n", "\n    "))
        tail = output.splitlines()[-60:]
        print("its output (the last lines):" if tail else "no output")
        for text in tail:
            print("    " + text[:400])
    if failed:
        print(f"{failed} file(s) with a failing example", file=sys.stderr)
        return 1
    print(f"all {total} examples passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
