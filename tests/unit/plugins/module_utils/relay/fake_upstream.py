# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A scriptable upstream SMTP server (STARTTLS, AUTH XOAUTH2) and an in-process relay, for unit tests."""
from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import os
import threading

from ansible_collections.xoauth2.mail.plugins.module_utils._relay import log
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.app import Relay
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.config import parse_config
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant, TokenRecord


def self_signed(folder):
    """A certificate for 127.0.0.1 that is its own CA (cryptography is a test dependency)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake upstream")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = os.path.join(folder, "up.crt"), os.path.join(folder, "up.key")
    with open(cert_file, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return cert_file, key_file


class FakeUpstream:
    """Records what it saw; behaviour set through attributes."""

    def __init__(self, cert_file, key_file):
        import ssl
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert_file, key_file)
        self.valid_tokens = {"at-1"}
        self.starttls = True
        self.pipelining = True
        self.mail_reply = "250 2.1.0 Ok"
        self.data_reply = "250 2.0.0 Ok: queued"
        self.data_command_reply = "354 go"  # the answer to DATA itself
        self.rcpt_replies = {}  # address (as in RCPT TO:<...>) -> the reply refusing it
        self.drop_on_next_mail = False
        self.drop_with_421 = False
        self.connections = 0
        self.auths = []          # tokens presented
        self.empty_answers = 0   # empty lines after an error challenge
        self.messages = []       # (mail line, rcpt lines, body)
        self.commands = []
        self.port = None
        self.server = None

    async def start(self, implicit_tls=False):
        self.implicit_tls = implicit_tls
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0,
                                                 ssl=self.context if implicit_tls else None)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader, writer):
        self.connections += 1
        tls = self.implicit_tls
        mail, rcpts = None, []

        async def say(text):
            writer.write(text.encode() + b"\r\n")
            await writer.drain()

        await say("220 fake ESMTP")
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                verb = text.split(" ")[0].upper()
                self.commands.append(verb)
                if verb == "EHLO":
                    ext = ["fake", "SIZE 1000000", "8BITMIME"]
                    if self.pipelining:
                        ext.append("PIPELINING")
                    if tls:
                        ext.append("AUTH XOAUTH2")
                    elif self.starttls:
                        ext.append("STARTTLS")
                    else:
                        ext.append("AUTH XOAUTH2 PLAIN")
                    await say("\r\n".join("250-" + e for e in ext[:-1]) + "\r\n250 " + ext[-1])
                elif verb == "STARTTLS" and self.starttls and not tls:
                    await say("220 go ahead")
                    await writer.start_tls(self.context)
                    tls = True
                elif verb == "AUTH":
                    raw = base64.b64decode(text.split(" ")[2]).decode()
                    token = raw.split("auth=Bearer ")[1].split("\x01")[0]
                    self.auths.append(token)
                    if token in self.valid_tokens:
                        await say("235 2.7.0 ok")
                    else:
                        status = base64.b64encode(json.dumps({"status": "401"}).encode()).decode()
                        await say("334 " + status)
                        if (await reader.readline()).strip() == b"":
                            self.empty_answers += 1
                        await say("535 5.7.8 bad token")
                elif verb == "MAIL":
                    if self.drop_on_next_mail:
                        self.drop_on_next_mail = False
                        if self.drop_with_421:
                            await say("421 4.4.2 fake Error: timeout exceeded")
                        writer.transport.abort()
                        return
                    mail, rcpts = text, []
                    await say(self.mail_reply)
                elif verb == "RCPT":
                    refusal = self.rcpt_replies.get(text.partition("<")[2].partition(">")[0])
                    if refusal is None:
                        rcpts.append(text)
                    await say(refusal or ("250 2.1.5 Ok" if self.mail_reply.startswith("250")
                                          else "503 5.5.1 need MAIL"))
                elif verb == "DATA" and not rcpts:
                    await say("554 5.5.1 Error: no valid recipients")  # as Postfix answers
                elif verb == "DATA":
                    await say(self.data_command_reply)
                    if not self.data_command_reply.startswith("354"):
                        continue
                    body = await self.read_data(reader)
                    if body is None:
                        return
                    self.messages.append((mail, rcpts, body))
                    await say(self.data_reply)
                elif verb == "RSET":
                    mail, rcpts = None, []
                    await say("250 ok")
                elif verb == "QUIT":
                    await say("221 bye")
                    return
                else:
                    await say("502 no")
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def read_data(self, reader):
        """The message after 354 (still stuffed), or None if the connection ended first."""
        body = b""
        while True:
            chunk = await reader.readline()
            if chunk in (b".\r\n", b""):
                break
            body += chunk
        return body


class InProcessRelay:
    """An upstream and a relay running on an event loop in a thread; tests drive them with smtplib."""

    def __init__(self, tmp_path, security="starttls", **top):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        cert_file, key_file = self_signed(str(tmp_path))
        self.upstream = self.call(self._make_upstream(cert_file, key_file, security == "tls"))
        key = os.urandom(32)
        key_file_path = tmp_path / "token.key"
        key_file_path.write_text(base64.b64encode(key).decode())
        token_path = str(tmp_path / "alice.token")
        grant = TokenGrant(access_token="at-1", expires_in=3600, requested_at=__import__("time").time())
        record = TokenRecord().with_grant(grant, grant.requested_at)
        record.meta.update(provider="oidc", authority="https://idp.test/idp", client_id="app",
                           flow="client_credentials", scopes=["mail.send"], username="alice@example.test")
        TokenFile(token_path, key).replace(record)
        data = {"listen": "127.0.0.1:0", "log_level": "error", "token_retry_backoff": 0,
                "timeouts": {"connect": 5, "command": 5, "data": 10, "shutdown": 5},
                "accounts": [{"name": "alice", "token_file": token_path, "key_file": str(key_file_path),
                              "local_secret": "pw",
                              "upstream": {"host": "127.0.0.1", "port": self.upstream.port, "ca_file": cert_file,
                                           "security": security}}]}
        data.update(top)
        self.config = parse_config(data)
        log.setup(self.config.log_level)
        self.relay = Relay(self.config)
        self.call(self.relay.start())
        self.port = self.relay.port

    async def _make_upstream(self, cert_file, key_file, implicit_tls):
        upstream = FakeUpstream(cert_file, key_file)
        await upstream.start(implicit_tls)
        return upstream

    def call(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        self.call(self.relay.stop())
        self.upstream.server.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
