# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Root never works in a folder another user can write, and works in another user's folder as that user.

``prepare_folder`` is called once by a short-lived, single-threaded process
(the module) before anything in the token's folder is touched. Running as
root it refuses a folder that group or others can write, and for a folder
owned by another user it records that user. From then on every file
operation inside that folder (``_side_files.Folder``) runs with the owner's
effective uid, gid and groups, and switches back to root right after: the
files are that user's own, with no chown, and a link that user planted can
at worst reach what that user could reach anyway. The real uid stays root,
so that user can neither signal nor trace the process meanwhile.

Only the folder is opened as root (its path may cross folders the owner
cannot enter); what is inside it is opened relative to that descriptor.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Dict, Iterator, Optional, Tuple

from ._errors import ConfigurationError, StorageError


@dataclass(frozen=True)
class FolderOwner:
    """The user to act as inside a folder: uid, primary gid, all its groups."""

    uid: int
    gid: int
    groups: Tuple[int, ...]
    name: str


# folder path -> (st_dev, st_ino, owner to act as or None): what prepare_folder checked.
_CHECKED: Dict[str, Tuple[int, int, Optional[FolderOwner]]] = {}


def _owner_of(st: os.stat_result) -> FolderOwner:
    try:
        entry = pwd.getpwuid(st.st_uid)
    except KeyError:  # no passwd entry: the folder's own group, nothing more
        return FolderOwner(st.st_uid, st.st_gid, (st.st_gid,), str(st.st_uid))
    return FolderOwner(entry.pw_uid, entry.pw_gid, tuple(sorted(set(os.getgrouplist(entry.pw_name, entry.pw_gid)))),
                       entry.pw_name)


def _refuse_writable_by_others(folder: str, st: os.stat_result) -> None:
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigurationError(
            "The folder %s of path is writable by %s (mode %04o): root does not work in a folder another user can "
            "write, because that user could put links there. Make the folder writable by its owner only "
            "(for example mode 0700), owned by root or by the user the token is for."
            % (folder, "others" if st.st_mode & stat.S_IWOTH else "its group", stat.S_IMODE(st.st_mode)),
            option="path")


def _name_of_group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _check_options(owner: FolderOwner, uid: Optional[int], gid: Optional[int]) -> Tuple[Optional[int], Optional[int]]:
    """owner/group as they can be when working as ``owner``; None where nothing is to be changed."""
    if uid is not None and uid != owner.uid:
        raise ConfigurationError(
            "owner is uid %d, but the token's folder belongs to %s (uid %d) and the files in it are made as that "
            "user. Leave owner out, set it to %s, or give the folder to the intended owner."
            % (uid, owner.name, owner.uid, owner.name), option="owner")
    if gid is not None and gid not in owner.groups and gid != owner.gid:
        raise ConfigurationError(
            "group %s is not a group of %s, the owner of the token's folder, as whom the files are made. "
            "Choose one of its groups (%s) or leave group out."
            % (_name_of_group(gid), owner.name, ", ".join(_name_of_group(g) for g in owner.groups)),
            option="group")
    return None, (None if gid in (None, owner.gid) else gid)


def prepare_folder(path: str, uid: Optional[int], gid: Optional[int]) -> Tuple[Optional[int], Optional[int]]:
    """Check the folder of the token ``path``; the owner and group to give new files.

    Raises ConfigurationError (naming ``path``, ``owner`` or ``group``) when root
    would work in a folder others can write, or when the options ask for an
    owner that the files cannot get.
    """
    folder = os.path.dirname(os.path.abspath(os.path.expanduser(path)))
    if os.geteuid() != 0:
        if uid is not None and uid != os.geteuid():
            raise ConfigurationError(
                "owner is uid %d, but this runs as uid %d: only root can give files to another user."
                % (uid, os.geteuid()), option="owner")
        return uid, gid
    try:
        st = os.stat(folder)
    except OSError:
        return uid, gid  # a missing folder is reported by the first write, with its own message
    _refuse_writable_by_others(folder, st)
    if st.st_uid == 0:
        _CHECKED[folder] = (st.st_dev, st.st_ino, None)
        return uid, gid
    owner = _owner_of(st)
    uid, gid = _check_options(owner, uid, gid)
    _CHECKED[folder] = (st.st_dev, st.st_ino, owner)
    return uid, gid


def owner_to_act_as(folder: str, st: os.stat_result) -> Optional[FolderOwner]:
    """The user to act as in the opened ``folder`` (its fstat ``st``), or None to act as we are."""
    checked = _CHECKED.get(folder)
    if checked is None:
        return None
    if (st.st_dev, st.st_ino) != checked[:2]:
        raise StorageError("The folder %s was replaced while the token was being handled; nothing was done in it."
                           % folder)
    return checked[2]


@contextmanager
def acting_as(owner: Optional[FolderOwner]) -> Iterator[None]:
    """Run the block with ``owner``'s effective ids (root only; nested uses are no-ops)."""
    if owner is None or os.geteuid() != 0:
        yield
        return
    saved_gid, saved_groups = os.getegid(), os.getgroups()
    try:
        os.setgroups(list(owner.groups))
        os.setegid(owner.gid)
        os.seteuid(owner.uid)
    except OSError as exc:
        _restore(saved_gid, saved_groups)
        raise StorageError("Cannot act as %s (uid %d), the owner of the token's folder: %s"
                           % (owner.name, owner.uid, exc.strerror or exc))
    try:
        yield
    finally:
        _restore(saved_gid, saved_groups)


def _restore(gid: int, groups: list) -> None:
    os.seteuid(0)
    os.setegid(gid)
    os.setgroups(groups)
