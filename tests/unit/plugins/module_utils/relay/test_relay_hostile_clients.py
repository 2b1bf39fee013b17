# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The relay under hostile local clients, over real sockets: PBKDF2 off the event loop, a failure
delay that does not tell users apart, throttling and lockout, deadlines no trickle of bytes can
extend, a cap on sessions that never log in; and a keeper that stops renewing at shutdown."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import select
import smtplib
import socket
import threading
import time

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._relay import log
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.secrets import SecretVerifier, hash_secret

from ansible_collections.xoauth2.mail.plugins.module_utils._relay.metrics import Metrics
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.tokens import TokenKeeper
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile

from fake_upstream import InProcessRelay
from relay_unit_support import config

ROUNDS = 1000000  # about 0.4 s per check here: long enough to see who waits for whom

TIMEOUTS = {"connect": 5, "command": 5, "data": 10, "shutdown": 5}


@pytest.fixture
def make_relay(tmp_path):
    made = []

    def make(**top):
        relay = InProcessRelay(tmp_path, **top)
        made.append(relay)
        return relay

    yield make
    for relay in made:
        relay.close()


def _plain(user, secret):
    return "AUTH PLAIN " + base64.b64encode(("\0%s\0%s" % (user, secret)).encode()).decode()


class Client:
    """A raw SMTP client: send lines, read replies (multi-line aware)."""

    def __init__(self, port, timeout=20):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""
        self.greeting = self.reply()

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def readable(self):
        return bool(self.buffer) or bool(select.select([self.sock], [], [], 0)[0])

    def _line(self):
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("closed; unread: %r" % self.buffer)
            self.buffer += chunk
        line, dummy, self.buffer = self.buffer.partition(b"\n")
        return line.decode().rstrip("\r")

    def reply(self):
        lines = [self._line()]
        while lines[-1][3:4] == "-":
            lines.append(self._line())
        return lines[-1]

    def command(self, line):
        self.send(line)
        return self.reply()

    def rest(self):
        """Everything until the server closes the connection."""
        data = self.buffer
        while True:
            try:
                chunk = self.sock.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data.decode()

    def trickle(self, data, gap=0.25, limit=40):
        """Send one byte at a time until the server speaks (or closes), at most ``limit`` bytes."""
        for index in range(min(len(data), limit)):
            if self.readable():
                return
            try:
                self.sock.sendall(data[index:index + 1])
            except OSError:
                return
            time.sleep(gap)

    def close(self):
        self.sock.close()


def _hashed_alice(relay, secret="right"):
    relay.config.accounts[0].verifier = SecretVerifier(stored_hash=hash_secret(secret, iterations=ROUNDS))


class HashSpy:
    """Counts PBKDF2 runs (with their rounds) wherever they happen."""

    def __init__(self, monkeypatch):
        self.real = hashlib.pbkdf2_hmac
        self.started = threading.Event()
        self.rounds = []
        self.done = 0
        self.lock = threading.Lock()
        monkeypatch.setattr(hashlib, "pbkdf2_hmac", self)

    def __call__(self, name, password, salt, rounds, *rest):
        with self.lock:
            self.rounds.append(rounds)
        self.started.set()
        try:
            return self.real(name, password, salt, rounds, *rest)
        finally:
            with self.lock:
                self.done += 1


# -- 1. AUTH cost off the event loop ------------------------------------------------------
def test_wrong_passwords_being_hashed_do_not_stall_other_sessions(make_relay, monkeypatch):
    relay = make_relay()
    _hashed_alice(relay)
    spy = HashSpy(monkeypatch)
    bystander = Client(relay.port)
    assert bystander.command("EHLO by.example.test").startswith("250 ")
    guessers = [Client(relay.port) for dummy in range(4)]
    for guesser in guessers:
        assert guesser.command("EHLO guess.example.test").startswith("250 ")
    # a known user and made-up ones (each costs a PBKDF2 too); one guess each, so the growing
    # delay of repeated failures stays out of this test
    for guesser, user in zip(guessers, ("alice", "ann", "bert", "carl")):
        guesser.send(_plain(user, "wrong"))
    assert spy.started.wait(10)
    # a PBKDF2 check is running: another session is answered before it ends
    assert bystander.command("NOOP").startswith("250 ")
    assert spy.done == 0
    assert not any(guesser.readable() for guesser in guessers)
    assert [guesser.reply()[:3] for guesser in guessers] == ["535"] * 4
    for client in [bystander] + guessers:
        client.close()


def test_an_unknown_user_costs_the_same_pbkdf2_as_a_known_one(make_relay, monkeypatch):
    relay = make_relay()
    _hashed_alice(relay)
    spy = HashSpy(monkeypatch)
    client = Client(relay.port)
    client.command("EHLO c.example.test")
    assert client.command(_plain("mallory", "guess")).startswith("535 ")
    assert spy.rounds == [ROUNDS]
    client.close()


def test_every_failure_is_answered_after_the_failure_delay(make_relay):
    relay = make_relay()  # default auth.failure_delay: 1 s
    for user in ("alice", "nobody-by-that-name"):
        client = Client(relay.port)
        client.command("EHLO c.example.test")
        started = time.monotonic()
        assert client.command(_plain(user, "wrong")).startswith("535 ")
        assert time.monotonic() - started >= 1.0  # a lower bound: the delay is a sleep
        client.close()


# -- 2. guessing is throttled -----------------------------------------------------------
FAST_AUTH = {"failure_delay": 0, "max_delay": 0, "lockout_after": 3, "lockout_time": 1, "window": 600}


def _fail(port, user, times=1):
    client = Client(port)
    client.command("EHLO c.example.test")
    codes = [client.command(_plain(user, "wrong"))[:3] for dummy in range(times)]
    client.close()
    return codes


def test_a_user_is_locked_out_after_repeated_failures_even_with_the_right_secret(make_relay):
    relay = make_relay(auth=FAST_AUTH)
    assert _fail(relay.port, "alice", 2) == ["535", "535"]
    assert _fail(relay.port, "alice") == ["454"]  # the third failure starts the lockout
    client = Client(relay.port)
    client.command("EHLO c.example.test")
    reply = client.command(_plain("alice", "pw"))
    assert reply.startswith("454 4.7.0")
    client.close()
    time.sleep(1.2)  # auth.lockout_time has passed
    client = Client(relay.port)
    client.command("EHLO c.example.test")
    assert client.command(_plain("alice", "pw")).startswith("235 ")
    client.close()


def test_spraying_usernames_locks_authentication_for_all(make_relay):
    relay = make_relay(auth=dict(FAST_AUTH, lockout_after=100, global_lockout_after=4))
    for name in ("u1", "u2", "u3"):
        assert _fail(relay.port, name) == ["535"]
    assert _fail(relay.port, "u4") == ["454"]
    client = Client(relay.port)
    client.command("EHLO c.example.test")
    assert client.command(_plain("alice", "pw")).startswith("454 4.7.0")
    client.close()


def test_auth_failed_log_lines_are_rate_limited(make_relay):
    relay = make_relay(log_level="warning", auth=dict(FAST_AUTH, lockout_after=100))
    buffer = io.StringIO()
    log.setup("warning", stream=buffer)
    try:
        for dummy in range(4):
            _fail(relay.port, "alice", 2)
    finally:
        log.setup("error")
    lines = [line for line in buffer.getvalue().splitlines() if " auth_failed " in line]
    assert len(lines) == 3, lines
    assert all("username=alice" in line for line in lines)


# -- 4. slow clients --------------------------------------------------------------------------
def test_a_command_trickled_byte_by_byte_times_out_as_a_whole(make_relay):
    relay = make_relay(timeouts=dict(TIMEOUTS, client=1))
    client = Client(relay.port)
    client.command("EHLO c.example.test")
    client.trickle(b"NOOP\r\n")  # 1.5 s for the line: each byte alone is well within 1 s
    rest = client.rest()
    assert "421 4.4.2" in rest and "250 2.0.0" not in rest
    client.close()


def _keep_busy(client, limit=60):
    """Complete, answered NOOPs every 0.2 s (never a write after the server spoke first) until it
    closes the connection; the replies."""
    replies = []
    try:
        for dummy in range(limit):
            if client.readable():
                replies.append(client.reply())
                continue
            replies.append(client.command("NOOP"))
            time.sleep(0.2)
    except (EOFError, ConnectionResetError):
        return replies
    raise AssertionError("the session was never ended: %r" % replies[-3:])


def test_a_client_must_authenticate_within_the_pre_auth_deadline(make_relay):
    relay = make_relay(timeouts=dict(TIMEOUTS, auth=1))
    client = Client(relay.port)
    client.command("EHLO c.example.test")
    replies = _keep_busy(client)  # only the deadline ends this: each command is answered at once
    assert replies[-1].startswith("421 4.7.0") and "Authentication timeout" in replies[-1]
    client.close()


def test_an_authenticated_session_has_a_maximum_length(make_relay):
    relay = make_relay(timeouts=dict(TIMEOUTS, session=1))
    client = Client(relay.port)
    client.command("EHLO c.example.test")
    assert client.command(_plain("alice", "pw")).startswith("235 ")
    replies = _keep_busy(client)
    assert replies[-1].startswith("421 4.4.2") and "Session too long" in replies[-1]
    client.close()


def test_a_client_idle_in_a_transaction_gives_its_upstream_connection_back(make_relay):
    relay = make_relay(timeouts=dict(TIMEOUTS, command=1, client=60), pool={"size": 1})
    holder = Client(relay.port)
    holder.command("EHLO c.example.test")
    assert holder.command(_plain("alice", "pw")).startswith("235 ")
    assert holder.command("MAIL FROM:<alice@example.test>").startswith("250 ")
    # ... and then nothing: after timeouts.command the session ends and the slot is free
    assert holder.reply().startswith("421 4.4.2")
    with pytest.raises(EOFError):
        holder.reply()
    holder.close()
    with smtplib.SMTP("127.0.0.1", relay.port, local_hostname="c.example.test", timeout=20) as other:
        other.login("alice", "pw")
        assert other.sendmail("alice@example.test", ["bob@example.test"], b"Subject: t\r\n\r\nhi\r\n") == {}
    assert relay.upstream.connections == 2  # the held connection was dropped, not reused


def test_sessions_that_never_authenticate_are_capped(make_relay):
    relay = make_relay(auth={"max_unauthenticated": 2})
    first, second = Client(relay.port), Client(relay.port)
    assert first.greeting.startswith("220") and second.greeting.startswith("220")
    third = Client(relay.port)
    assert third.greeting.startswith("421 4.7.0")
    third.close()
    first.command("EHLO c.example.test")
    assert first.command(_plain("alice", "pw")).startswith("235 ")
    fourth = Client(relay.port)  # an authenticated session no longer counts
    assert fourth.greeting.startswith("220")
    for client in (first, second, fourth):
        client.close()


# -- 6. shutdown: no renewal after close, waiters released at once --------------------------------
class HangingSession:
    """Stands in for TokenSession: every renewal hangs (as at a provider that never answers)."""

    def __init__(self, token_file):
        self.token_file = token_file
        self.gate = threading.Event()
        self.calls = []

    def ensure_valid(self, min_validity, force=False):
        self.calls.append(force)
        self.gate.wait(20)
        raise RuntimeError("never used")


def test_a_closed_keeper_starts_no_renewal_and_releases_its_waiters(tmp_path):
    from ansible_collections.xoauth2.mail.plugins.module_utils._relay.tokens import KeeperStopped
    from concurrent.futures import ThreadPoolExecutor
    cfg = config(tmp_path)
    executor = ThreadPoolExecutor(2)
    keeper = TokenKeeper(cfg.accounts[0], cfg, executor, Metrics())
    keeper.session = session = HangingSession(TokenFile(cfg.accounts[0].token_file, cfg.accounts[0].key))

    async def scenario():
        first = asyncio.ensure_future(keeper.token())  # starts the renewal
        await asyncio.sleep(0.1)
        second = asyncio.ensure_future(keeper.token())  # waits for the lock
        await asyncio.sleep(0.1)
        keeper.close()
        return await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 5)

    try:
        results = asyncio.run(scenario())
    finally:
        session.gate.set()
        executor.shutdown()
    assert [type(r) for r in results] == [KeeperStopped, KeeperStopped]
    assert session.calls == [False]  # the waiter did not start a second renewal
