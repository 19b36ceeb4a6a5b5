#!/usr/bin/env python3
"""Turn the logs of tests/django/run.sh into numbers.

Each app's run (runtests.py -v 2) leaves <logs>/<server>/<app>.log and
<app>.status (the exit code of `timeout`: 124 means the app was cut off).
This module reads them and writes:

  summary.md          per app and server: tests, passed, failures, errors,
                      skipped, and the state of the run (ok / failed /
                      setup error / timeout)
  <server>/results.tsv  one line per test: app, test id, outcome
  <server>/causes.tsv   failures and errors grouped by their last traceback
                      line (the exception and its message), most tests first

Usage:
  summarize.py summary <logs> <out.md> <server>...
  summarize.py check <results.tsv> <expected-pass.txt>
      exit 1 if a test listed in expected-pass.txt did not pass
  summarize.py passes <results.tsv>
      print the ids of the tests that passed (to refresh the expected list)
"""

import collections
import difflib
import os
import re
import sys

# "test_x (app.tests.Class.test_x) ... ok"; a test with a docstring prints
# its first line between the id and the dots.
TEST_LINE = re.compile(
    r"^(?P<name>\w+) \((?P<id>[\w.]+)\)\n?(?:[^\n]*?)? \.\.\. "
    r"(?P<outcome>ok|FAIL|ERROR|skipped|expected failure|unexpected success)",
    re.M,
)
# A class- or module-level fixture that failed: "setUpClass (app.tests.Class) ... ERROR"
FIXTURE_LINE = re.compile(
    r"^(?P<name>setUpClass|tearDownClass|setUpModule|tearDownModule) "
    r"\((?P<id>[\w.]+)\) \.\.\. (?P<outcome>ERROR|FAIL)",
    re.M,
)
FOUND = re.compile(r"^Found (\d+) test\(s\)\.", re.M)
RAN = re.compile(r"^Ran (\d+) tests? in ([\d.]+)s", re.M)
TOTALS = re.compile(r"^(OK|FAILED)(?: \((.*)\))?$", re.M)
# The report of one failing test: a line of '=', "ERROR: name (id)", a line
# of '-', the traceback, up to the next report or the final separator.
REPORT = re.compile(
    r"^={70}\n(?P<kind>ERROR|FAIL): (?P<name>\S+) \((?P<id>[^)]*)\)[^\n]*\n"
    r"(?:[^\n]*\n)*?-{70}\n(?P<body>.*?)(?=^={70}\n|^-{70}\nRan |\Z)",
    re.M | re.S,
)

EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Failure|Exit)\b")

OUTCOMES = {
    "ok": "passed",
    "FAIL": "failures",
    "ERROR": "errors",
    "skipped": "skipped",
    "expected failure": "passed",
    "unexpected success": "failures",
}


def parse_log(text):
    """Per-test outcomes and the totals of one app's log."""
    results = {}
    for m in TEST_LINE.finditer(text):
        results[m.group("id")] = OUTCOMES[m.group("outcome")]
    for m in FIXTURE_LINE.finditer(text):
        results[f"{m.group('name')} ({m.group('id')})"] = OUTCOMES[m.group("outcome")]
    found = FOUND.search(text)
    ran = RAN.search(text)
    totals = {"found": int(found.group(1)) if found else 0}
    if ran:
        totals["ran"] = int(ran.group(1))
        totals["seconds"] = float(ran.group(2))
    verdict = TOTALS.findall(text)
    if verdict:
        word, detail = verdict[-1]
        totals["verdict"] = word
        for part in filter(None, (p.strip() for p in detail.split(","))):
            key, _, value = part.partition("=")
            totals[key.strip()] = int(value)
    return results, totals


def causes(text):
    """(test id, cause) for every FAIL/ERROR report in the log; the cause is
    the last line of the traceback, with volatile details (object ids,
    generated names) left as they are: they rarely vary in one suite."""
    out = []
    for m in REPORT.finditer(text):
        lines = [ln for ln in m.group("body").strip().splitlines() if ln.strip()]
        # The exception line, not what follows it (assertNumQueries lists
        # the captured queries after its message).
        raised = [ln for ln in lines if EXCEPTION_LINE.match(ln)]
        cause = (raised[-1] if raised else lines[-1] if lines else "(no traceback)").strip()
        # An exception with a long message: keep the first 300 characters.
        out.append((m.group("id"), f"{m.group('kind')}: {cause[:300]}"))
    return out


def setup_error(text):
    """The exception that stopped an app before any test ran, if any."""
    if RAN.search(text):
        return None
    tail = [ln for ln in text.strip().splitlines() if ln.strip()]
    for line in reversed(tail):
        if re.match(r"^[\w.]+(Error|Exception|Exit)\b", line):
            return line.strip()[:300]
    return tail[-1].strip()[:300] if tail else "(empty log)"


def app_row(logs, server, app):
    base = os.path.join(logs, server, app)
    try:
        with open(base + ".log", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return None, {}, []
    status = None
    if os.path.exists(base + ".status"):
        with open(base + ".status") as f:
            status = int(f.read().strip() or "0")
    results, totals = parse_log(text)
    counts = collections.Counter(results.values())
    row = {
        "tests": totals["found"],
        "passed": counts["passed"],
        "failures": counts["failures"],
        "errors": counts["errors"],
        "skipped": counts["skipped"],
    }
    if status == 124 or status == 137:
        row["state"] = "TIMEOUT"
        row["tests"] = totals["found"]
        # Tests the cut-off run never reached count as errors.
        row["errors"] = row["tests"] - row["passed"] - row["failures"] - row["skipped"]
    elif "ran" not in totals:
        row["state"] = "setup error: " + (setup_error(text) or "?")
        row["tests"] = totals["found"]
        row["errors"] = totals["found"]
    else:
        row["state"] = "ok" if totals.get("verdict") == "OK" else "failed"
        # Counted per test so the columns add up to the tests found: a test
        # that errs in its body and again in tearDown counts once, and the
        # tests of a class whose setUpClass failed (never run) count as errors.
        row["tests"] = totals["found"] or len(results)
        row["errors"] = row["tests"] - row["passed"] - row["failures"] - row["skipped"]
        row["seconds"] = totals.get("seconds")
    return row, results, causes(text)


def summary(logs, out_md, servers):
    apps = []
    for server in servers:
        d = os.path.join(logs, server)
        if os.path.isdir(d):
            for name in sorted(os.listdir(d)):
                if name.endswith(".log") and name[:-4] not in apps and not name.startswith("_"):
                    apps.append(name[:-4])
    order_file = os.path.join(logs, "apps.txt")
    if os.path.exists(order_file):
        with open(order_file) as f:
            listed = f.read().split()
        apps = [a for a in listed if a in apps] + [a for a in apps if a not in listed]

    lines = ["# Django test suite: trireme vs MariaDB", ""]
    for name, label in (("trireme-binary.txt", "trireme"), ("mariadb-version.txt", "reference")):
        p = os.path.join(logs, name)
        if os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                lines += [f"{label}: {f.read().strip()}  "]
    if lines[-1] != "":
        lines.append("")
    migrate = []
    for server in servers:
        p = os.path.join(logs, server, "_migrate.status")
        if os.path.exists(p):
            with open(p) as f:
                code = f.read().strip()
            migrate.append(f"{server}: {'ok' if code == '0' else 'FAILED (exit ' + code + ')'}")
    if migrate:
        lines += ["`migrate` (auth, contenttypes, sessions, messages, admin): " + "; ".join(migrate), ""]
    lines += compare_migrated_schema(logs, servers)
    header = "| app |"
    sep = "|---|"
    for server in servers:
        header += f" {server} tests | passed | fail | err | skip | state |"
        sep += "---:|---:|---:|---:|---:|---|"
    lines += [header, sep]
    totals = {s: collections.Counter() for s in servers}
    notes = []
    for app in apps:
        line = f"| {app} |"
        for server in servers:
            row, results, found_causes = app_row(logs, server, app)
            if row is None:
                line += " - | - | - | - | - | not run |"
                continue
            for k in ("tests", "passed", "failures", "errors", "skipped"):
                totals[server][k] += row[k]
            state = row["state"]
            if state.startswith("setup error: "):
                # The message goes under the table: it would widen every row.
                notes.append(f"- {server} / {app}: {state}")
                state = "setup error"
            line += (
                f" {row['tests']} | {row['passed']} | {row['failures']} | {row['errors']}"
                f" | {row['skipped']} | {state} |"
            )
        lines.append(line)
    line = "| **total** |"
    for server in servers:
        t = totals[server]
        line += f" {t['tests']} | {t['passed']} | {t['failures']} | {t['errors']} | {t['skipped']} | |"
    lines.append(line)
    lines.append("")
    if notes:
        lines += ["Setup errors (the app's models could not be created; all its tests count as errors):", ""]
        lines += notes + [""]

    for server in servers:
        write_server_files(logs, server, apps)
    with open(out_md, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


def compare_migrated_schema(logs, servers):
    """Lines for the summary: does every trireme variant describe the
    migrated contrib tables (information_schema columns, indexes, foreign
    keys) as MariaDB does? The differences go to <logs>/<server>/migrate-schema.diff."""
    def read(server):
        p = os.path.join(logs, server, "_migrate_schema.tsv")
        if not os.path.exists(p):
            return None
        with open(p, encoding="utf-8") as f:
            return f.read().splitlines()

    reference = read("mariadb") if "mariadb" in servers else None
    if reference is None:
        return []
    out = []
    for server in servers:
        rows = read(server)
        if server == "mariadb" or rows is None:
            continue
        diff = list(difflib.unified_diff(reference, rows, "mariadb", server, lineterm="", n=0))
        changed = [d for d in diff if d[:1] in "+-" and not d.startswith(("+++", "---"))]
        with open(os.path.join(logs, server, "migrate-schema.diff"), "w", encoding="utf-8") as f:
            f.write("\n".join(diff) + "\n")
        if changed:
            out.append(
                f"Migrated schema, {server} vs mariadb: {len(changed)} differing "
                f"information_schema rows ({server}/migrate-schema.diff)"
            )
        else:
            out.append(f"Migrated schema, {server} vs mariadb: identical ({len(rows)} information_schema rows)")
    return out + [""] if out else []


def write_server_files(logs, server, apps):
    d = os.path.join(logs, server)
    if not os.path.isdir(d):
        return
    grouped = collections.defaultdict(list)
    with open(os.path.join(d, "results.tsv"), "w", encoding="utf-8") as out:
        for app in apps:
            row, results, found_causes = app_row(logs, server, app)
            if row is None:
                continue
            for test_id, outcome in sorted(results.items()):
                out.write(f"{app}\t{test_id}\t{outcome}\n")
            for test_id, cause in found_causes:
                # Subtests report once each: count a test once per cause.
                if f"{app}:{test_id}" not in grouped[cause]:
                    grouped[cause].append(f"{app}:{test_id}")
            if row["state"].startswith("setup error"):
                grouped["SETUP " + row["state"][len("setup error: "):]].append(
                    f"{app}:(all {row['tests']} tests)"
                )
            if row["state"] == "TIMEOUT":
                grouped["TIMEOUT"].append(f"{app}:(the app's run)")
    with open(os.path.join(d, "causes.tsv"), "w", encoding="utf-8") as out:
        for cause, tests in sorted(grouped.items(), key=lambda kv: -len(kv[1])):
            out.write(f"{len(tests)}\t{cause}\t{' '.join(tests[:20])}\n")


def load_results(path):
    res = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            app, test_id, outcome = line.rstrip("\n").split("\t")
            res[test_id] = outcome
    return res


def check(results_path, expected_path):
    res = load_results(results_path)
    with open(expected_path, encoding="utf-8") as f:
        expected = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    lost = [t for t in expected if res.get(t) != "passed"]
    newly = sorted(t for t, o in res.items() if o == "passed" and t not in set(expected))
    print(f"expected to pass: {len(expected)}; now passing: "
          f"{sum(1 for o in res.values() if o == 'passed')}")
    if newly:
        print(f"{len(newly)} test(s) pass that are not in {expected_path} "
              "(refresh it with run.sh --ci --update-expected):")
        for t in newly[:50]:
            print("  +", t)
    if lost:
        print(f"REGRESSION: {len(lost)} test(s) in {expected_path} did not pass:")
        for t in lost:
            print(f"  - {t}: {res.get(t, 'not run')}")
        return 1
    return 0


def main(argv):
    if len(argv) >= 4 and argv[1] == "summary":
        summary(argv[2], argv[3], argv[4:])
        return 0
    if len(argv) == 4 and argv[1] == "check":
        return check(argv[2], argv[3])
    if len(argv) == 3 and argv[1] == "passes":
        for t, o in sorted(load_results(argv[2]).items()):
            if o == "passed":
                print(t)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
