#!/usr/bin/env python
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The floor for the relay's own CPU: a do-nothing asyncio SMTP responder.

Canned replies, no parsing beyond the verb, no upstream, no timers, no logging: greeting,
EHLO, AUTH, MAIL, RCPT, DATA (the body is read up to <CRLF>.<CRLF>), QUIT. Replies to
commands a client pipelined go back in one write, as the relay's do. What an asyncio
server in this Python must spend per session and per message (accept, the reads and
writes, the loop's wakeups) whatever it does with the SMTP: benchmarks/relay_cpu.py
measures the relay against it.

    python benchmarks/smtp_floor.py      # prints "listening <port>", serves until killed
"""

from __future__ import annotations

import asyncio
import sys

GREETING = b"220 floor.test ESMTP\r\n"
REPLIES = {
    b"EHLO": b"250-floor.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n",
    b"AUTH": b"235 2.7.0 Authentication successful\r\n",
    b"MAIL": b"250 2.1.0 Ok\r\n",
    b"RCPT": b"250 2.1.5 Ok\r\n",
    b"DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"QUIT": b"221 2.0.0 Bye\r\n",
}
OTHER = b"250 2.0.0 Ok\r\n"
END_OF_DATA = b"\r\n.\r\n"
QUEUED = b"250 2.0.0 Ok: queued\r\n"


class Responder(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buffer = b""
        self.in_data = False
        transport.write(GREETING)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out = []
        while self.buffer:
            if self.in_data:
                index = self.buffer.find(END_OF_DATA)
                if index < 0:
                    self.buffer = self.buffer[-4:]  # the start of an end mark split across reads
                    break
                self.buffer = self.buffer[index + 5:]
                self.in_data = False
                out.append(QUEUED)
                continue
            end = self.buffer.find(b"\n")
            if end < 0:
                break
            verb = self.buffer[:4].upper()
            self.buffer = self.buffer[end + 1:]
            out.append(REPLIES.get(verb, OTHER))
            if verb == b"DATA":
                self.in_data = True
                self.buffer = b"\r\n" + self.buffer  # so a body of nothing (".") ends it too
            elif verb == b"QUIT":
                self.transport.write(b"".join(out))
                self.transport.close()
                return
        if out:
            self.transport.write(b"".join(out))


async def serve() -> None:
    server = await asyncio.get_running_loop().create_server(Responder, "127.0.0.1", 0)
    sys.stdout.write("listening %d\n" % server.sockets[0].getsockname()[1])
    sys.stdout.flush()
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
