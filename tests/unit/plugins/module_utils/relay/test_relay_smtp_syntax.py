# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""MAIL/RCPT syntax: what reaches upstream is well-formed (no control characters, balanced <>, xtext, known values)."""
from __future__ import annotations

import pytest

from strict_upstream import RawClient, StrictRelay


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    instance = StrictRelay(tmp_path_factory.mktemp("syntax"))
    yield instance
    instance.close()


@pytest.fixture
def client(relay):
    instance = RawClient(relay.port)
    instance.login()
    yield instance
    instance.close()


MAIL_CASES = [
    (b"FROM:<a@example.test>", 250),
    (b"FROM:<>", 250),
    (b"FROM: <a@example.test>", 250),
    (b"FROM:a@example.test", 250),
    (b"FROM:<a@example.test> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=id+2B1 AUTH=<>", 250),
    (b"FROM:<a@example.test> body=7bit ret=full", 250),
    (b"FROM:<a\x01b@example.test>", 501),
    (b"FROM:<a@example.test> ENVID=a\x7fb", 501),
    (b"FROM:<a@example.test\x0b>", 501),
    (b"FROM:<a@example.test", 501),
    (b"FROM:a@example.test>", 501),
    (b"FROM:<<a@example.test>>", 501),
    (b"FROM:<a@example.test>x", 501),
    (b"FROM:<a@example.test> SIZE=1 SIZE=2", 501),
    (b"FROM:<a@example.test> SIZE=12k", 501),
    (b"FROM:<a@example.test> SIZE=", 501),
    (b"FROM:<a@example.test> BODY=BINARYMIME", 501),
    (b"FROM:<a@example.test> RET=ALL", 501),
    (b"FROM:<a@example.test> RET", 501),
    (b"FROM:<a@example.test> ENVID=bad+zz", 501),
    (b"FROM:<a@example.test> ENVID=a=b", 501),
    (b"FROM:<a@example.test> ENVID=" + b"x" * 101, 501),
    (b"FROM:<a@example.test> SMTPUTF8=yes", 501),
    (b"FROM:<a@example.test> X-SMUGGLE=1", 555),
    (b"TO:<a@example.test>", 501),
]


@pytest.mark.parametrize("arg,code", MAIL_CASES, ids=[repr(c[0])[2:40] for c in MAIL_CASES])
def test_mail_argument(relay, client, arg, code):
    before = list(relay.upstream.commands)
    reply = client.command(b"MAIL " + arg)
    assert reply[0] == code, reply
    if code != 250:
        assert relay.upstream.commands == before  # nothing of it went upstream
    client.command(b"RSET")


RCPT_CASES = [
    (b"TO:<b@example.test>", 250),
    (b"TO:<b@example.test> NOTIFY=NEVER", 250),
    (b"TO:<b@example.test> NOTIFY=success,DELAY", 250),
    (b"TO:<b@example.test> ORCPT=rfc822;b+2Bx@example.test", 250),
    (b"TO:<b@example.test> NOTIFY=SUCCESS,NEVER", 501),
    (b"TO:<b@example.test> NOTIFY=SUCCESS,SUCCESS", 501),
    (b"TO:<b@example.test> NOTIFY=SOMETIMES", 501),
    (b"TO:<b@example.test> ORCPT=b@example.test", 501),
    (b"TO:<b@example.test> ORCPT=rfc822;bad+2", 501),
    (b"TO:<b@example.test> ORCPT=rfc822;a\xc3\xa9@example.test", 501),
    (b"TO:<b@example.test> NOTIFY=NEVER NOTIFY=NEVER", 501),
    (b"TO:<b@example.test\r>", 500),  # a bare CR: refused as a command line already
    (b"TO:<b@example.test", 501),
    (b"TO:<b@example.test> SIZE=1", 555),
    (b"FROM:<b@example.test>", 501),
]


@pytest.mark.parametrize("arg,code", RCPT_CASES, ids=[repr(c[0])[2:48] for c in RCPT_CASES])
def test_rcpt_argument(relay, client, arg, code):
    assert client.command(b"MAIL FROM:<a@example.test>")[0] == 250
    reply = client.command(b"RCPT " + arg)
    assert reply[0] == code, reply
    client.command(b"RSET")


def test_replies_name_what_is_wrong():
    from ansible_collections.xoauth2.mail.plugins.module_utils._relay.smtp_syntax import (
        SyntaxRefused, check_mail_params, check_rcpt_params, parse_path)
    cases = [("FROM:<a@b.test> RET=ALL", "RET"), ("FROM:<a@b.test> SIZE=1 SIZE=1", "given twice"),
             ("FROM:<a@b.test", "Unbalanced"), ("FROM:<a\x00@b.test>", "Control characters"),
             ("FROM:<a@b.test> ENVID=+", "ENVID")]
    for arg, words in cases:
        with pytest.raises(SyntaxRefused) as info:
            path, params = parse_path(arg, "FROM")
            check_mail_params(params)
        assert words in info.value.reply
    with pytest.raises(SyntaxRefused) as info:
        check_rcpt_params({"NOTIFY": "NEVER,DELAY"})
    assert "NOTIFY" in info.value.reply and info.value.reply.startswith("501")


def test_xtext_and_command_line_endings():
    from ansible_collections.xoauth2.mail.plugins.module_utils._relay.smtp_syntax import command_line_refusal, is_xtext
    assert is_xtext("abc+2B+3Dx") and is_xtext("a@b.test")
    assert not any(is_xtext(v) for v in ("", "a b", "a=b", "+2b", "+", "+2", "é", "a\x7f"))
    assert command_line_refusal(b"NOOP\r\n", "reject") is None
    assert command_line_refusal(b"NOOP\n", "normalize") is None
    assert "bare <LF>" in command_line_refusal(b"NOOP\n", "reject")
    assert "bare <CR>" in command_line_refusal(b"NO\rOP\r\n", "normalize")
