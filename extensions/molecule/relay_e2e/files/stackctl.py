# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The relay_e2e scenario's handle on the test stack (tests/stack/stack.py, from $XOAUTH2_STACK_DIR and ports).

  stackctl.py info                          JSON: issuer, CA, ports, runtime dir
  stackctl.py configure NAME=SECONDS ...    IdP settings (client_credentials_ttl=30)
  stackctl.py fault [STATUS]                the IdP's token endpoint answers STATUS (503) until cleared
  stackctl.py reset                         clear faults and settings
  stackctl.py count MAILBOX TEXT            messages in the INBOX whose Subject contains TEXT (IMAP XOAUTH2)
  stackctl.py wait MAILBOX TEXT N TIMEOUT   wait until there are N such messages; exit 1 on timeout
"""

from __future__ import annotations

import json
import os
import sys
import time

REPO = os.environ.get("XOAUTH2_MAIL_REPO") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "stack"))

from stack import Stack  # noqa: E402  pylint: disable=wrong-import-position


def count(stack, mailbox, text):
    # minted through the control API: reading works while the token endpoint is faulted
    token = stack.idp.mint(account=mailbox, scope="openid mail.imap")["access_token"]
    return stack.imap_count(mailbox, token, text)


def main(argv):
    stack = Stack()
    command = argv[0] if argv else "info"
    if command == "info":
        out = {"dir": stack.dir, "issuer": stack.issuer, "ca": stack.ca_file,
               "submission_port": stack.submission_port, "imap_port": stack.imap_port}
    elif command == "configure":
        settings = dict(arg.split("=", 1) for arg in argv[1:])
        out = stack.idp.configure(**{key: int(value) for key, value in settings.items()})
    elif command == "fault":
        stack.idp.fault(endpoint="token", mode="status", status=int(argv[1]) if len(argv) > 1 else 503, count=-1)
        out = {"fault": "token", "status": int(argv[1]) if len(argv) > 1 else 503}
    elif command == "reset":
        stack.idp.reset()
        out = {"reset": True}
    elif command == "count":
        out = {"mailbox": argv[1], "count": count(stack, argv[1], argv[2])}
    elif command == "wait":
        mailbox, text, wanted, timeout = argv[1], argv[2], int(argv[3]), float(argv[4])
        started = time.monotonic()
        found = count(stack, mailbox, text)
        while found < wanted and time.monotonic() - started < timeout:
            time.sleep(0.5)
            found = count(stack, mailbox, text)
        out = {"mailbox": mailbox, "count": found, "wanted": wanted,
               "seconds": round(time.monotonic() - started, 1)}
        sys.stdout.write(json.dumps(out) + "\n")
        return 0 if found >= wanted else 1
    else:
        sys.stderr.write(__doc__)
        return 2
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
