#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postconf
short_description: Manage Postfix main.cf settings and master.cf entries with postconf
version_added: 1.0.0
description:
  - Sets or removes Postfix parameters in C(main.cf) through the C(postconf) command, so comments and the rest of the
    file stay as they are. Only the names given are touched.
  - Optionally sets whole C(master.cf) service entries or single fields of them (for example C(chroot)).
  - A name already holding the wanted value is left alone, so a second run reports no change.
  - After a change, C(postfix check) validates the configuration (O(validate)). When it fails, the previous
    C(main.cf) and C(master.cf) are put back byte for byte and the task fails with Postfix's own message, so a bad
    value never stays in place.
  - Works for the default instance and for a separate instance in its own configuration folder (O(config_dir)).
    Changing settings does not reload Postfix; a task of its own with O(postfix_command=reload) does.
  - With O(postfix_command) the task runs C(postfix -c config_dir check), C(status), C(start), C(reload) or
    C(stop) instead, on a pseudo-terminal so that Postfix's own messages are reported.
author:
  - xoauth2.mail contributors (@xoauth2)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the current values and reports what would change; writes nothing and runs no check.
      - With O(postfix_command), runs only C(check) and C(status), and reports whether a start, stop or reload
        would happen.
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
  postfix_command:
    description:
      - Run C(postfix -c config_dir <command>) instead of changing the configuration; give it in a task of its
        own, without O(settings) and O(master_entries).
      - V(check) validates the configuration and fails with Postfix's message when it is wrong; never a change.
      - V(status) reports in RV(running) whether the instance runs; never a change.
      - V(start) starts the instance when it does not run, V(stop) stops it when it runs.
      - V(reload) runs the check first (and fails without reloading when it fails), then reloads the instance
        when it runs; an instance that does not run is left alone, since it reads the configuration when it starts.
      - A start, stop or reload that happens reports a change.
    type: str
    choices: [check, status, start, reload, stop]
notes:
  - Values are compared as C(postconf -n) prints them, so V(a,b) and V(a, b) are different values; the module writes
    lists always the same way, so it stays idempotent for its own writes.
  - C(postfix) prints fatal errors only to a terminal; the module runs every C(postfix) command on a
    pseudo-terminal, so the message can be reported (C(script -qec) loses the last lines when its input ends first,
    as under Ansible).
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

- name: Check the configuration and reload the instance if it runs
  xoauth2.mail.postconf:
    config_dir: /srv/relay/postfix
    postfix_command: reload

- name: Start the separate instance unless it runs
  xoauth2.mail.postconf:
    config_dir: /srv/relay/postfix
    postfix_command: start

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
  description:
    - The output of C(postfix check) when it failed (the task fails then, and changed files are restored).
  returned: failure of the check
  type: str
  sample: "postfix: fatal: bad numerical configuration: message_size_limit = abc"
running:
  description:
    - With O(postfix_command=status), V(start), V(stop) or V(reload), whether the instance runs after the task (in
      check mode, whether it would run).
  returned: when postfix_command is status, start, stop or reload and the status could be read
  type: bool
  sample: true
postfix_output:
  description:
    - What the last C(postfix) command of O(postfix_command) printed (on a pseudo-terminal, so fatal errors too).
  returned: when postfix_command is given
  type: str
  sample: "postfix/postfix-script: starting the Postfix mail system"
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xoauth2.mail.plugins.module_utils._postconf_cli import ConfigError, PostfixCli
from ansible_collections.xoauth2.mail.plugins.module_utils._postconf_plan import make_plan
from ansible_collections.xoauth2.mail.plugins.module_utils._terminal_command import run_on_terminal

SBIN_DIRS = ["/usr/sbin", "/usr/local/sbin", "/sbin"]
# postfix_command -> whether it acts on a running instance (else on a stopped one)
ACTS_WHEN_RUNNING = {"start": False, "stop": True, "reload": True}


class Failed(ConfigError):
    """The task fails with this message; extra goes into the result (and wins over it)."""

    def __init__(self, msg, **extra):
        super().__init__(msg)
        self.extra = extra


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


def postfix_check(cli):
    """(ok, output) of `postfix -c DIR check`."""
    rc, output = cli.postfix("check")
    return rc == 0, output


def postfix_status(cli):
    """(running, output); `postfix status` exits 1 for an instance that does not run."""
    rc, output = cli.postfix("status")
    if rc not in (0, 1):
        raise Failed("postfix_command: postfix -c %s status failed: %s" % (cli.config_dir, output or "exit %d" % rc),
                     postfix_output=output)
    return rc == 0, output


def passed_check(cli, command):
    """The output of a passed `postfix check`; a failed one fails the task with Postfix's words."""
    ok, output = postfix_check(cli)
    if not ok:
        raise Failed("postfix_command: postfix -c %s check failed%s: %s" % (
            cli.config_dir, ", so the instance was not reloaded" if command == "reload" else "",
            output or "(no output)"), validation=output, postfix_output=output)
    return output


def run_postfix_command(cli, command, check_mode):
    """The result of postfix_command: start and stop only when needed, reload a running instance after a check."""
    if command in ("check", "reload"):
        output = passed_check(cli, command)
        if command == "check":
            return dict(changed=False, postfix_output=output)
    running, output = postfix_status(cli)
    if command == "status" or ACTS_WHEN_RUNNING[command] != running:
        return dict(changed=False, running=running, postfix_output=output)
    if not check_mode:
        rc, output = cli.postfix(command)
        if rc != 0:
            raise Failed("postfix_command: postfix -c %s %s failed: %s" % (cli.config_dir, command,
                                                                           output or "exit %d" % rc),
                         postfix_output=output)
    return dict(changed=True, running=command != "stop", postfix_output=output)


class PostconfTask:
    """One run of the module: plan, diff, apply, check or restore; or one postfix command."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.config_dir = os.path.abspath(self.params["config_dir"])
        self.main_cf = os.path.join(self.config_dir, "main.cf")
        self.master_cf = os.path.join(self.config_dir, "master.cf")
        self.result = dict(changed=False, config_dir=self.config_dir, changed_settings=[], changed_master_entries=[])
        self.cli = PostfixCli(self.config_dir, self.find, module.run_command, run_on_terminal)

    def find(self, name):
        path = self.module.get_bin_path(name, opt_dirs=SBIN_DIRS)
        if not path:
            raise ConfigError("Failed to find the command %s in PATH or %s: is Postfix installed?"
                              % (name, ", ".join(SBIN_DIRS)))
        return path

    def run(self):
        """(failed, result)."""
        try:
            self.check_options()
            if self.params["postfix_command"]:
                self.result.update(run_postfix_command(self.cli, self.params["postfix_command"],
                                                       self.module.check_mode))
            else:
                self.configure()
        except ConfigError as error:
            return True, dict(self.result, msg=str(error), **getattr(error, "extra", {}))
        return False, self.result

    def check_options(self):
        if not os.path.isdir(self.config_dir):
            raise ConfigError("config_dir: %s is not a folder" % self.config_dir)
        if not os.path.isfile(self.main_cf):
            raise ConfigError("config_dir: %s does not exist; create it first (for example from the package's"
                              " main.cf.dist)" % self.main_cf)
        if self.params["state"] == "absent" and self.params["master_entries"]:
            raise ConfigError("master_entries: only with state=present (remove an entry with a null value)")
        if self.params["postfix_command"] and (self.params["settings"] or self.params["master_entries"]):
            raise ConfigError("postfix_command: give it in a task of its own, without settings and master_entries")

    def configure(self):
        plan = make_plan(self.cli, self.params["settings"], self.params["master_entries"],
                         self.params["state"] == "absent")
        self.result.update(plan.summary())
        if self.module._diff and plan.changed:
            self.result["diff"] = plan.diff(self.main_cf, self.master_cf)
        self.warn_unknown(plan)
        if not plan.changed or self.module.check_mode:
            return
        saved = {self.main_cf: file_snapshot(self.main_cf)}
        if plan.master_before:
            saved[self.master_cf] = file_snapshot(self.master_cf)
        self.apply(plan, saved)
        if self.params["validate"]:
            self.check_or_restore(saved)

    def warn_unknown(self, plan):
        names = [name for name, _value in plan.to_set]
        known = self.cli.known_names() if names else set()
        for name in names:
            if name not in known:
                self.module.warn("settings.%s: not a Postfix parameter (written as a user-defined parameter;"
                                 " a typo?)" % name)

    def apply(self, plan, saved):
        try:
            if plan.to_remove:
                self.cli.remove(plan.to_remove)
            if plan.to_set:
                self.cli.set(plan.to_set)
            for key, line in plan.entries:
                self.cli.set_entry(key, line)
            if plan.fields:
                self.cli.set_fields(plan.fields)
        except ConfigError as error:
            self.restore(saved)
            raise Failed("%s (the previous files were restored)" % error)

    def check_or_restore(self, saved):
        ok, output = postfix_check(self.cli)
        if ok:
            return
        self.restore(saved)
        still_ok, _output = postfix_check(self.cli)
        names = ", ".join(self.result["changed_settings"] + self.result["changed_master_entries"])
        msg = "postfix check failed after changing %s, so the previous configuration was restored: %s" % (
            names, output or "(no output)")
        if not still_ok:
            msg += " (the restored configuration fails the check too: the problem was there before)"
        raise Failed(msg, validation=output, changed=False)

    def restore(self, saved):
        for path, data in saved.items():
            restore(self.module, path, data)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config_dir=dict(type="path", default="/etc/postfix"),
            settings=dict(type="dict", default={}),
            master_entries=dict(type="dict", default={}),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            validate=dict(type="bool", default=True),
            postfix_command=dict(type="str", choices=["check", "status", "start", "reload", "stop"]),
        ),
        supports_check_mode=True,
    )
    failed, result = PostconfTask(module).run()
    if failed:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
