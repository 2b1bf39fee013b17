#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postconf
short_description: Manage Postfix main.cf settings and master.cf entries with postconf
version_added: 0.1.0
description:
  - Sets or removes Postfix parameters in C(main.cf) through the C(postconf) command, so comments and the rest of the
    file stay as they are. Only the names given are touched.
  - Optionally sets whole C(master.cf) service entries or single fields of them (for example C(chroot)).
  - A name already holding the wanted value is left alone, so a second run reports no change.
  - After a change, C(postfix check) validates the configuration (O(validate)). When it fails, the previous
    C(main.cf) and C(master.cf) are put back byte for byte and the task fails with Postfix's own message, so a bad
    value never stays in place.
  - Works for the default instance and for a separate instance in its own configuration folder (O(config_dir)).
    It does not reload Postfix; notify a handler that does.
author:
  - xoauth2.mail contributors (@xoauth2)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the current values and reports what would change; writes nothing and runs no check.
  diff_mode:
    support: full
    details: Shows the changed names with their values before and after (one diff per file).
  platform:
    support: full
    platforms: posix
requirements:
  - Postfix with the C(postconf) and C(postfix) commands (in C(PATH), C(/usr/sbin) or C(/usr/local/sbin)).
options:
  config_dir:
    description:
      - The Postfix configuration folder (the C(-c) option of C(postconf) and C(postfix)).
      - Use a folder of its own for a separate Postfix instance. Its C(main.cf) must exist.
    type: path
    default: /etc/postfix
  settings:
    description:
      - C(main.cf) parameters, name to value.
      - A string is written as it is, an integer as its digits, a boolean as V(yes) or V(no), and a list as its
        items joined with a comma and a space (nested lists are flattened). An empty string sets the parameter
        to the empty value.
      - A null value removes the parameter from C(main.cf), so the compiled-in default applies (as O(state=absent)
        does for every name).
      - With O(state=absent) only the names matter; the values are ignored.
    type: dict
    default: {}
  master_entries:
    description:
      - C(master.cf) service entries and fields, only with O(state=present).
      - A key C(service/type) (for example V(smtp/inet) or V(10025/inet)) takes the whole entry as one line
        (V(10025 inet n - n - - smtpd)), whose first two words must be the key's service and type; a null value
        removes the entry.
      - A key C(service/type/field) sets one field, one of V(private), V(unprivileged), V(chroot), V(wakeup),
        V(process_limit) or V(command) (the command with its arguments). C(*) in the service or type matches every
        entry (V(*/*/chroot) with V(false) runs every service outside the chroot). A boolean becomes V(y) or
        V(n). The key must match at least one entry.
      - Entries are compared with their white space normalised.
    type: dict
    default: {}
  state:
    description:
      - V(present) makes the O(settings) hold their values (null removes) and applies O(master_entries).
      - V(absent) removes the names of O(settings) from C(main.cf) (C(postconf -X)).
    type: str
    choices: [present, absent]
    default: present
  validate:
    description:
      - After a change, run C(postfix -c config_dir check). When it fails, restore the previous files and fail.
      - Turn it off only for a configuration folder that is not a complete Postfix instance yet.
    type: bool
    default: true
notes:
  - Values are compared as C(postconf -n) prints them, so V(a,b) and V(a, b) are different values; the module writes
    lists always the same way, so it stays idempotent for its own writes.
  - C(postfix check) prints fatal errors only to a terminal; the module runs it on a pseudo-terminal so the
    message can be reported.
  - A name that is not a Postfix parameter is still written (Postfix allows user-defined parameters used as
    C($name)), with a warning, since it is often a typo.
seealso:
  - name: postconf(5)
    description: Every main.cf parameter.
    link: https://www.postfix.org/postconf.5.html
  - name: master(5)
    description: The master.cf format.
    link: https://www.postfix.org/master.5.html
  - name: The postfix_relay role
    description: Uses this module to make Postfix relay through the xoauth2-relay helper.
    link: https://github.com/xoauth2/mail/blob/main/docs/postfix-relay.md
"""

EXAMPLES = r"""
- name: Relay everything through the local XOAUTH2 helper
  xoauth2.mail.postconf:
    settings:
      relayhost: "[127.0.0.1]:10587"
      smtp_sasl_auth_enable: true
      smtp_sasl_password_maps: hash:/etc/postfix/sasl_passwd
      smtp_sasl_security_options: noanonymous
      inet_interfaces: loopback-only
      mynetworks: [127.0.0.0/8, "[::1]/128"]
      message_size_limit: 36700160
  notify: Reload postfix

- name: A separate instance in its own folder, every service outside the chroot
  xoauth2.mail.postconf:
    config_dir: /srv/relay/postfix
    settings:
      queue_directory: /srv/relay/queue
      syslog_name: postfix-relay
    master_entries:
      "*/*/chroot": false

- name: Listen on port 10025 instead of 25
  xoauth2.mail.postconf:
    master_entries:
      smtp/inet: null
      10025/inet: 10025 inet n - n - - smtpd

- name: Remove settings (the compiled-in defaults apply again)
  xoauth2.mail.postconf:
    settings:
      smtp_sasl_tls_security_options:
      smtp_tls_wrappermode:
    state: absent
"""

RETURN = r"""
config_dir:
  description: The configuration folder used.
  returned: always
  type: str
  sample: /etc/postfix
changed_settings:
  description: The C(main.cf) names that were (or, in check mode, would be) set or removed, sorted.
  returned: always
  type: list
  elements: str
  sample: [relayhost, smtp_sasl_auth_enable]
changed_master_entries:
  description: The O(master_entries) keys that were (or would be) changed, sorted.
  returned: always
  type: list
  elements: str
  sample: ["*/*/chroot"]
validation:
  description: The output of C(postfix check) when it failed (the task fails then, and the files are restored).
  returned: failure of the check
  type: str
  sample: "postfix: fatal: bad numerical configuration: message_size_limit = abc"
"""

import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xoauth2.mail.plugins.module_utils._terminal_command import run_on_terminal

SBIN_DIRS = ["/usr/sbin", "/usr/local/sbin", "/sbin"]
NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
SERVICE_FIELDS = ("service", "type", "private", "unprivileged", "chroot", "wakeup", "process_limit", "command")
SETTABLE_FIELDS = SERVICE_FIELDS[2:]


class ConfigError(Exception):
    """A problem with the options, reported with the option that holds it."""


def render(value, where):
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


def flatten(values, where):
    for item in values:
        if isinstance(item, (list, tuple)):
            yield from flatten(item, where)
        elif isinstance(item, dict) or item is None:
            raise ConfigError("%s: a list item must be a string, a number or a boolean" % where)
        else:
            yield render(item, where)


def render_field(value, where):
    """A master.cf field: booleans are y/n there."""
    if isinstance(value, bool):
        return "y" if value else "n"
    return render(value, where)


def normalise_entry(text):
    return " ".join(text.split())


class Postconf:
    """Runs postconf/postfix for one configuration folder."""

    def __init__(self, module, config_dir):
        self.module = module
        self.config_dir = config_dir
        self.binary = module.get_bin_path("postconf", required=True, opt_dirs=SBIN_DIRS)

    def run(self, args, what):
        rc, out, err = self.module.run_command([self.binary, "-c", self.config_dir] + args)
        if rc != 0:
            raise ConfigError("postconf failed to %s: %s" % (what, (err or out).strip() or "exit %d" % rc))
        return out, err

    def explicit(self):
        """main.cf names and values as `postconf -n` prints them."""
        out, err = self.run(["-n"], "read %s/main.cf" % self.config_dir)
        values = {}
        # postconf -n leaves out names Postfix does not use (user-defined ones), but warns about each
        for match in re.finditer(r"/main\.cf: unused parameter: ([A-Za-z0-9_]+)=(.*)$", err, re.MULTILINE):
            values[match.group(1)] = match.group(2).strip()
        for line in out.splitlines():
            name, sep, value = line.partition(" = ")
            if not sep:
                name, sep, value = line.partition(" =")
            if sep:
                values[name.strip()] = value.strip()
        return values

    def known_names(self):
        out, _err = self.run(["-d", "-H"], "list the parameter names")
        return set(out.split())

    def master_lines(self, flag, keys):
        """`postconf -M`/`-F` lines per key; a key matching nothing is an error naming it."""
        out, err = self.run([flag] + list(keys), "read %s/master.cf" % self.config_dir)
        unmatched = re.findall(r'unmatched request: "([^"]*)"', err)
        if unmatched:
            raise ConfigError("master_entries: %s matches no entry of %s/master.cf"
                              % (", ".join(repr(key) for key in unmatched), self.config_dir))
        return out.splitlines()

    def set(self, pairs):
        self.run(["-e"] + ["%s=%s" % pair for pair in pairs], "write %s" % ", ".join(name for name, _v in pairs))

    def remove(self, names):
        self.run(["-X"] + list(names), "remove %s" % ", ".join(names))


def plan_settings(module, postconf):
    """(to_set [(name, value)], to_remove [names], before {name: value or None})."""
    params = module.params
    current = postconf.explicit()
    to_set, to_remove, before = [], [], {}
    for name in sorted(params["settings"]):
        where = "settings.%s" % name
        if not NAME_RE.match(name):
            raise ConfigError("%s: not a valid parameter name (letters, digits and _ only)" % where)
        value = params["settings"][name]
        if params["state"] == "absent" or value is None:
            if name in current:
                to_remove.append(name)
                before[name] = current[name]
            continue
        wanted = render(value, where)
        if current.get(name) != wanted:
            to_set.append((name, wanted))
            before[name] = current.get(name)
    return to_set, to_remove, before


def plan_master(module, postconf):
    """(entries [(key, line or None)], fields [(key, value)], before {key: text or None})."""
    entries, fields, before = [], [], {}
    for key in sorted(module.params["master_entries"]):
        where = "master_entries[%r]" % key
        value = module.params["master_entries"][key]
        parts = key.split("/")
        if len(parts) == 2 and all(parts) and "*" not in key:
            current = current_entry(postconf, key)
            if value is None:
                if current is not None:
                    entries.append((key, None))
                    before[key] = current
                continue
            line = normalise_entry(render(value, where))
            words = line.split(" ")
            if len(words) < 8 or words[0] != parts[0] or words[1] != parts[1]:
                raise ConfigError("%s: the entry must be 'service type private unpriv chroot wakeup maxproc command"
                                  " [args]' starting with %s %s" % (where, parts[0], parts[1]))
            if current != line:
                entries.append((key, line))
                before[key] = current
        elif len(parts) == 3 and all(parts):
            if parts[2] not in SETTABLE_FIELDS:
                raise ConfigError("%s: the field must be one of %s" % (where, ", ".join(SETTABLE_FIELDS)))
            if value is None:
                raise ConfigError("%s: a field cannot be removed, give a value" % where)
            wanted = render_field(value, where)
            current = {}
            for line in postconf.master_lines("-F", [key]):
                name, _sep, text = line.partition(" = ")
                current[name.strip()] = text.strip()
            if any(normalise_entry(text) != normalise_entry(wanted) for text in current.values()):
                fields.append((key, wanted))
                if len(current) == 1:
                    before[key] = list(current.values())[0]
                else:
                    before[key] = ", ".join("%s=%s" % item for item in sorted(current.items()))
        else:
            raise ConfigError("%s: a key is 'service/type' (a whole entry) or 'service/type/field'" % where)
    return entries, fields, before


def current_entry(postconf, key):
    rc, out, err = postconf.module.run_command([postconf.binary, "-c", postconf.config_dir, "-M", key])
    if rc != 0:
        raise ConfigError("postconf failed to read %s/master.cf: %s" % (postconf.config_dir, (err or out).strip()))
    text = normalise_entry(out)
    return text or None


def file_snapshot(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def restore(module, path, data):
    """Put a file back as it was (same owner and mode), atomically."""
    if data is None:
        if os.path.exists(path):
            os.unlink(path)
        return
    handle, tmp = tempfile.mkstemp(prefix=".postconf-restore-", dir=os.path.dirname(path))
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    module.atomic_move(tmp, path)


def postfix_check(module, config_dir):
    """(ok, output) of `postfix -c DIR check`, with the fatal errors Postfix prints only to a terminal."""
    postfix = module.get_bin_path("postfix", required=True, opt_dirs=SBIN_DIRS)
    rc, text = run_on_terminal([postfix, "-c", config_dir, "check"])
    return rc == 0, text


def diff_text(values):
    return "".join("%s = %s\n" % (name, value) for name, value in sorted(values.items()) if value is not None)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config_dir=dict(type="path", default="/etc/postfix"),
            settings=dict(type="dict", default={}),
            master_entries=dict(type="dict", default={}),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            validate=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    config_dir = os.path.abspath(params["config_dir"])
    result = dict(changed=False, config_dir=config_dir, changed_settings=[], changed_master_entries=[])
    main_cf = os.path.join(config_dir, "main.cf")
    master_cf = os.path.join(config_dir, "master.cf")
    if not os.path.isdir(config_dir):
        module.fail_json(msg="config_dir: %s is not a folder" % config_dir, **result)
    if not os.path.isfile(main_cf):
        module.fail_json(msg="config_dir: %s does not exist; create it first (for example from the package's"
                         " main.cf.dist)" % main_cf, **result)
    if params["state"] == "absent" and params["master_entries"]:
        module.fail_json(msg="master_entries: only with state=present (remove an entry with a null value)", **result)

    postconf = Postconf(module, config_dir)
    try:
        to_set, to_remove, before = plan_settings(module, postconf)
        entries, fields, master_before = plan_master(module, postconf)
    except ConfigError as error:
        module.fail_json(msg=str(error), **result)

    after = dict(before)
    after.update({name: None for name in to_remove})
    after.update(dict(to_set))
    master_after = dict(master_before)
    master_after.update(dict(entries))
    master_after.update(dict(fields))
    result["changed_settings"] = sorted(before)
    result["changed_master_entries"] = sorted(master_before)
    result["changed"] = bool(before or master_before)
    if module._diff and result["changed"]:
        diffs = []
        if before:
            diffs.append(dict(before=diff_text(before), after=diff_text(after),
                              before_header=main_cf, after_header=main_cf))
        if master_before:
            diffs.append(dict(before=diff_text(master_before), after=diff_text(master_after),
                              before_header=master_cf, after_header=master_cf))
        result["diff"] = diffs if len(diffs) > 1 else diffs[0]

    unknown = [name for name, _v in to_set]
    if unknown:
        known = postconf.known_names()
        for name in unknown:
            if name not in known:
                module.warn("settings.%s: not a Postfix parameter (written as a user-defined parameter;"
                            " a typo?)" % name)

    if not result["changed"] or module.check_mode:
        module.exit_json(**result)

    saved = {main_cf: file_snapshot(main_cf)}
    if master_before:
        saved[master_cf] = file_snapshot(master_cf)
    try:
        if to_remove:
            postconf.remove(to_remove)
        if to_set:
            postconf.set(to_set)
        for key, line in entries:
            if line is None:
                postconf.run(["-M", "-X", key], "remove the master.cf entry %s" % key)
            else:
                postconf.run(["-M", "-e", "%s=%s" % (key, line)], "write the master.cf entry %s" % key)
        if fields:
            postconf.run(["-F"] + ["%s=%s" % pair for pair in fields], "write master.cf fields")
    except ConfigError as error:
        for path, data in saved.items():
            restore(module, path, data)
        module.fail_json(msg="%s (the previous files were restored)" % error, **result)

    if params["validate"]:
        ok, output = postfix_check(module, config_dir)
        if not ok:
            for path, data in saved.items():
                restore(module, path, data)
            still_ok, _output = postfix_check(module, config_dir)
            names = ", ".join(result["changed_settings"] + result["changed_master_entries"])
            msg = "postfix check failed after changing %s, so the previous configuration was restored: %s" % (
                names, output or "(no output)")
            if not still_ok:
                msg += " (the restored configuration fails the check too: the problem was there before)"
            result["changed"] = False
            module.fail_json(msg=msg, validation=output, **result)

    module.exit_json(**result)


if __name__ == "__main__":
    main()
