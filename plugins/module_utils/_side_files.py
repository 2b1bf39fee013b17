# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one place where a token file and the files beside it are opened, one way.

A token's folder may belong to the service user while root runs the module
there, so any name in it may have been planted: a symbolic or hard link to
``/etc/shadow``, a FIFO, a file of another user. Therefore every name is
opened relative to a descriptor of the folder, never following a link
(``O_NOFOLLOW``), without blocking on a FIFO (``O_NONBLOCK``), and the open
file is checked with ``fstat`` before it is used: a regular file, one link,
owned by us, by the folder's owner or by the configured owner. Files are
created exclusively (``O_CREAT | O_EXCL``), and only a file just created is
given its mode and owner, through its descriptor. Attributes a caller sets by
path later (the module's file arguments) are set only on a checked file, as
the folder's owner (``apply_by_path``). Renames and unlinks are relative to
the folder too; neither follows a link.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from typing import Callable, List, Optional

from ._errors import StorageError
from ._folder_owner import acting_as, owner_to_act_as

_OPEN = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_CREATE = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
# .<name>.<pid>.<8 hex>.tmp, as written by Folder.write; <name>.bak.<pid>.tmp from older versions.
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")
_OLD_BACKUP_STAGING = re.compile(r"^(?P<name>.+\.bak)\.(?P<pid>\d+)\.tmp$")


def _kind(mode: int) -> str:
    for test, text in _KINDS:
        if test(mode):
            return text
    return "not a regular file"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


class Folder:
    """A descriptor of a token's folder; every file in it is reached through this.

    ``owner`` is the configured owner of the token's files (trusted as the owner
    of an existing file, besides ourselves and the folder's owner).
    """

    def __init__(self, path: str, owner: Optional[int] = None) -> None:
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise StorageError("The folder %s does not exist." % path)
        except OSError as exc:
            raise StorageError("Cannot open the folder %s: %s" % (path, _reason(exc)))
        try:
            st = os.fstat(self.fd)
            self.acting = owner_to_act_as(path, st)
        except BaseException:
            os.close(self.fd)
            raise
        self.folder_uid = st.st_uid
        self.owner = owner

    @classmethod
    def of(cls, file_path: str, owner: Optional[int] = None) -> "Folder":
        return cls(os.path.dirname(os.path.abspath(file_path)), owner)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "Folder":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def full(self, name: str) -> str:
        return os.path.join(self.path, name)

    # -- opening ---------------------------------------------------------------------------------------------

    def _trusted(self) -> set:
        return {os.geteuid(), self.folder_uid} | ({self.owner} if self.owner is not None else set())

    def _check(self, fd: int, name: str, what: str) -> os.stat_result:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            problem = "it is %s, not a regular file" % _kind(st.st_mode)
        elif st.st_nlink != 1:
            problem = "it has %d hard links (another name leads to the same file)" % st.st_nlink
        elif st.st_uid not in self._trusted():
            problem = "it is owned by uid %d, not by this process, the folder's owner or the configured owner" \
                % st.st_uid
        else:
            return st
        raise StorageError("Refusing to use the %s %s: %s. It was left as it is; remove it if it is not yours."
                           % (what, self.full(name), problem))

    def open(self, name: str, what: str, flags: int = os.O_RDONLY) -> Optional[int]:
        """An existing file, checked; None when there is none."""
        with acting_as(self.acting):
            try:
                fd = os.open(name, flags | _OPEN, dir_fd=self.fd)
            except FileNotFoundError:
                return None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise StorageError(
                        "Refusing to use the %s %s: it is a symbolic link, and files beside a token are never "
                        "followed elsewhere. It was left as it is; remove it." % (what, self.full(name)))
                raise StorageError("Cannot open the %s %s: %s" % (what, self.full(name), _reason(exc)))
            try:
                self._check(fd, name, what)
            except BaseException:
                os.close(fd)
                raise
            return fd

    def create(self, name: str, what: str, mode: int, uid: Optional[int] = None, gid: Optional[int] = None,
               flags: int = os.O_WRONLY) -> Optional[int]:
        """A new file with ``mode`` and owner set through its descriptor; None when the name is taken."""
        with acting_as(self.acting):
            try:
                fd = os.open(name, flags | _CREATE, mode, dir_fd=self.fd)
            except FileExistsError:
                return None
            except OSError as exc:
                raise StorageError("Cannot create the %s %s: %s" % (what, self.full(name), _reason(exc)))
            try:
                os.fchmod(fd, mode)  # the umask must neither widen nor narrow it
                if uid is not None or gid is not None:
                    os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
            except OSError as exc:
                os.close(fd)
                self._unlink_quietly(name)
                raise StorageError("Cannot set the owner or mode of the new %s %s: %s"
                                   % (what, self.full(name), _reason(exc)))
            return fd

    def open_or_create(self, name: str, what: str, mode: int, uid: Optional[int], gid: Optional[int]) -> int:
        """For the lock: the existing file (checked), else a new one (a race between the two is retried)."""
        for dummy in range(5):
            fd = self.open(name, what, os.O_RDWR)
            if fd is None:
                fd = self.create(name, what, mode, uid, gid, os.O_RDWR)
            if fd is not None:
                return fd
        raise StorageError("Cannot open the %s %s: it keeps appearing and disappearing." % (what, self.full(name)))

    # -- reading and writing ---------------------------------------------------------------------------------

    def read(self, name: str, what: str, limit: Optional[int] = None) -> Optional[bytes]:
        fd = self.open(name, what)
        if fd is None:
            return None
        try:
            chunks: List[bytes] = []
            size = 0
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return b"".join(chunks)
                size += len(chunk)
                if limit is not None and size > limit:
                    raise StorageError("The %s %s is larger than %d bytes." % (what, self.full(name), limit))
                chunks.append(chunk)
        except OSError as exc:
            raise StorageError("Cannot read the %s %s: %s" % (what, self.full(name), _reason(exc)))
        finally:
            os.close(fd)

    def write(self, name: str, what: str, data: bytes, mode: int, uid: Optional[int] = None,
              gid: Optional[int] = None, sync_folder: bool = True) -> None:
        """Replace ``name`` atomically: a new temp file with the final mode, fsync, rename, fsync the folder."""
        temp, fd = self._new_temp(name, what, mode, uid, gid)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            with acting_as(self.acting):
                os.rename(temp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            if sync_folder:
                self.sync()
        except OSError as exc:
            self._unlink_quietly(temp)
            raise StorageError("Cannot write the %s %s: %s" % (what, self.full(name), _reason(exc)))
        except BaseException:
            self._unlink_quietly(temp)
            raise

    def _new_temp(self, name: str, what: str, mode: int, uid: Optional[int], gid: Optional[int]):
        for dummy in range(5):
            temp = ".%s.%d.%s.tmp" % (name, os.getpid(), os.urandom(4).hex())
            fd = self.create(temp, what, mode, uid, gid)
            if fd is not None:
                return temp, fd
        raise StorageError("Cannot write the %s %s: no free temporary name." % (what, self.full(name)))

    def sync(self) -> None:
        # A rename is durable only once the folder entry is on disk.
        os.fsync(self.fd)

    def apply_by_path(self, name: str, what: str, apply: Callable[[str], bool]) -> bool:
        """``apply(path)`` on an existing file that passed the checks, run as the folder's owner.

        For the attributes the caller sets by path (Ansible's file arguments: symbolic modes, SELinux).
        The checked file stays open, so its inode cannot be reused meanwhile; afterwards the name must
        still lead to it, alone. Acting as the folder's owner, a link planted in between reaches only
        what that owner could reach anyway. False when there is no such file.
        """
        fd = self.open(name, what)
        if fd is None:
            return False
        try:
            checked = os.fstat(fd)
            with acting_as(self.acting):
                changed = bool(apply(self.full(name)))
                now = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except OSError as exc:
            raise StorageError("Cannot set the attributes of the %s %s: %s" % (what, self.full(name), _reason(exc)))
        finally:
            os.close(fd)
        if (now.st_dev, now.st_ino) != (checked.st_dev, checked.st_ino) or now.st_nlink != 1:
            raise StorageError("The %s %s was replaced while its attributes were set; check the folder."
                               % (what, self.full(name)))
        return changed

    # -- names -----------------------------------------------------------------------------------------------

    def exists(self, name: str) -> bool:
        """Whether the name is there (a link counts: it is only ever removed)."""
        try:
            with acting_as(self.acting):
                os.stat(name, dir_fd=self.fd, follow_symlinks=False)
            return True
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError("Cannot look at %s: %s" % (self.full(name), _reason(exc)))

    def unlink(self, name: str) -> bool:
        """Remove the name (a link is removed, never what it points to); True when it was there."""
        with acting_as(self.acting):
            try:
                os.unlink(name, dir_fd=self.fd)
                return True
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise StorageError("Cannot remove %s: %s" % (self.full(name), _reason(exc)))

    def _unlink_quietly(self, name: str) -> None:
        try:
            self.unlink(name)
        except StorageError:
            pass

    def temp_names(self, names: List[str], only_dead: bool) -> List[str]:
        """Temporary files of writers of ``names``; with ``only_dead``, those whose process is gone."""
        with acting_as(self.acting):
            try:
                entries = os.listdir(self.fd)
            except OSError as exc:
                raise StorageError("Cannot list the folder %s: %s" % (self.path, _reason(exc)))
        found = []
        for entry in entries:
            match = _TEMP.match(entry) or _OLD_BACKUP_STAGING.match(entry)
            if match and match.group("name") in names and not (only_dead and _process_alive(int(match.group("pid")))):
                found.append(entry)
        return sorted(found)


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except (OverflowError, OSError):
        return False
    return True


def _in_folder(file_path: str, action: Callable[[Folder, str], object], owner: Optional[int], missing: object):
    """``action(folder, name)`` for ``file_path``, or ``missing`` when its folder does not exist."""
    folder_path, name = os.path.split(os.path.abspath(file_path))
    if not os.path.isdir(folder_path):
        return missing
    with Folder(folder_path, owner) as folder:
        return action(folder, name)


def read_file(file_path: str, what: str, owner: Optional[int] = None, limit: Optional[int] = None) -> Optional[bytes]:
    """The content of a file beside a token, checked; None when it (or its folder) is not there."""
    return _in_folder(file_path, lambda folder, name: folder.read(name, what, limit), owner, None)


def remove_file(file_path: str) -> bool:
    """Remove a file beside a token (a link is removed, not followed); True when it was there."""
    return bool(_in_folder(file_path, lambda folder, name: folder.unlink(name), None, False))
