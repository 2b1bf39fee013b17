# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A writer killed at random moments leaves a readable token file, old or new."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile

from token_samples import make_record

WRITER = textwrap.dedent("""
    import sys, base64
    sys.path[:0] = [p for p in sys.argv[3].split(':') if p]
    from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
    from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant, TokenRecord
    tf = TokenFile(sys.argv[1], base64.b64decode(sys.argv[2]))
    n = 0
    print('ready', flush=True)
    while True:
        n += 1
        grant = TokenGrant(access_token='at-%d' % n + 'x' * 4000, expires_in=3600, requested_at=1.0e9,
                           refresh_token='rt-%d' % n)
        tf.replace(TokenRecord().with_grant(grant, 1.0e9))
""")


def _wait_for_replacement(path, limit=30.0):
    first = os.stat(path).st_ino
    deadline = time.monotonic() + limit
    while os.stat(path).st_ino == first and time.monotonic() < deadline:
        time.sleep(0.002)


def test_kill_during_writes_never_leaves_a_broken_file(token_path, key, key_text):
    # two writes, so that a backup exists from the start
    for dummy in range(2):
        TokenFile(token_path, key).replace(make_record(access_token="at-0", refresh_token="rt-0"))
    seen = set()
    for round_number in range(12):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, token_path, key_text, os.pathsep.join(sys.path)],
            stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        if round_number == 0:
            # once, kill only after a replacement landed (a loaded machine may be slower than any fixed sleep)
            _wait_for_replacement(token_path)
        else:
            time.sleep(0.01 + (round_number % 4) * 0.013)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        record = TokenFile(token_path, key).read()
        assert record.access_token.startswith("at-")
        # access and refresh token come from the same write: never a mix of two versions
        assert record.access_token.split("x")[0][3:] == record.refresh_token[3:]
        backup = TokenFile(token_path + ".bak", key).read()
        assert backup.access_token.startswith("at-")
        seen.add(record.access_token[:12])
    assert len(seen) > 1, "the writer never got to replace the file"
