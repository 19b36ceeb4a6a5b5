"""Django test settings for tests/django/run.sh: the MySQL backend through
PyMySQL's MySQLdb shim, pointed at the server named by the environment
(DJANGO_DB_HOST, DJANGO_DB_PORT, DJANGO_DB_USER, DJANGO_DB_PASSWORD), so
one settings module serves both trireme and the reference MariaDB."""

import os

import pymysql

# Django's MySQL backend imports MySQLdb (mysqlclient); PyMySQL stands in for
# it and reports a mysqlclient version Django accepts.
pymysql.install_as_MySQLdb()


def _database(name):
    return {
        "ENGINE": "django.db.backends.mysql",
        "NAME": name,
        "HOST": os.environ.get("DJANGO_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("DJANGO_DB_PORT", "3306"),
        "USER": os.environ.get("DJANGO_DB_USER", "root"),
        "PASSWORD": os.environ.get("DJANGO_DB_PASSWORD", ""),
        "OPTIONS": {"charset": "utf8mb4"},
        "TEST": {"NAME": "test_" + name, "CHARSET": "utf8mb4"},
    }


# runtests.py needs both aliases: some apps (multiple_database, and
# migrations' multi-db tests) use "other".
DATABASES = {
    "default": _database("django_default"),
    "other": _database("django_other"),
}

SECRET_KEY = "django-tests-secret-key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = False


def _log_failed_statements(path, trace=False):
    """Append every statement the server refuses, with its error, to
    <path> (one JSON object a line): the raw material of TRIAGE.md. With
    trace, every statement is logged (error null when it succeeded)."""
    import json

    original = pymysql.cursors.Cursor.execute

    def execute(self, query, args=None):
        try:
            result = original(self, query, args)
            if trace:
                with open(path, "a", encoding="utf-8") as out:
                    out.write(json.dumps({"error": None, "sql": self._executed}) + "\n")
            return result
        # Matched by shape, not class: the test runner may load a second
        # copy of pymysql.err, whose classes are not the ones seen here.
        except Exception as exc:
            if not (exc.args and isinstance(exc.args[0], int)):
                raise
            try:
                sql = self.mogrify(query, args)
            except Exception:  # the statement itself is what we report
                sql = query
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps({"error": list(exc.args), "sql": sql}) + "\n")
            raise

    pymysql.cursors.Cursor.execute = execute


if os.environ.get("DJANGO_FAILED_SQL_LOG"):
    _log_failed_statements(
        os.environ["DJANGO_FAILED_SQL_LOG"], os.environ.get("DJANGO_SQL_TRACE") == "1"
    )


def _probe_shims():
    """Triage only (run.sh --probe): make Django avoid the DDL that trireme
    refuses today and that stops whole apps before their first test, so the
    failures behind it show up. Never used for the reported numbers.

    - UUID columns (MariaDB >= 10.7): Django's char(32) fallback instead.
    - TIME(6): varchar(15) (values round-trip as text, so tests that read a
      TimeField back still fail; the rest of the app runs).
    - DECIMAL with more than 28 digits: capped at 28."""
    from django.db.backends.mysql.base import DatabaseWrapper
    from django.db.backends.mysql.features import DatabaseFeatures

    DatabaseFeatures.has_native_uuid_field = False

    class CappedDecimal(str):
        def __mod__(self, params):
            params = dict(params)
            digits = min(int(params["max_digits"]), 28)
            params["max_digits"] = digits
            params["decimal_places"] = min(int(params["decimal_places"]), digits)
            return str.__mod__(self, params)

    # _data_types is the class-level table the data_types property copies.
    types = dict(DatabaseWrapper._data_types)
    types["TimeField"] = "varchar(15)"
    types["DecimalField"] = CappedDecimal(types["DecimalField"])
    DatabaseWrapper._data_types = types


if os.environ.get("DJANGO_PROBE_SHIMS") == "1":
    _probe_shims()
