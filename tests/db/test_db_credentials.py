"""The password file and pg_hba.conf as files: written private, read back, told apart from initdb's trust file."""

from __future__ import annotations

from pathlib import Path

from tasker_cluster.db.authentication import hba_text, requires_passwords, write_hba
from tasker_cluster.db.credentials import Credentials, generate_credentials, read_credentials, write_credentials


def test_the_password_file_is_private_and_reads_back_what_was_written(tmp_path: Path) -> None:
    credentials = Credentials(superuser_password=r"a:b\c", app_password="x" * 43)

    path = write_credentials(tmp_path, credentials)

    assert path.stat().st_mode & 0o777 == 0o600
    assert read_credentials(tmp_path) == credentials
    assert r"*:*:*:postgres:a\:b\\c" in path.read_text().splitlines()  # libpq's escaping of ':' and '\'


def test_generated_passwords_differ_and_need_no_quoting_in_a_url() -> None:
    first, second = generate_credentials(), generate_credentials()
    assert len({*first, *second}) == 4
    for password in first:
        assert len(password) >= 40 and all(c.isalnum() or c in "-_" for c in password)


def test_a_folder_without_a_complete_password_file_has_no_credentials(tmp_path: Path) -> None:
    assert read_credentials(tmp_path) is None
    (tmp_path / "tasker_cluster.pgpass").write_text("*:*:*:postgres:only-one\n")
    assert read_credentials(tmp_path) is None


def test_only_our_pg_hba_counts_as_requiring_passwords(tmp_path: Path) -> None:
    assert requires_passwords(tmp_path) is False
    (tmp_path / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    assert requires_passwords(tmp_path) is False
    write_hba(tmp_path)
    assert requires_passwords(tmp_path) is True
    rules = [line.split() for line in hba_text().splitlines() if not line.startswith("#")]
    assert {rule[-1] for rule in rules} == {"scram-sha-256"}
    assert [rule[0] for rule in rules] == ["local", "host", "host"]
