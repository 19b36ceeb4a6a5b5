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


def _log_failed_statements(path):
    """Append every statement the server refuses, with its error, to
    <path> (one JSON object a line): the raw material of TRIAGE.md."""
    import json

    original = pymysql.cursors.Cursor.execute

    def execute(self, query, args=None):
        try:
            return original(self, query, args)
        except pymysql.err.MySQLError as exc:
            try:
                sql = self.mogrify(query, args)
            except Exception:  # the statement itself is what we report
                sql = query
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps({"error": list(exc.args), "sql": sql}) + "\n")
            raise

    pymysql.cursors.Cursor.execute = execute


if os.environ.get("DJANGO_FAILED_SQL_LOG"):
    _log_failed_statements(os.environ["DJANGO_FAILED_SQL_LOG"])
