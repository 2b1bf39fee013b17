# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import base64

from ansible_collections.xoauth2.mail.plugins.module_utils._xoauth2 import (
    decode_error_challenge, oauthbearer_initial_response, xoauth2_initial_response)


def test_xoauth2_layout():
    raw = base64.b64decode(xoauth2_initial_response("a@b.test", "tok"))
    assert raw == b"user=a@b.test\x01auth=Bearer tok\x01\x01"


def test_oauthbearer_escapes_gs2_name():
    raw = base64.b64decode(oauthbearer_initial_response("a,b=c@x", "tok", "smtp.x", 587))
    assert raw == b"n,a=a=2Cb=3Dc@x,\x01host=smtp.x\x01port=587\x01auth=Bearer tok\x01\x01"


def test_gmail_style_error_challenge_is_decoded():
    challenge = base64.b64encode(b'{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}')
    assert decode_error_challenge(challenge)["status"] == "400"
    assert decode_error_challenge("not base64!") is None
