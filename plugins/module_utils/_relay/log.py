# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Logging to stderr, one ``key=value`` line per event; never a token, secret or body.

Only fields the helper chose are logged (addresses, counts, reply codes, error
categories); values are quoted so a hostile address cannot forge a field or a
line. Deliberately not the ``logging`` module: a message line is written on
every relayed message, and ``logging``'s records, formatter and locks cost
more than the rest of the relay's own work for that message.
"""

from __future__ import annotations

import json
import re
import sys
import time
from typing import Any, Dict

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
LEVELS = {"debug": DEBUG, "info": INFO, "warning": WARNING, "error": ERROR}
_NAMES = {DEBUG: "DEBUG", INFO: "INFO", WARNING: "WARNING", ERROR: "ERROR"}
_state: Dict[str, Any] = {"level": INFO, "stream": None, "second": -1, "stamp": ""}


def setup(level: str = "info", stream=None) -> None:
    _state["stream"] = stream
    set_level(level)


def set_level(level: str) -> None:
    _state["level"] = LEVELS.get(str(level).lower(), INFO)


def enabled(level: int) -> bool:
    return level >= _state["level"]


def _stamp() -> str:
    now = int(time.time())
    if now != _state["second"]:
        _state["second"] = now
        _state["stamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return _state["stamp"]


# a value written as it is: printable ASCII without space, '"', '=' or '\\' (at least one character)
_PLAIN = re.compile(r'[!#-<>-\[\]-~]+')


def _value(value) -> str:
    text = value if isinstance(value, str) else str(value)
    if _PLAIN.fullmatch(text) is None:
        text = json.dumps(text)  # quoted and escaped: no forged fields or lines
    return text


def event(level: int, name: str, **fields) -> None:
    if level < _state["level"]:
        return
    parts = [_stamp(), _NAMES[level], name]
    for key, value in fields.items():
        if value is not None:
            parts.append(key + "=" + _value(value))
    stream = _state["stream"] or sys.stderr
    try:
        stream.write(" ".join(parts) + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass  # a closed stderr must not stop mail


def debug(name: str, **fields) -> None:
    event(DEBUG, name, **fields)


def info(name: str, **fields) -> None:
    event(INFO, name, **fields)


def warning(name: str, **fields) -> None:
    event(WARNING, name, **fields)


def error(name: str, **fields) -> None:
    event(ERROR, name, **fields)
