# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The postconf and postfix command lines, declared once, and what their output means.

Every command the postconf module runs is a row of POSTCONF or POSTFIX: the words
after ``postconf -c DIR`` (or ``postfix -c DIR``) and what it does, for errors.
The runners are handed in, so tests drive this with a fake in-process and the
module with its own ``run_command`` and the pseudo-terminal runner.
"""

from __future__ import annotations

import re
from typing import Callable, Dict, List, Sequence, Tuple

# argv -> (exit code, stdout, stderr); the module's run_command
Runner = Callable[[List[str]], Tuple[int, str, str]]
# argv -> (exit code, all output): postfix prints fatal errors only to a terminal
TerminalRunner = Callable[[List[str]], Tuple[int, str]]
# a command's name -> its path
BinaryFinder = Callable[[str], str]


class ConfigError(Exception):
    """A problem with the options or the configuration, reported with what holds it."""


def _pairs(pairs: Sequence[Tuple[str, str]]) -> List[str]:
    return ["%s=%s" % pair for pair in pairs]


# name: (words after `postconf -c DIR`, what it does for an error message; {dir} is the folder)
POSTCONF: Dict[str, Tuple[Callable[..., List[str]], str]] = {
    "explicit": (lambda: ["-n"], "read {dir}/main.cf"),
    "known_names": (lambda: ["-d", "-H"], "list the parameter names"),
    "set": (lambda pairs: ["-e"] + _pairs(pairs), "write {names}"),
    "remove": (lambda names: ["-X"] + list(names), "remove {names}"),
    "entry": (lambda key: ["-M", key], "read {dir}/master.cf"),
    "fields": (lambda key: ["-F", key], "read {dir}/master.cf"),
    "set_entry": (lambda key, line: ["-M", "-e", "%s=%s" % (key, line)], "write the master.cf entry {key}"),
    "remove_entry": (lambda key: ["-M", "-X", key], "remove the master.cf entry {key}"),
    "set_fields": (lambda pairs: ["-F"] + _pairs(pairs), "write master.cf fields"),
}

# `postfix -c DIR <command>`; each runs on a pseudo-terminal
POSTFIX = ("check", "status", "start", "reload", "stop")

_UNUSED = re.compile(r"/main\.cf: unused parameter: ([A-Za-z0-9_]+)=(.*)$", re.MULTILINE)
_UNMATCHED = re.compile(r'unmatched request: "([^"]*)"')


def parse_explicit(out: str, err: str) -> Dict[str, str]:
    """main.cf names and values from `postconf -n`."""
    values = {}
    # postconf -n leaves out names Postfix does not use (user-defined ones), but warns about each
    for match in _UNUSED.finditer(err):
        values[match.group(1)] = match.group(2).strip()
    for line in out.splitlines():
        name, sep, value = line.partition(" = ")
        if not sep:
            name, sep, value = line.partition(" =")
        if sep:
            values[name.strip()] = value.strip()
    return values


def normalise_entry(text: str) -> str:
    """A master.cf entry or field with its white space made single spaces."""
    return " ".join(text.split())


class PostfixCli:
    """postconf and postfix for one configuration folder."""

    def __init__(self, config_dir: str, find: BinaryFinder, run: Runner, run_on_terminal: TerminalRunner) -> None:
        self.config_dir = config_dir
        self._find = find
        self._run = run
        self._run_on_terminal = run_on_terminal

    def postconf(self, name: str, *args, **what) -> Tuple[str, str]:
        """(stdout, stderr) of one POSTCONF row; a failure is a ConfigError saying what failed."""
        words, doing = POSTCONF[name]
        rc, out, err = self._run([self._find("postconf"), "-c", self.config_dir] + words(*args))
        if rc != 0:
            reason = (err or out).strip() or "exit %d" % rc
            raise ConfigError("postconf failed to %s: %s" % (doing.format(dir=self.config_dir, **what), reason))
        return out, err

    def postfix(self, command: str) -> Tuple[int, str]:
        """(exit code, output) of `postfix -c DIR <command>`, on a pseudo-terminal."""
        if command not in POSTFIX:
            raise ValueError("not a postfix command of this module: %s" % command)
        return self._run_on_terminal([self._find("postfix"), "-c", self.config_dir, command])

    # -- main.cf ----------------------------------------------------------------------

    def explicit(self) -> Dict[str, str]:
        return parse_explicit(*self.postconf("explicit"))

    def known_names(self) -> set:
        out, _err = self.postconf("known_names")
        return set(out.split())

    def set(self, pairs: List[Tuple[str, str]]) -> None:
        self.postconf("set", pairs, names=", ".join(name for name, _value in pairs))

    def remove(self, names: List[str]) -> None:
        self.postconf("remove", names, names=", ".join(names))

    # -- master.cf --------------------------------------------------------------------

    def entry(self, key: str):
        """The whole entry `service/type`, normalised, or None when there is none."""
        out, _err = self.postconf("entry", key)
        return normalise_entry(out) or None

    def fields(self, key: str) -> Dict[str, str]:
        """`service/type/field` -> {matched key: value}; a key matching nothing is an error naming it."""
        out, err = self.postconf("fields", key)
        unmatched = _UNMATCHED.findall(err)
        if unmatched:
            raise ConfigError("master_entries: %s matches no entry of %s/master.cf"
                              % (", ".join(repr(item) for item in unmatched), self.config_dir))
        current = {}
        for line in out.splitlines():
            name, _sep, text = line.partition(" = ")
            current[name.strip()] = text.strip()
        return current

    def set_entry(self, key: str, line) -> None:
        """Write a whole entry, or remove it when line is None."""
        if line is None:
            self.postconf("remove_entry", key, key=key)
        else:
            self.postconf("set_entry", key, line, key=key)

    def set_fields(self, pairs: List[Tuple[str, str]]) -> None:
        self.postconf("set_fields", pairs)
