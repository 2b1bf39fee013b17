# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for get-pip.py, used by `ansible-test sanity --venv`.

ansible-test bootstraps pip in its fresh virtual environments by downloading
get-pip.py from a host this machine cannot reach, unless a copy sits in
~/.ansible/test/cache/get_pip_<version>.py. scripts/sanity.sh copies this file
there. It installs pip with the interpreter's bundled ensurepip, then runs
`pip install` with the arguments get-pip.py was given (minus the get-pip-only
flags --no-setuptools / --no-wheel).
"""

from __future__ import annotations

import subprocess
import sys

GET_PIP_ONLY_FLAGS = frozenset(("--no-setuptools", "--no-wheel"))


def main():
    """Install pip offline, then install the requested packages."""
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_FLAGS]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
    if args:
        subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)


if __name__ == "__main__":
    main()
