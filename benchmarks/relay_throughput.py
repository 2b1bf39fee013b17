#!/usr/bin/env python
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Throughput and added latency of xoauth2-relay, against the same upstream in one run.

Paths, each sending 2 KB messages from one client to the test stack's upstream
Postfix submission (STARTTLS, AUTH XOAUTH2 through Dovecot SASL, LMTP delivery):

* direct   an smtplib XOAUTH2 client: one message per connection, and one reused connection
* helper   xoauth2-relay (plain SMTP + AUTH PLAIN in, pooled XOAUTH2 out): same two modes
* emailproxy (PyPI, separate venv under .build/, client credentials against the test IdP)

Each path is measured sequentially (one client) and with ``--concurrency`` clients at once
(default 4, the helper's pool size; Postfix delivers to a relayhost over several connections):
each ratio compares rows of the same concurrency. ``--pipelined`` sends MAIL, RCPT and DATA in
one write on every path (Postfix's client does, to a server that offers PIPELINING).

plus the helper's resident memory (peak VmRSS) while 50 concurrent sessions send.
Targets (issue 4): helper >= 2x direct one-per-connection, >= 10x emailproxy, < 40 MB;
(issue 8): helper with one message per connection >= 0.8x the direct client on one reused
connection (the floor: the helper's pooled upstream traffic is one reused connection).

With ``--cpu`` it also prints who spent the CPU per message (helper, client, upstream with its
delivery) and, for the concurrent rows (CPU-bound on a small machine), the CPU per message all
parties together may use for the helper path to reach 0.8x: the direct path's, divided by 0.8.

    .venv/bin/python benchmarks/relay_throughput.py [--quick] [--no-emailproxy] [--pipelined] [--cpu]

The stack is started if it is not running (and stopped again at the end).
Messages go to carol@example.test, so test mailboxes do not grow.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
sys.path.insert(0, COLLECTIONS)
sys.path.insert(0, os.path.join(REPO, "tests", "stack"))

from stack import Stack, sasl_initial  # noqa: E402
from relay_process import launch_relay  # noqa: E402
from process_cpu import cpu_seconds, stack_cpu, wait_for_delivery  # noqa: E402

from ansible_collections.xoauth2.mail.plugins.module_utils._providers import create_provider  # noqa: E402
from ansible_collections.xoauth2.mail.plugins.module_utils._session import TokenSession  # noqa: E402
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings  # noqa: E402
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile  # noqa: E402

SENDER = "alice@example.test"
RECIPIENT = "carol@example.test"
HOST = "127.0.0.1"


def make_message(index: int) -> bytes:
    body = ("benchmark message %d " % index).ljust(76, "x") + "\r\n"
    text = "From: %s\r\nTo: %s\r\nSubject: relay bench %d\r\n\r\n" % (SENDER, RECIPIENT, index)
    while len(text) < 2048:
        text += body
    return text.encode()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class Result:
    def __init__(self, path, mode, latencies, elapsed):
        self.path, self.mode, self.latencies, self.elapsed = path, mode, latencies, elapsed
        # CPU seconds spent on these messages by the helper (0 on the direct path), this client process and
        # the upstream side (Postfix, Dovecot, the IdP), its delivery of them included
        self.cpu = {"helper": 0.0, "client": 0.0, "upstream": 0.0}
        self.delivered_after = 0.0  # seconds the upstream still took to deliver them after the last reply

    @property
    def delivered_rate(self):
        """Messages per second until the upstream had delivered them all (into the mailbox)."""
        return len(self.latencies) / (self.elapsed + self.delivered_after)

    def cpu_ms(self, party=None):
        """CPU per message in ms: of one party, or of all together."""
        used = self.cpu[party] if party else sum(self.cpu.values())
        return 1000.0 * used / max(1, len(self.latencies))

    @property
    def rate(self):
        return len(self.latencies) / self.elapsed

    @property
    def p50(self):
        return percentile(self.latencies, 0.5) * 1000

    @property
    def p99(self):
        return percentile(self.latencies, 0.99) * 1000


# -- clients -------------------------------------------------------------------

def direct_connection(stack, token, context):
    client = smtplib.SMTP(HOST, stack.submission_port, local_hostname="bench.example.test", timeout=30)
    client.starttls(context=context)
    client.ehlo()
    sent = []

    def answer(challenge=None):
        if sent:
            return ""
        sent.append(True)
        return sasl_initial("XOAUTH2", SENDER, token)

    client.auth("XOAUTH2", answer, initial_response_ok=True)
    return client


def plain_connection(port, user, secret):
    client = smtplib.SMTP(HOST, port, local_hostname="bench.example.test", timeout=60)
    client.ehlo()
    plain = base64.b64encode(("\0%s\0%s" % (user, secret)).encode()).decode()
    code, text = client.docmd("AUTH", "PLAIN " + plain)
    if code != 235:
        raise RuntimeError("AUTH failed: %d %s" % (code, text))
    return client


def send_pipelined(client, message):
    """MAIL, RCPT and DATA in one write, as Postfix's client does with a server offering PIPELINING."""
    client.send(("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (SENDER, RECIPIENT)).encode())
    replies = [client.getreply() for dummy in range(3)]
    if [code for code, dummy in replies] != [250, 250, 354]:
        raise smtplib.SMTPException("pipelined MAIL/RCPT/DATA: %r" % replies)
    client.send(re.sub(rb"(?m)^\.", b"..", message) + b".\r\n")
    code, text = client.getreply()
    if code != 250:
        raise smtplib.SMTPException("end of data: %d %r" % (code, text))


def send_one(client, index, pipelined):
    if pipelined:
        send_pipelined(client, make_message(index))
    else:
        client.sendmail(SENDER, [RECIPIENT], make_message(index))


def run_mode(name, mode, count, connect, pipelined=False, clients=1):
    """``count`` messages in ``mode`` ("1 msg/conn" or "1 connection"), from ``clients`` threads at once."""
    if clients > 1:
        return _run_concurrently(name, mode, count, connect, pipelined, clients)
    latencies = []
    reused = None
    started = time.perf_counter()
    for index in range(count):
        t0 = time.perf_counter()
        if mode.startswith("1 msg/conn"):
            client = connect()
            send_one(client, index, pipelined)
            client.quit()
        else:
            if reused is None:
                reused = connect()
            send_one(reused, index, pipelined)
        latencies.append(time.perf_counter() - t0)
    if reused is not None:
        reused.quit()
    return Result(name, mode, latencies, time.perf_counter() - started)


def _run_concurrently(name, mode, count, connect, pipelined, clients):
    parts, errors = [], []
    barrier = threading.Barrier(clients + 1)

    def one():
        try:
            barrier.wait(60)
            parts.append(run_mode(name, mode, max(1, count // clients), connect, pipelined))
        except Exception as exc:  # raised below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=one) for dummy in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait(60)
    started = time.perf_counter()
    for thread in threads:
        thread.join(300)
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return Result(name, mode, [latency for part in parts for latency in part.latencies], elapsed)


# -- the helper ------------------------------------------------------------------

HELPER_WARNINGS = []


def _drain_log(stream):
    for line in stream:
        if b" WARNING " in line or b" ERROR " in line:
            HELPER_WARNINGS.append(line.decode("utf-8", "replace").rstrip())


def start_helper(stack, folder, key_file, token_file, collections=COLLECTIONS, name="relay.json", profile_to=None,
                 drain=_drain_log):
    config = {
        "listen": "127.0.0.1:0", "log_level": "warning", "pool": {"size": 4, "idle_timeout": 60},
        "accounts": [{"name": "alice", "username": SENDER, "token_file": token_file, "key_file": key_file,
                      "provider_ca_file": stack.ca_file, "local_username": "alice", "local_secret": "bench-secret",
                      "upstream": {"host": HOST, "port": stack.submission_port, "security": "starttls",
                                   "ca_file": stack.ca_file}}],
    }
    return launch_relay(config, os.path.join(folder, name), collections, serve_args=["--log-level", "info"],
                        profile_to=profile_to, what="the helper", drain=drain)


def seed_token(stack, folder):
    """A key file and alice's token file, renewed at the stack's IdP: (key_file, token_file)."""
    key = os.urandom(32)
    key_file = os.path.join(folder, "key")
    with open(key_file, "w") as handle:
        handle.write(base64.b64encode(key).decode())
    token_file = os.path.join(folder, "alice.token")
    settings = TokenSettings(provider="oidc", authority=stack.issuer, client_id="relay-app",
                             client_secret=stack.clients["relay-app"], scopes=["mail.send"],
                             username=SENDER, ca_path=stack.ca_file)
    TokenSession(settings, TokenFile(token_file, key), provider_factory=create_provider).ensure_valid(600)
    return key_file, token_file


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def concurrent_rss(pid, port, sessions=50, per_session=4):
    peak = [rss_kib(pid)]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.01)

    barrier = threading.Barrier(sessions)
    errors = []

    def one(index):
        try:
            client = plain_connection(port, "alice", "bench-secret")
            barrier.wait(30)
            for n in range(per_session):
                client.sendmail(SENDER, [RECIPIENT], make_message(index * 100 + n))
            client.quit()
        except Exception as exc:
            errors.append(repr(exc))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(sessions)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    peak[0] = max(peak[0], rss_kib(pid))
    return peak[0], errors, sessions * per_session / elapsed


# -- emailproxy ----------------------------------------------------------------

def start_emailproxy(stack, folder, port):
    try:
        out = subprocess.run(["bash", os.path.join(REPO, "benchmarks", "relay_emailproxy_venv.sh")],
                             capture_output=True, timeout=300, check=True)
    except (subprocess.SubprocessError, OSError) as exc:
        return None, "emailproxy venv failed: %s" % exc
    python = out.stdout.decode().strip().splitlines()[-1]
    config = os.path.join(folder, "emailproxy.config")
    with open(config, "w") as handle:
        handle.write(
            "[emailproxy]\ndelete_account_token_on_password_error = False\n\n"
            "[SMTP-%d]\nlocal_address = 127.0.0.1\nserver_address = 127.0.0.1\nserver_port = %d\n"
            "server_starttls = True\n\n"
            "[%s]\ntoken_url = %s\noauth2_flow = client_credentials\noauth2_scope = mail.send\n"
            "client_id = relay-app\nclient_secret = %s\n"
            % (port, stack.submission_port, SENDER, stack.token_url, stack.clients["relay-app"]))
    env = dict(os.environ, SSL_CERT_FILE=stack.ca_bundle)
    env.pop("REQUESTS_CA_BUNDLE", None)
    env.pop("CURL_CA_BUNDLE", None)
    log_file = os.path.join(folder, "emailproxy.log")
    proc = subprocess.Popen([python, "-m", "emailproxy", "--no-gui", "--config-file", config,
                             "--cache-store", os.path.join(folder, "emailproxy.cache"), "--log-file", log_file],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            smtplib.SMTP(HOST, port, local_hostname="bench.example.test", timeout=2).quit()
            return proc, None
        except OSError:
            time.sleep(0.2)
    proc.kill()
    return None, "emailproxy did not listen on %d" % port


def emailproxy_connection(port):
    client = smtplib.SMTP(HOST, port, local_hostname="bench.example.test", timeout=60)
    client.ehlo()
    client.login(SENDER, "any-password-encrypts-its-cache")
    return client


# -- main ------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer messages")
    parser.add_argument("--no-emailproxy", action="store_true")
    parser.add_argument("--emailproxy-port", type=int, default=12587)
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (default 4)")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="clients at once in the concurrent rows, on every path alike (default 4, the "
                             "helper's pool size; 1: sequential rows only)")
    parser.add_argument("--pipelined", action="store_true",
                        help="send MAIL, RCPT and DATA in one write on every path, as Postfix's client does")
    parser.add_argument("--cpu", action="store_true",
                        help="also split the CPU per message between the helper, this client and the upstream "
                             "(Postfix, Dovecot, the IdP): after each part the upstream delivers what it accepted "
                             "before the next part starts, so its delivery is charged to the messages it belongs to")
    parser.add_argument("--compare-with", metavar="CHECKOUT",
                        help="also run the helper from another checkout of this repository (e.g. a worktree at "
                             "an older commit), interleaved in the same run, as path 'xoauth2-relay (other)'")
    args = parser.parse_args()
    scale = 0.3 if args.quick else 1.0
    n_conn, n_reused, n_proxy_conn, n_proxy_reused = (int(400 * scale), int(800 * scale), int(20 * scale) or 4,
                                                      int(200 * scale))

    stack = Stack()
    started_services = stack.start(idp_only=False)
    folder = tempfile.mkdtemp(prefix="relay-bench-")
    helper = proxy = other = None
    results = []
    notes = []
    try:
        key_file, token_file = seed_token(stack, folder)
        token = stack.idp.client_credentials("relay-app")["access_token"]
        context = ssl.create_default_context(cafile=stack.ca_file)  # one context, as a fair direct client

        def direct():
            return direct_connection(stack, token, context)

        helper, port = start_helper(stack, folder, key_file, token_file)

        def via_helper():
            return plain_connection(port, "alice", "bench-secret")

        paths = [("direct XOAUTH2 (smtplib)", direct, n_conn, n_reused, None),
                 ("xoauth2-relay", via_helper, n_conn, n_reused, helper.pid)]
        if args.compare_with:
            other_collections = os.path.join(os.path.abspath(args.compare_with), ".build", "collections")
            other, other_port = start_helper(stack, folder, key_file, token_file, other_collections, "other.json")
            paths.append(("xoauth2-relay (other)", lambda: plain_connection(other_port, "alice", "bench-secret"),
                          n_conn, n_reused, other.pid))
        if not args.no_emailproxy:
            proxy, problem = start_emailproxy(stack, folder, args.emailproxy_port)
            if proxy is None:
                notes.append(problem)
            else:
                paths.append(("emailproxy", lambda: emailproxy_connection(args.emailproxy_port),
                              n_proxy_conn, n_proxy_reused, proxy.pid))
        results = run_interleaved(paths, args.rounds, notes, args.pipelined, args.concurrency,
                                  stack if args.cpu else None)
        rss, errors, concurrent_rate = concurrent_rss(helper.pid, port)
        if errors:
            notes.append("concurrent sessions failed: %s" % errors[:3])
    finally:
        stop_processes(helper, proxy, other)
        if started_services:
            stack.stop()
    report(results, rss, concurrent_rate, notes)
    shutil.rmtree(folder, ignore_errors=True)


def modes(concurrency):
    """(mode, clients at once): sequential, and the same at ``concurrency`` on every path."""
    found = [("1 msg/conn", 1), ("1 connection", 1)]
    if concurrency > 1:
        found += [("1 msg/conn x%d" % concurrency, concurrency), ("1 connection x%d" % concurrency, concurrency)]
    return found


def run_interleaved(paths, rounds, notes, pipelined, concurrency=1, stack=None):
    """Results per (path, mode), measured in rounds: the machine's load falls on every path alike.

    With ``stack``, each part also gets the CPU the parties spent on it: before the next part starts,
    the upstream delivers what it accepted, so its delivery is counted with the messages it belongs to
    (not left to slow down whichever path runs next)."""
    for dummy, connect, dummy2, dummy3, dummy4 in paths:
        run_mode("warm-up", "1 msg/conn", 3, connect)
    if stack is not None:
        wait_for_delivery(stack)
    collected = {}
    for dummy in range(rounds):
        for name, connect, count_conn, count_reused, pid in paths:
            for mode, clients in modes(concurrency):
                count = count_conn if mode.startswith("1 msg/conn") else count_reused
                before = _cpu_now(stack, pid)
                try:
                    part = run_mode(name, mode, max(clients, count // rounds), connect, pipelined, clients)
                except (smtplib.SMTPException, OSError) as exc:
                    notes.append("%s %s failed: %r" % (name, mode, exc))
                    continue
                waited = wait_for_delivery(stack) if stack is not None else 0.0
                after = _cpu_now(stack, pid)
                total = collected.setdefault((name, mode), Result(name, mode, [], 0.0))
                total.delivered_after += waited
                total.latencies += part.latencies
                total.elapsed += part.elapsed
                for party in total.cpu:
                    total.cpu[party] += after[party] - before[party]
    return [collected[(path[0], mode)] for path in paths for mode, dummy in modes(concurrency)
            if (path[0], mode) in collected]


def _cpu_now(stack, pid):
    return {"helper": cpu_seconds(pid) if pid else 0.0, "client": time.process_time(),
            "upstream": stack_cpu(stack) if stack is not None else 0.0}


def stop_processes(*procs):
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _suffix(mode):
    """" x4" for a concurrent mode, "" for a sequential one."""
    return mode[len(mode.rstrip("0123456789")) - 2:] if mode[-1].isdigit() else ""


def report_cpu(results, direct):
    """Who spent the CPU, per message: on this machine the parties share its cores with the upstream."""
    if not any(r.cpu["upstream"] for r in results):
        return
    print()
    print("CPU per message, ms (the upstream's delivery of the messages included), and the rate until the")
    print("upstream had delivered every message of a part (the next part starts only then):")
    print("| path | mode | helper | client | upstream | all | all vs direct 1 connection | delivered msg/s "
          "| delivered rate vs direct 1 connection |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        floor = direct["1 connection" + _suffix(r.mode)]
        print("| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2fx | %.0f | %.2fx |" % (
            r.path, r.mode, r.cpu_ms("helper"), r.cpu_ms("client"), r.cpu_ms("upstream"), r.cpu_ms(),
            r.cpu_ms() / floor.cpu_ms(), r.delivered_rate, r.delivered_rate / floor.delivered_rate))


def report(results, rss, concurrent_rate, notes):
    direct = {r.mode: r for r in results if r.path.startswith("direct")}
    print()
    print("Ratios compare rows of the same concurrency (sequential with sequential, xN with xN).")
    print("| path | mode | messages | msg/s | p50 ms | p99 ms | added p50 ms vs direct (same mode) "
          "| rate vs direct 1 msg/conn | rate vs direct 1 connection |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        suffix = _suffix(r.mode)
        per_conn, floor = direct["1 msg/conn" + suffix], direct["1 connection" + suffix]
        print("| %s | %s | %d | %.0f | %.1f | %.1f | %+.1f | %.2fx | %.2fx |" % (
            r.path, r.mode, len(r.latencies), r.rate, r.p50, r.p99, r.p50 - direct[r.mode].p50,
            r.rate / per_conn.rate, r.rate / floor.rate))
    report_cpu(results, direct)
    print()
    print("xoauth2-relay, 50 concurrent sessions x 4 messages: %.0f msg/s, peak RSS %.1f MiB (target < 40)"
          % (concurrent_rate, rss / 1024.0))
    for r in results:
        if r.path != "xoauth2-relay" or not r.mode.startswith("1 msg/conn"):
            continue
        suffix = _suffix(r.mode)
        per_conn, floor = direct["1 msg/conn" + suffix], direct["1 connection" + suffix]
        label = "concurrent%s" % suffix if suffix else "sequential"
        print("target >= 2x direct 1 msg/conn (%s): %.2fx %s" % (
            label, r.rate / per_conn.rate, "OK" if r.rate >= 2 * per_conn.rate else "MISSED"))
        print("target >= 0.8x direct 1 connection, relay 1 msg/conn (%s): %.2fx %s" % (
            label, r.rate / floor.rate, "OK" if r.rate >= 0.8 * floor.rate else "MISSED"))
    helper_conn = next(r for r in results if r.path == "xoauth2-relay" and r.mode == "1 msg/conn")
    proxy_conn = [r for r in results if r.path == "emailproxy" and r.mode == "1 msg/conn"]
    if proxy_conn:
        ratio = helper_conn.rate / proxy_conn[0].rate
        print("target >= 10x emailproxy (1 msg/conn): %.1fx %s" % (ratio, "OK" if ratio >= 10 else "MISSED"))
    print("target < 40 MiB RSS: %s" % ("OK" if rss < 40 * 1024 else "MISSED"))
    print("load average during the run: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    for note in notes:
        print("note:", note)
    if HELPER_WARNINGS:
        print("helper warnings (%d), first: %s" % (len(HELPER_WARNINGS), HELPER_WARNINGS[0]))


if __name__ == "__main__":
    main()
