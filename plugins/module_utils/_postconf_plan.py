# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the postconf module would change: values rendered the Postfix way, compared with the current ones.

Reads only (through a PostfixCli); writing is the module's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ._postconf_cli import ConfigError, PostfixCli, normalise_entry

NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
SERVICE_FIELDS = ("service", "type", "private", "unprivileged", "chroot", "wakeup", "process_limit", "command")
SETTABLE_FIELDS = SERVICE_FIELDS[2:]


def render(value: Any, where: str) -> str:
    """One main.cf value the way Postfix writes it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, (list, tuple)):
        text = ", ".join(item for item in flatten(value, where) if item != "")
    else:
        raise ConfigError("%s: a value must be a string, a number, a boolean or a list, not %s"
                          % (where, type(value).__name__))
    if "\n" in text or "\r" in text:
        raise ConfigError("%s: the value must be on one line" % where)
    return text


def flatten(values, where: str) -> Iterator[str]:
    for item in values:
        if isinstance(item, (list, tuple)):
            yield from flatten(item, where)
        elif isinstance(item, dict) or item is None:
            raise ConfigError("%s: a list item must be a string, a number or a boolean" % where)
        else:
            yield render(item, where)


def render_field(value: Any, where: str) -> str:
    """A master.cf field: booleans are y/n there."""
    if isinstance(value, bool):
        return "y" if value else "n"
    return render(value, where)


def diff_text(values: Dict[str, Optional[str]]) -> str:
    return "".join("%s = %s\n" % (name, value) for name, value in sorted(values.items()) if value is not None)


@dataclass
class Plan:
    """The writes that bring main.cf and master.cf to the wanted state, and what they replace."""

    to_set: List[Tuple[str, str]] = field(default_factory=list)
    to_remove: List[str] = field(default_factory=list)
    before: Dict[str, Optional[str]] = field(default_factory=dict)  # main.cf name -> value (None: unset)
    entries: List[Tuple[str, Optional[str]]] = field(default_factory=list)  # whole entries (None: remove)
    fields: List[Tuple[str, str]] = field(default_factory=list)
    master_before: Dict[str, Optional[str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.before or self.master_before)

    def summary(self) -> Dict[str, Any]:
        return dict(changed=self.changed, changed_settings=sorted(self.before),
                    changed_master_entries=sorted(self.master_before))

    def after(self) -> Dict[str, Optional[str]]:
        values = dict(self.before)
        values.update({name: None for name in self.to_remove})
        values.update(dict(self.to_set))
        return values

    def master_after(self) -> Dict[str, Optional[str]]:
        values = dict(self.master_before)
        values.update(dict(self.entries))
        values.update(dict(self.fields))
        return values

    def diff(self, main_cf: str, master_cf: str):
        """One before/after diff per changed file (a list when both changed)."""
        diffs = []
        if self.before:
            diffs.append(dict(before=diff_text(self.before), after=diff_text(self.after()),
                              before_header=main_cf, after_header=main_cf))
        if self.master_before:
            diffs.append(dict(before=diff_text(self.master_before), after=diff_text(self.master_after()),
                              before_header=master_cf, after_header=master_cf))
        return diffs if len(diffs) > 1 else diffs[0]


def plan_settings(plan: Plan, settings: Dict[str, Any], absent: bool, current: Dict[str, str]) -> None:
    """Add the main.cf writes: a null value (or state=absent) removes, any other value sets."""
    for name in sorted(settings):
        where = "settings.%s" % name
        if not NAME_RE.match(name):
            raise ConfigError("%s: not a valid parameter name (letters, digits and _ only)" % where)
        value = settings[name]
        if absent or value is None:
            if name in current:
                plan.to_remove.append(name)
                plan.before[name] = current[name]
            continue
        wanted = render(value, where)
        if current.get(name) != wanted:
            plan.to_set.append((name, wanted))
            plan.before[name] = current.get(name)


def plan_entry(plan: Plan, cli: PostfixCli, key: str, value: Any) -> None:
    """A whole master.cf entry `service/type`; None removes it."""
    where = "master_entries[%r]" % key
    service, kind = key.split("/")
    current = cli.entry(key)
    if value is None:
        if current is not None:
            plan.entries.append((key, None))
            plan.master_before[key] = current
        return
    line = normalise_entry(render(value, where))
    words = line.split(" ")
    if len(words) < 8 or words[0] != service or words[1] != kind:
        raise ConfigError("%s: the entry must be 'service type private unpriv chroot wakeup maxproc command"
                          " [args]' starting with %s %s" % (where, service, kind))
    if current != line:
        plan.entries.append((key, line))
        plan.master_before[key] = current


def plan_field(plan: Plan, cli: PostfixCli, key: str, value: Any) -> None:
    """One field `service/type/field` of every entry the key matches (`*` matches any)."""
    where = "master_entries[%r]" % key
    if key.split("/")[2] not in SETTABLE_FIELDS:
        raise ConfigError("%s: the field must be one of %s" % (where, ", ".join(SETTABLE_FIELDS)))
    if value is None:
        raise ConfigError("%s: a field cannot be removed, give a value" % where)
    wanted = render_field(value, where)
    current = cli.fields(key)
    if all(normalise_entry(text) == normalise_entry(wanted) for text in current.values()):
        return
    plan.fields.append((key, wanted))
    if len(current) == 1:
        plan.master_before[key] = list(current.values())[0]
    else:
        plan.master_before[key] = ", ".join("%s=%s" % item for item in sorted(current.items()))


def plan_master(plan: Plan, cli: PostfixCli, master_entries: Dict[str, Any]) -> None:
    for key in sorted(master_entries):
        parts = key.split("/")
        if len(parts) == 2 and all(parts) and "*" not in key:
            plan_entry(plan, cli, key, master_entries[key])
        elif len(parts) == 3 and all(parts):
            plan_field(plan, cli, key, master_entries[key])
        else:
            raise ConfigError("master_entries[%r]: a key is 'service/type' (a whole entry) or"
                              " 'service/type/field'" % key)


def make_plan(cli: PostfixCli, settings: Dict[str, Any], master_entries: Dict[str, Any], absent: bool) -> Plan:
    plan = Plan()
    plan_settings(plan, settings, absent, cli.explicit())
    plan_master(plan, cli, master_entries)
    return plan
