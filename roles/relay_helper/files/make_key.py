# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make a new token key file once: python3 make_key.py KEY_FILE

The key is 32 random bytes, base64 with a newline (what encryption_key_file and the helper's key_file
read). The file is created exclusively with mode 0600, whatever the umask: an existing file, or a link
planted in its place, is never overwritten nor followed, and a failed write leaves no partial key.
Runs with the host's plain Python before the helper's code is installed: standard library only.
Exit 0 when the key was made, 1 (with the reason on stderr) when not.
"""

import base64
import os
import sys

KEY_BYTES = 32


def make_key(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        data = base64.b64encode(os.urandom(KEY_BYTES)) + b"\n"
        while data:
            data = data[os.write(fd, data):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: make_key.py KEY_FILE\n")
        return 1
    try:
        make_key(argv[1])
    except FileExistsError:
        sys.stderr.write("the key file %s exists already; it was left as it is\n" % argv[1])
        return 1
    except OSError as exc:
        sys.stderr.write("cannot make the key file %s: %s\n" % (argv[1], exc.strerror or exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
