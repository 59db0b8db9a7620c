"""Operator errors: checked before a run starts, reported as one line, never a traceback.

A wrong setting, a missing file, an address that is no address: these are the operator's
to fix, so ``neakta`` says what and where in one line on stderr and exits with status 2
(:data:`OPERATOR_EXIT`). :func:`describe` turns the exceptions that mean such a mistake
into that line; :func:`redact` takes every secret of the settings out of any message.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError

__all__ = [
    "OPERATOR_EXIT",
    "OperatorError",
    "check_bootstrap",
    "check_inputs",
    "check_positive",
    "check_readable_file",
    "check_rule_paths",
    "check_writable_file",
    "describe",
    "describe_settings_error",
    "redact",
]

OPERATOR_EXIT: Final = 2
"""Exit status of a run stopped by an operator error."""

_RULE_SUFFIXES: Final = (".yml", ".yaml")
_HOST_PORT: Final = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")
_USERINFO: Final = re.compile(r"(?<=://)[^/@\s]+@")


class OperatorError(Exception):
    """A mistake in the command line, the settings or the files named; one line to show."""


def redact(text: str, secrets: Iterable[SecretStr | str | None] = ()) -> str:
    """``text`` without the given secrets nor the user part of URLs.

    >>> redact("login as neakta:s3cret failed at https://u:p@es:9200", ["s3cret"])
    'login as neakta:*** failed at https://***@es:9200'
    """
    for secret in secrets:
        value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if value:
            text = text.replace(value, "***")
    return _USERINFO.sub("***@", text)


def check_positive(value: int | float, *, option: str, env: str) -> None:
    """A count or size that must be above zero.

    >>> try:
    ...     check_positive(0, option="--batch-size", env="NEAKTA_BATCH_SIZE")
    ... except OperatorError as error:
    ...     print(error)
    --batch-size must be a positive number, not 0 (env NEAKTA_BATCH_SIZE)
    """
    if value <= 0:
        raise OperatorError(f"{option} must be a positive number, not {value:g} (env {env})")


def check_inputs(paths: Sequence[Path]) -> None:
    """Every input file or folder exists."""
    for path in paths:
        if not path.exists():
            raise OperatorError(f"input {path}: no such file or folder")


def check_readable_file(path: Path | None, *, what: str, env: str) -> None:
    """A lookup file that must exist and be a file (None: not configured)."""
    if path is None:
        return
    if path.is_dir():
        raise OperatorError(f"{what} {path}: a folder, not a file (env {env})")
    if not path.is_file():
        raise OperatorError(f"{what} {path}: no such file (env {env})")
    try:
        with path.open("rb"):
            pass
    except OSError as error:
        raise OperatorError(f"{what} {path}: {error.strerror} (env {env})") from error


def check_writable_file(path: Path | str, *, what: str, option: str) -> None:
    """A file neakta writes (created later, with its folder): it must be writable.

    Nothing is created here: an existing file must be writable, a new one needs its
    nearest existing folder to be writable (and no file on the way).
    """
    if str(path) in ("-", ":memory:"):
        return
    target = Path(path)
    if target.is_dir():
        raise OperatorError(f"{option} {target}: a folder, not a file ({what})")
    if target.exists():
        if not os.access(target, os.W_OK):
            raise OperatorError(f"{option} {target}: cannot write the {what}: permission denied")
        return
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise OperatorError(f"{option} {target}: cannot write the {what}: {folder} is a file")
    if not os.access(folder, os.W_OK):
        raise OperatorError(f"{option} {target}: cannot write the {what}: {folder} is read-only")


def check_rule_paths(paths: Sequence[Path]) -> None:
    """Every rule path exists and holds at least one rule file (``.yml``/``.yaml``)."""
    for path in paths:
        if not path.exists():
            raise OperatorError(f"--rules {path}: no such file or folder")
        if path.is_dir():
            found = any(p.suffix in _RULE_SUFFIXES and p.is_file() for p in path.rglob("*"))
            if not found:
                raise OperatorError(f"--rules {path}: no rule file (.yml, .yaml) in this folder")


def check_bootstrap(servers: str) -> None:
    """``host:port[,host:port...]``, ports 1-65535.

    >>> check_bootstrap("broker:9092,10.0.0.2:9093")
    >>> try:
    ...     check_bootstrap("broker")
    ... except OperatorError as error:
    ...     print(error)
    malformed Kafka bootstrap address 'broker': expected host:port[,host:port...]
    """
    for part in servers.split(","):
        match = _HOST_PORT.match(part.strip())
        if match is None or not 0 < int(match.group(1)) < 65536:
            raise OperatorError(
                f"malformed Kafka bootstrap address {part.strip()!r}: "
                "expected host:port[,host:port...]"
            )


def _env_name(location: Sequence[int | str]) -> str:
    return "NEAKTA_" + "__".join(str(part).upper() for part in location if isinstance(part, str))


def describe_settings_error(error: ValidationError | SettingsError) -> str:
    """One line for a setting that cannot be read (the value itself is never shown).

    >>> from neakta.settings import Settings
    >>> try:
    ...     Settings(batch_size="many")
    ... except ValidationError as error:
    ...     print(describe_settings_error(error))
    setting NEAKTA_BATCH_SIZE: Input should be a valid integer, unable to parse string as an integer
    """
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"setting {_env_name(first['loc'])}: {first['msg']}"
    # pydantic-settings names the top field only: find the variable that is not JSON.
    match = re.search(r'field "([^"]+)"', str(error))
    field = match.group(1) if match else ""
    prefix = f"NEAKTA_{field.upper()}"
    for name, value in sorted(os.environ.items()):
        if name.upper() == prefix or name.upper().startswith(prefix + "__"):
            try:
                json.loads(value)
            except ValueError:
                if value.strip().startswith(("[", "{")) or _expects_json(name):
                    return (
                        f"setting {name}: not valid JSON; lists and maps are written as "
                        'JSON, e.g. ["a.csv", "b.csv"]'
                    )
    return f"setting {prefix}: cannot be read: {type(error).__name__}"


def _expects_json(name: str) -> bool:
    """Whether a setting is a list or map (given as JSON in the environment)."""
    from neakta.settings import Settings

    model: object = Settings
    parts = name.upper().removeprefix("NEAKTA_").lower().split("__")
    for part in parts:
        fields = getattr(model, "model_fields", {})
        info = fields.get(part)
        if info is None:
            return False
        model = info.annotation
    text = str(model)
    return any(kind in text for kind in ("tuple", "list", "dict"))


def describe(error: BaseException) -> str | None:
    """The operator's line for ``error``, or None when it is not an operator error."""
    if isinstance(error, OperatorError):
        return str(error)
    if isinstance(error, (ValidationError, SettingsError)):
        return describe_settings_error(error)
    if isinstance(error, sqlite3.Error):
        return f"SQLite: {error}"
    files = (IsADirectoryError, NotADirectoryError, PermissionError, FileNotFoundError)
    if isinstance(error, files):
        where = error.filename or ""
        return f"{where}: {error.strerror}" if where else str(error)
    kind = type(error)
    module = kind.__module__.split(".")[0]
    if module in ("enrich", "detect", "ingest", "respond") and not getattr(
        error, "retriable", False
    ):
        return str(error)
    if module == "aiokafka":
        return f"Kafka: {error}"
    return None
