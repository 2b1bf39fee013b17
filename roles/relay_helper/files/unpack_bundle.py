# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unpack the helper's code bundle: python3 unpack_bundle.py BUNDLE.json TARGET_DIR

The bundle is one JSON object {relative path: file text}. The files go into a fresh folder that
then replaces TARGET_DIR, so files dropped from the collection disappear too; TARGET_DIR/.bundle-checksum
records the bundle's SHA-1 (what Ansible's copy reports), so an unchanged bundle is not unpacked again.
Runs with the host's plain Python (the helper's code is not installed yet): standard library only.
"""

import hashlib
import json
import os
import shutil
import sys


def unsafe(relative):
    return relative.startswith("/") or ".." in relative.split("/")


def unpack(bundle, target):
    with open(bundle, "rb") as handle:
        raw = handle.read()
    files = json.loads(raw.decode("utf-8"))
    bad = sorted(relative for relative in files if unsafe(relative))
    if bad:
        raise ValueError("unsafe path in the code bundle: " + bad[0])
    fresh, old = target + ".new", target + ".old"
    shutil.rmtree(fresh, ignore_errors=True)
    for relative, text in sorted(files.items()):
        path = os.path.join(fresh, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    with open(os.path.join(fresh, ".bundle-checksum"), "w") as handle:
        handle.write(hashlib.sha1(raw).hexdigest())
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(target):
        os.rename(target, old)
    os.rename(fresh, target)
    shutil.rmtree(old, ignore_errors=True)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: unpack_bundle.py BUNDLE.json TARGET_DIR\n")
        return 2
    os.umask(0o022)
    try:
        unpack(argv[0], argv[1])
    except ValueError as error:
        sys.stderr.write("%s\n" % error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
