"""Unit tests of summarize.py's parsing of runtests.py -v 2 logs
(python3 tests/django/test_summarize.py; run by run.sh --ci first)."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import summarize  # noqa: E402

SEP = "=" * 70
DASH = "-" * 70

LOG = f"""Found 5 test(s).
Creating test database for alias 'default'...
test_a (app.tests.T.test_a) ... ok
test_b (app.tests.T.test_b)
A docstring line. ... FAIL
test_c (app.tests.T.test_c) ... ERROR
test_d (app.tests.T.test_d) ... skipped 'no feature'
test_e (app.tests.T.test_e) ... expected failure

{SEP}
ERROR: test_c (app.tests.T.test_c)
{DASH}
Traceback (most recent call last):
  File "x.py", line 1, in f
django.db.utils.NotSupportedError: (1235, "no TIME")

{SEP}
FAIL: test_b (app.tests.T.test_b)
A docstring line.
{DASH}
Traceback (most recent call last):
AssertionError: 3 != 2 : 3 queries executed, 2 expected
Captured queries were:
1. SELECT 1

{DASH}
Ran 5 tests in 0.100s

FAILED (failures=1, errors=1, skipped=1, expected failures=1)
"""

SETUP_FAILURE = """Found 82 test(s).
Creating test database for alias 'default'...
Traceback (most recent call last):
  File "runtests.py", line 1, in <module>
pymysql.err.NotSupportedError: (1235, "UUID")

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
django.db.utils.NotSupportedError: (1235, "UUID")
"""


class ParseTests(unittest.TestCase):
    def test_outcomes_per_test(self):
        results, totals = summarize.parse_log(LOG)
        self.assertEqual(
            results,
            {
                "app.tests.T.test_a": "passed",
                "app.tests.T.test_b": "failures",
                "app.tests.T.test_c": "errors",
                "app.tests.T.test_d": "skipped",
                "app.tests.T.test_e": "passed",
            },
        )
        self.assertEqual(totals["found"], 5)
        self.assertEqual(totals["ran"], 5)
        self.assertEqual(totals["verdict"], "FAILED")

    def test_causes_are_the_exception_lines(self):
        self.assertEqual(
            summarize.causes(LOG),
            [
                ("app.tests.T.test_c", 'ERROR: django.db.utils.NotSupportedError: (1235, "no TIME")'),
                ("app.tests.T.test_b", "FAIL: AssertionError: 3 != 2 : 3 queries executed, 2 expected"),
            ],
        )

    def write(self, d, server, app, text, status):
        os.makedirs(os.path.join(d, server), exist_ok=True)
        with open(os.path.join(d, server, app + ".log"), "w") as f:
            f.write(text)
        with open(os.path.join(d, server, app + ".status"), "w") as f:
            f.write(str(status))

    def test_rows_add_up_and_setup_errors_and_timeouts_are_reported(self):
        with tempfile.TemporaryDirectory() as d:
            self.write(d, "trireme", "app", LOG, 1)
            self.write(d, "trireme", "basic", SETUP_FAILURE, 1)
            self.write(d, "trireme", "slow", "Found 7 test(s).\ntest_a (slow.T.test_a) ... ok\n", 124)
            row, _, _ = summarize.app_row(d, "trireme", "app")
            self.assertEqual(
                (row["tests"], row["passed"], row["failures"], row["errors"], row["skipped"], row["state"]),
                (5, 2, 1, 1, 1, "failed"),
            )
            row, _, _ = summarize.app_row(d, "trireme", "basic")
            self.assertEqual((row["tests"], row["errors"]), (82, 82))
            self.assertEqual(row["state"], 'setup error: django.db.utils.NotSupportedError: (1235, "UUID")')
            row, _, _ = summarize.app_row(d, "trireme", "slow")
            self.assertEqual((row["tests"], row["passed"], row["errors"], row["state"]), (7, 1, 6, "TIMEOUT"))
            out = os.path.join(d, "summary.md")
            summarize.summary(d, out, ["trireme"])
            with open(os.path.join(d, "trireme", "causes.tsv")) as f:
                first = f.readline().split("\t")
            self.assertEqual(first[0], "1")

    def test_check_fails_only_when_an_expected_test_does_not_pass(self):
        with tempfile.TemporaryDirectory() as d:
            res = os.path.join(d, "results.tsv")
            with open(res, "w") as f:
                f.write("app\tapp.T.a\tpassed\napp\tapp.T.b\terrors\napp\tapp.T.c\tpassed\n")
            exp = os.path.join(d, "expected.txt")
            with open(exp, "w") as f:
                f.write("# comment\napp.T.a\n")
            self.assertEqual(summarize.check(res, exp), 0)
            with open(exp, "a") as f:
                f.write("app.T.b\n")
            self.assertEqual(summarize.check(res, exp), 1)


if __name__ == "__main__":
    unittest.main()
