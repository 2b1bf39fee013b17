# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Strict syntax of MAIL/RCPT arguments and of command line endings.

What passes here is forwarded upstream, so it must not carry anything that a
server could read differently from us: no control characters (a bare CR or
LF would split the line into two commands upstream), balanced angle
brackets, well-formed ``xtext`` (RFC 3461 section 4) and only the values the
extensions define. Each refusal is ``(reply)`` text naming what is wrong.
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

MAIL_PARAMS = ("SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH")
RCPT_PARAMS = ("NOTIFY", "ORCPT")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# "FROM:" / "TO:", then a path in angle brackets (none nested) or a bare address, then parameters
_PATH = re.compile(r"^(FROM|TO):[ ]*(<[^<>]*>|[^<> ]+)(?:[ ]+(.*))?$", re.IGNORECASE)
_KEYWORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
# xtext: printable ASCII except "+" and "=", or "+" and two upper-case hex digits
_XTEXT = re.compile(r"^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})+$")
_ADDR_TYPE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$")  # an RFC 5322 atom
_NOTIFY_EVENTS = ("SUCCESS", "FAILURE", "DELAY")
MAX_ENVID = 100  # RFC 3461 section 4.4
MAX_SIZE_DIGITS = 20


class SyntaxRefused(Exception):
    """A MAIL/RCPT argument the relay will not pass on; ``reply`` is the SMTP answer."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


def command_line_refusal(raw: bytes, bare_newlines: str) -> Optional[str]:
    """The reply refusing a command line with a bare CR or a bare LF ending, or None if it is fine.

    ``raw`` is a complete line with its ending. A bare CR is refused in every mode
    (nothing legitimate sends one); a line ending in LF alone is accepted only in
    ``normalize`` mode, as if it had ended in CRLF.
    """
    body = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
    if b"\r" in body:
        return "500 5.5.2 Error: bare <CR> received; lines must end with <CR><LF>"
    if not raw.endswith(b"\r\n") and bare_newlines != "normalize":
        return "500 5.5.2 Error: bare <LF> received; lines must end with <CR><LF>"
    return None


def is_xtext(value: str) -> bool:
    return bool(_XTEXT.match(value))


def parse_path(arg: str, prefix: str) -> Tuple[str, Dict[str, Optional[str]]]:
    """(``<path>``, {KEYWORD: value}) from the argument of MAIL (prefix FROM) or RCPT (TO)."""
    command, usage = ("MAIL", "MAIL FROM:<address>") if prefix == "FROM" else ("RCPT", "RCPT TO:<address>")
    if _CONTROL.search(arg):
        raise SyntaxRefused("501 5.5.2 Control characters are not allowed in %s" % command)
    match = _PATH.match(arg)
    if not match or match.group(1).upper() != prefix:
        if "<" in arg.partition(" ")[0] or ">" in arg.partition(" ")[0]:
            raise SyntaxRefused("501 5.1.7 Unbalanced '<' or '>' in the %s address" % command)
        raise SyntaxRefused("501 5.5.4 Syntax: %s" % usage)
    path = match.group(2)
    if not path.startswith("<"):
        path = "<%s>" % path
    return path, _split_params(match.group(3) or "", command)


def _split_params(text: str, command: str) -> Dict[str, Optional[str]]:
    params: Dict[str, Optional[str]] = {}
    for item in text.split(" "):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not _KEYWORD.match(key):
            raise SyntaxRefused("501 5.5.4 Malformed %s parameter %r" % (command, key[:40]))
        key = key.upper()
        if key in params:
            raise SyntaxRefused("501 5.5.4 %s parameter %s given twice" % (command, key))
        if sep and not value:
            raise SyntaxRefused("501 5.5.4 %s parameter %s has an empty value" % (command, key))
        params[key] = value if sep else None
    return params


def check_mail_params(params: Dict[str, Optional[str]]) -> None:
    """Refuse unknown MAIL parameters (555) and malformed values (501)."""
    for key, value in params.items():
        if key not in MAIL_PARAMS:
            raise SyntaxRefused("555 5.5.4 Unsupported MAIL parameter %s" % key)
        if key == "SMTPUTF8":
            if value is not None:
                raise SyntaxRefused("501 5.5.4 SMTPUTF8 takes no value")
            continue
        if value is None:
            raise SyntaxRefused("501 5.5.4 MAIL parameter %s needs a value" % key)
        _check_mail_value(key, value)


def _check_mail_value(key: str, value: str) -> None:
    if key == "SIZE" and not (value.isascii() and value.isdigit() and len(value) <= MAX_SIZE_DIGITS):
        raise SyntaxRefused("501 5.5.4 Bad SIZE parameter (a number of bytes)")
    if key == "BODY" and value.upper() not in ("7BIT", "8BITMIME"):
        raise SyntaxRefused("501 5.5.4 Bad BODY parameter (7BIT or 8BITMIME)")
    if key == "RET" and value.upper() not in ("FULL", "HDRS"):
        raise SyntaxRefused("501 5.5.4 Bad RET parameter (FULL or HDRS)")
    if key == "ENVID" and (len(value) > MAX_ENVID or not is_xtext(value)):
        raise SyntaxRefused("501 5.5.4 Bad ENVID parameter (xtext of at most 100 characters)")
    if key == "AUTH" and value != "<>" and not is_xtext(value):
        raise SyntaxRefused("501 5.5.4 Bad AUTH parameter (xtext or <>)")


def check_rcpt_params(params: Dict[str, Optional[str]]) -> None:
    """Refuse unknown RCPT parameters (555) and malformed NOTIFY/ORCPT values (501)."""
    for key, value in params.items():
        if key not in RCPT_PARAMS:
            raise SyntaxRefused("555 5.5.4 Unsupported RCPT parameter %s" % key)
        if value is None:
            raise SyntaxRefused("501 5.5.4 RCPT parameter %s needs a value" % key)
        if key == "NOTIFY":
            _check_notify(value)
        else:
            addr_type, sep, address = value.partition(";")
            if not sep or not _ADDR_TYPE.match(addr_type) or not is_xtext(address):
                raise SyntaxRefused("501 5.5.4 Bad ORCPT parameter (addr-type;xtext, e.g. rfc822;a+2Bb@example.com)")


def _check_notify(value: str) -> None:
    events = value.upper().split(",")
    if events == ["NEVER"]:
        return
    if len(set(events)) != len(events) or any(event not in _NOTIFY_EVENTS for event in events):
        raise SyntaxRefused("501 5.5.4 Bad NOTIFY parameter (NEVER, or a list of SUCCESS, FAILURE, DELAY)")
