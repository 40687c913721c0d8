"""Why a start failed, in words: exit code, what it printed, the ERROR lines of its logs."""

from __future__ import annotations

import re
from pathlib import Path

from obcp.agent.process_record import describe_exit
from obcp.agent.seekdb_log import error_lines, read_since

STDOUT_FILE = "obcp-seekdb-stdout.log"
# What seekdb prints on stdout for every start; anything else there is a message worth showing.
_STDOUT_BOILERPLATE = (
    "Starting seekdb",
    "Change working directory",
    "The log file is in",
    # What it adds when it daemonizes (the stand-in of an OceanBase home runs it so).
    "The seekdb will be started as a daemon",
    "Start seekdb with --nodaemon",
)
_USUAL_CAUSES = (
    "a bad parameter value (for example memory_budget below 1G or log_disk_size below 2G) or missing or "
    "corrupt data files (store/sstable/block_file, store/redo, meta.db)"
)
EMPTY_LOG_HINT = f"it exited with an empty log, which usually means {_USUAL_CAUSES}"
# seekdb writes its log from a background thread and exit(1) does not wait for it: measured, a start
# with log_disk_size=1G logged its ERROR lines in only 2 of 8 tries, the others stopping at step 8/14.
NO_ERROR_LINE_HINT = (
    "its log has no ERROR line for this start (seekdb can exit before writing it); the last start step "
    "it logged: {step}; the usual causes are " + _USUAL_CAUSES
)
ALREADY_RUNNING_EXIT = 96
# What the error codes seekdb logs when a start fails mean for whoever reads the message.
KNOWN_ERRCODES: dict[int, str] = {
    -4013: "OB_ALLOCATE_MEMORY_FAILED: not enough memory, or a truncated block_file",
    -4015: "OB_ERR_SYS: store/ is missing while etc/ is there",
    -4016: "OB_ERR_UNEXPECTED: at the net frame step this means the SQL port was taken",
    -4070: "a redo log block is corrupted",
    -4152: "OB_ERR_NULL_VALUE: the data of an interrupted first start",
    -4184: "OB_SERVER_OUTOF_DISK_SPACE: datafile_size is larger than the free disk space",
    -4264: "OB_LOG_OUTOF_DISK_SPACE: log_disk_size is larger than the free disk space",
    -4719: "OB_LS_NOT_EXIST: store/slog is missing",
    -4736: "OB_RESOURCE_UNIT_VALUE_INVALID: a resource setting is invalid (log_disk_size below 2G?)",
}
_ERRCODE = re.compile(r"\[errcode=(-?\d+)\]")
# `[time] ERROR [MOD] fn (file.cpp:N) [tid][thread][trace] [lt=N]` in front of the text that matters.
_PREFIX = re.compile(r"^\[[^\]]*\]\s+(\w+)\s.*?\[lt=\d+\]\s*")
_START_STEP = re.compile(r"\[server_start \d+/\d+\][^\n]*")
_BOILERPLATE = " you may find solutions in previous error logs or seek help from official technicians."


def concise(line: str) -> str:
    match = _PREFIX.match(line)
    text = line[match.end() :] if match else line
    return text.replace(_BOILERPLATE, "").strip()


def explain_errcodes(lines: list[str]) -> list[str]:
    codes = {int(c) for line in lines for c in _ERRCODE.findall(line)}
    return [f"{code} is {KNOWN_ERRCODES[code]}" for code in sorted(codes) if code in KNOWN_ERRCODES]


def stdout_lines(base_dir: Path, stdout_file: Path | None = None) -> list[str]:
    try:
        text = (stdout_file or base_dir / "log" / STDOUT_FILE).read_text(errors="replace")
    except OSError:
        return []
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return [ln[:300] for ln in lines if not ln.startswith(_STDOUT_BOILERPLATE)][-5:]


def early_exit_message(
    code: int,
    elapsed: float,
    base_dir: Path,
    log_file: Path,
    log_offset: int,
    first_start_parameters: dict[str, str] | None,
) -> str:
    """A seekdb that exited while the agent waited for it to be ready."""
    said = stdout_lines(base_dir)
    return exit_report("seekdb", code, elapsed, said, [(log_file, log_offset)], first_start_parameters)


def exit_report(
    program: str,
    code: int | None,
    elapsed: float,
    said: list[str],
    logs: list[tuple[Path, int]],
    first_start_parameters: dict[str, str] | None,
) -> str:
    """`code` is None for a daemon, whose exit code nobody but its parent (init) learns; `logs` are the
    log files with their size before the start, so only this start's lines are read."""
    if code is None:
        parts = [f"{program} exited {elapsed:.1f} s after start (a daemon: its exit code is not known)"]
    else:
        parts = [f"{program} {describe_exit(code)} {elapsed:.1f} s after start"]
    if code == ALREADY_RUNNING_EXIT and program == "seekdb":
        parts.append("seekdb reports that this base dir is already in use by another seekdb process")
    if said:
        parts.append("it printed: " + " | ".join(said))
    texts = [(log_file, read_since(log_file, offset)) for log_file, offset in logs]
    found = [(log_file, error_lines(text)) for log_file, text in texts]
    found = [(log_file, errors) for log_file, errors in found if errors]
    for log_file, errors in found:
        parts.append(f"ERROR lines of {log_file}: " + " | ".join(concise(e) for e in errors))
        parts += explain_errcodes(errors)
    if not found and not said:
        parts.append(_no_error_line_hint(program, "".join(text for _, text in texts), [p for p, _ in logs]))
    if first_start_parameters is not None:
        settings = ", ".join(f"{k}={v}" for k, v in first_start_parameters.items())
        parts.append(f"first-start parameters: {settings}")
    return "; ".join(parts)


def _no_error_line_hint(program: str, text: str, log_files: list[Path]) -> str:
    if program != "seekdb":
        names = " or ".join(str(p) for p in log_files)
        return f"no ERROR line for this start in {names}"
    steps = _START_STEP.findall(text)
    return NO_ERROR_LINE_HINT.format(step=steps[-1].strip()) if steps else EMPTY_LOG_HINT
