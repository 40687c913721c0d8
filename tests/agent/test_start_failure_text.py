"""The words of a failed start, from a seekdb log and stdout written by hand."""

from __future__ import annotations

from pathlib import Path

from obcp.agent.start_failure import STDOUT_FILE, early_exit_message

ERROR_LINE = (
    "[2026-11-27 07:34:32.384711] ERROR [STORAGE] start (ob_server.cpp:1254) [3462][seekdb]"
    "[Y0-0000000000000001-0-0] [lt=26][errcode=-4736] [server_start 9/14] observer instance start fail."
    " you may find solutions in previous error logs or seek help from official technicians."
)


def write(base: Path, log: str, stdout: str) -> Path:
    (base / "log").mkdir(parents=True)
    (base / "log" / "seekdb.log").write_text(log)
    (base / "log" / STDOUT_FILE).write_text(stdout)
    return base / "log" / "seekdb.log"


def test_error_lines_are_shortened_and_codes_explained(tmp_path: Path) -> None:
    old = "[2026-11-27 07:00:00.000000] ERROR old start (x.cpp:1) [1][a][b] [lt=1][errcode=-4152] old\n"
    log = write(tmp_path, old + ERROR_LINE + "\n", "Starting seekdb (OceanBase seekdb 1.4.0.0)\n")
    message = early_exit_message(1, 0.4, tmp_path, log, len(old), {"log_disk_size": "1G"})
    assert message.startswith("seekdb exited with code 1 0.4 s after start; ERROR lines of ")
    assert "[errcode=-4736] [server_start 9/14] observer instance start fail." in message
    assert "official technicians" not in message and "ob_server.cpp" not in message
    assert "-4736 is OB_RESOURCE_UNIT_VALUE_INVALID" in message
    assert "-4152" not in message, "lines of earlier starts are not this start's cause"
    assert "first-start parameters: log_disk_size=1G" in message


def test_stdout_message_and_already_running(tmp_path: Path) -> None:
    stdout = "Starting seekdb\nStart seekdb failed. Did you started seekdb already?\n"
    log = write(tmp_path, "", stdout)
    message = early_exit_message(96, 0.4, tmp_path, log, 0, None)
    assert "already in use by another seekdb process" in message
    assert "it printed: Start seekdb failed. Did you started seekdb already?" in message
    assert "empty log" not in message and "first-start" not in message


def test_empty_log_is_said_plainly(tmp_path: Path) -> None:
    log = write(tmp_path, "", "Starting seekdb\n")
    message = early_exit_message(1, 0.1, tmp_path, log, 0, None)
    assert "it exited with an empty log, which usually means a bad parameter value" in message
    assert "missing or corrupt data files" in message
    assert early_exit_message(-9, 0.1, tmp_path, log, 0, None).startswith("seekdb was killed by signal 9")


def test_a_log_without_error_line_names_the_last_start_step(tmp_path: Path) -> None:
    # What seekdb leaves most of the time when log_disk_size is too small: it exits before the ERROR line.
    steps = "".join(
        f"[2026-11-27 10:24:11.9026{n}] INFO  [STORAGE] start (ob_server.cpp:1128) [32204][seekdb]"
        f"[Y0-0000000000000001-0-0] [lt=5] [server_start {n}/14] {what}\n"
        for n, what in ((6, "observer instance start begin."), (8, "block manager start success."))
    )
    log = write(tmp_path, steps, "Starting seekdb\n")
    message = early_exit_message(1, 0.3, tmp_path, log, 0, {"log_disk_size": "1G"})
    assert "its log has no ERROR line for this start (seekdb can exit before writing it)" in message
    assert "the last start step it logged: [server_start 8/14] block manager start success." in message
    assert "log_disk_size below 2G" in message and "empty log" not in message
    assert "first-start parameters: log_disk_size=1G" in message
