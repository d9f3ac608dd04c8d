#!/usr/bin/env python3
"""Flower reference for the round benchmark (`cohort-bench round`): one JSON line on stdout.

BENCHMARK REFERENCE ONLY. Nothing in Cohort imports or runs this at runtime; `cohort-bench round`
may run it in the same run to report Cohort's round figures as ratios against Flower's on the
same machine.

Requirement (Scripts/reference/requirements-flower.txt):

    pip install flwr==1.42.0        # numpy comes with it; pinned there too

Run:

    python3 Scripts/reference/flower_round.py                      # 8 clients, 10^6 params, 5 rounds, both modes
    python3 Scripts/reference/flower_round.py --rounds 2 --parameters 100000 --mode no-dp
    python3 Scripts/reference/flower_round.py --participants 128 --parameters 100000 --clients-per-process 16

Workload (the same as `cohort-bench round --participants 8 --parameters 1000000 --rounds 5`):
  * one Flower server process and --participants client processes (each a separate OS process,
    all started by this script with subprocess), connected over gRPC on 127.0.0.1 only; with
    --clients-per-process K > 1, ceil(participants / K) client processes of up to K clients each
    (see "Several clients per process" below);
  * the model is one numpy float32 array of --parameters values (all zeros initially, supplied by
    the strategy, so no client is asked for initial parameters);
  * every round the server sends the global model to every client (fraction_fit = 1,
    min_fit_clients = min_available_clients = participants); each client decodes it and returns a
    synthetic update: a deterministic pseudo-random float32 array (seeded by client index, drawn
    once at start-up, before connecting) whose first element is set to the round number -- client
    compute is negligible, as in Cohort's benchmark participants; num_examples = 1 for every client;
  * with --evaluate, every round also sends the aggregate to every client, which evaluates it
    (a constant answer: client compute stays negligible) and replies (fraction_evaluate = 1,
    min_evaluate_clients = participants), and the round is timed to aggregate_evaluate's return:
    the same steps as a Cohort round, which always evaluates its candidate on the participants
    before releasing it. Without it (the default, the issue's workload) the round ends at
    aggregate_fit;
  * the server aggregates with FedAvg; no federated evaluation unless --evaluate, and no
    centralised evaluation;
  * mode "no_dp": plain FedAvg; mode "dp": FedAvg wrapped in Flower's
    DifferentialPrivacyServerSideFixedClipping(noise_multiplier=1.0, clipping_norm=1.0,
    num_sampled_clients=participants) -- clip every update on the server, Gaussian noise on the
    aggregate.

Transport: TLS by default (--transport tls), as Cohort always runs: the parent generates a
throw-away CA and a server certificate for 127.0.0.1 (ECDSA P-256, with the `cryptography`
package flwr depends on) and hands them to start_server(certificates=...); every client verifies
the server with root_certificates=the CA. Flower's legacy gRPC transport authenticates only the
server (Cohort also authenticates every client and seals each update to the coordinator's key on
top of TLS). --transport insecure measures plain gRPC, for comparison only.

What is measured, per mode:
  * round_seconds: for each of the --rounds timed rounds, time.perf_counter() from entry into the
    strategy's configure_fit (the server's start of the round, before it serialises the model and
    sends FitIns) to the return of the strategy's aggregate_fit (aggregation result, including the
    DP wrapper's clipping and noise). Bracketed by a thin Strategy wrapper around the (DP-wrapped)
    FedAvg. Timing starts only after all clients are connected (the wrapper's
    initialize_parameters waits for them), like Cohort's benchmark, which times every round after
    all participants joined; --warmup-rounds (default 0, as Cohort has none) untimed rounds can be
    run first. median_round_seconds is the median of round_seconds.
  * server_cpu_seconds_per_round: the mean over the timed rounds of the server process's CPU time
    (time.process_time(): user + system of every thread -- gRPC, TLS, deserialisation, numpy)
    over the same bracket as round_seconds; server_round_cpu_seconds lists them per round;
  * server_peak_rss_mb: the server process's VmHWM (/proc/self/status) after its last round;
  * client_peak_rss_mb: the largest client VmHWM, each client reading its own at exit.
  MB = 10^6 bytes.

API: Flower's legacy (deprecated since 1.13, still present in 1.42.0 under flwr.compat)
flwr.server.start_server / flwr.client.start_client with the grpc-bidi transport. It is the
only self-contained way to run a server and N client processes from one script with a real
gRPC connection between them and a per-round strategy hook in the server process; the
SuperLink/SuperNode/`flwr run` path adds a SuperLink state database, a separate ServerApp
process and the Fleet/ServerAppIo message relay, which would measure Flower's deployment
machinery rather than the round itself. Each child logs Flower's deprecation warnings on stderr.
The server's thread pool is sized to the number of participants (Flower's default, min(32,
cores + 4), would fan out to only 6 of 8 clients at a time on a 2-core machine). Flower
telemetry is turned off in the children (FLWR_TELEMETRY_ENABLED=0), so nothing leaves the host.

Several clients per process (--clients-per-process K, default 1): a Python client process with
its interpreter, numpy, grpc and flwr costs 125-230 MB (10^5-10^6 parameters), so 128 client
processes do not fit a 23 GB machine. With K > 1 each client process hosts K clients, one thread
each; every thread runs exactly what a client process runs with K = 1 (its own update drawn from
the same seed, its own flwr.client.start_client, hence its own gRPC channel and its own TLS
connection to the server verified against the same CA -- checked with `ss`: 8 clients at K = 4
hold 8 established connections to the server port), and the process fails at once if any of its
clients raises. What changes: the client-side work (deserialise the model, copy the update,
serialise the reply) of K clients contends on one GIL per process (grpc releases it during
network I/O), so clients of one process answer one after another rather than at once, and
client_peak_rss_mb is the largest VmHWM of a process hosting K clients (client_processes says
how many there were). What does not change: the server process, its thread pool, the strategy,
the timing bracket, and round_seconds / server_cpu_seconds_per_round measure the same thing
(the server's CPU figure counts only the server process). K = 1 starts the very same client
processes as before this option existed.

Output (stdout, one line), e.g.
  {"reference": "flower", "flwr_version": "1.42.0", "participants": 8, "parameters": 1000000,
   "rounds": 5, "clients_per_process": 1, "no_dp": {"round_seconds": [...], "median_round_seconds": x,
   "server_peak_rss_mb": y, "client_peak_rss_mb": z, "client_processes": 8}, "dp": {...}}
If flwr cannot be imported: {"reference": "flower", "error": "..."} and exit status 3. Any other
failure (a child failing, the overall --timeout passing): {"reference": "flower", "error": "..."}
and exit status 1. Every process this script started is killed before it exits; children also
get SIGKILL from the kernel should this parent die (PR_SET_PDEATHSIG).
"""

import argparse
import contextlib
import ctypes
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
GRPC_MAX_MESSAGE_LENGTH = 512 * 1024 * 1024  # well above a 4 MB model; clients use the same


def peak_rss_bytes():
    """VmHWM of this process, in bytes (None if /proc is unavailable)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def make_tls_files(workdir):
    """A throw-away CA and a server certificate for 127.0.0.1/localhost, as PEM files in workdir."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1)

    def name(common):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("flower-bench-ca")).issuer_name(name("flower-bench-ca"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {}
    for label, data in [("ca", ca.public_bytes(serialization.Encoding.PEM)),
                        ("cert", cert.public_bytes(serialization.Encoding.PEM)),
                        ("key", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))]:
        paths[label] = os.path.join(workdir, f"tls-{label}.pem")
        with open(paths[label], "wb") as out:
            out.write(data)
        os.chmod(paths[label], 0o600)
    return paths


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as out:
        json.dump(value, out)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# Server process
# --------------------------------------------------------------------------------------------

def run_server(args):
    import numpy as np
    import flwr
    from flwr.common import ndarrays_to_parameters
    from flwr.server import Server, ServerConfig
    from flwr.server.client_manager import SimpleClientManager
    from flwr.server.strategy import DifferentialPrivacyServerSideFixedClipping, FedAvg, Strategy

    n = args.participants

    class TimedStrategy(Strategy):
        """Delegates everything; times configure_fit entry -> aggregate_fit return."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.round_seconds = []
            self.round_results = []
            self.round_cpu_seconds = []
            self.start = None
            self.cpu_start = None

        def initialize_parameters(self, client_manager):
            # The gRPC server is listening by now: tell the parent, then wait for every client,
            # so that connecting is not part of any round.
            with open(args.ready_file, "w") as ready:
                ready.write("ready\n")
            if not client_manager.wait_for(n, timeout=args.connect_timeout):
                raise RuntimeError(f"only {client_manager.num_available()} of {n} clients connected")
            return self.inner.initialize_parameters(client_manager)

        def configure_fit(self, server_round, parameters, client_manager):
            self.start = time.perf_counter()
            self.cpu_start = time.process_time()
            return self.inner.configure_fit(server_round, parameters, client_manager)

        def end_round(self):
            self.round_seconds.append(time.perf_counter() - self.start)
            # CPU of the whole server process (every thread: gRPC, TLS, numpy) over the round.
            self.round_cpu_seconds.append(time.process_time() - self.cpu_start)

        def aggregate_fit(self, server_round, results, failures):
            aggregated = self.inner.aggregate_fit(server_round, results, failures)
            if not args.evaluate:
                self.end_round()
            self.round_results.append({"results": len(results), "failures": len(failures),
                                       "aggregated": aggregated[0] is not None})
            return aggregated

        def configure_evaluate(self, server_round, parameters, client_manager):
            return self.inner.configure_evaluate(server_round, parameters, client_manager)

        def aggregate_evaluate(self, server_round, results, failures):
            aggregated = self.inner.aggregate_evaluate(server_round, results, failures)
            if args.evaluate:
                if len(results) != n or failures:
                    raise RuntimeError(f"round {server_round}: {len(results)} of {n} evaluations, {len(failures)} failures")
                self.end_round()
            return aggregated

        def evaluate(self, server_round, parameters):
            return self.inner.evaluate(server_round, parameters)

    fedavg = FedAvg(
        fraction_fit=1.0,
        fraction_evaluate=1.0 if args.evaluate else 0.0,
        min_fit_clients=n,
        min_evaluate_clients=n if args.evaluate else 0,
        min_available_clients=n,
        initial_parameters=ndarrays_to_parameters([np.zeros(args.parameters, dtype=np.float32)]),
    )
    inner = fedavg
    if args.mode == "dp":
        inner = DifferentialPrivacyServerSideFixedClipping(
            fedavg, noise_multiplier=1.0, clipping_norm=1.0, num_sampled_clients=n)
    strategy = TimedStrategy(inner)
    server = Server(client_manager=SimpleClientManager(), strategy=strategy)
    server.set_max_workers(n)

    total_rounds = args.warmup_rounds + args.rounds
    certificates = None
    if args.tls_ca:
        certificates = (read_bytes(args.tls_ca), read_bytes(args.tls_cert), read_bytes(args.tls_key))
    flwr.server.start_server(
        server_address=f"{HOST}:{args.port}",
        server=server,
        config=ServerConfig(num_rounds=total_rounds),
        grpc_max_message_length=GRPC_MAX_MESSAGE_LENGTH,
        certificates=certificates,
    )
    # start_server has sent every client its disconnect and stopped the gRPC server.
    peak = peak_rss_bytes()
    if len(strategy.round_seconds) != total_rounds:
        raise RuntimeError(f"{len(strategy.round_seconds)} of {total_rounds} rounds completed")
    bad = [r for r in strategy.round_results if r["results"] != n or r["failures"] or not r["aggregated"]]
    if bad:
        raise RuntimeError(f"rounds with missing results or failures: {strategy.round_results}")
    write_json(args.result_file, {
        "round_seconds": strategy.round_seconds[args.warmup_rounds:],
        "warmup_round_seconds": strategy.round_seconds[:args.warmup_rounds],
        "round_cpu_seconds": strategy.round_cpu_seconds[args.warmup_rounds:],
        "peak_rss_bytes": peak,
    })


# --------------------------------------------------------------------------------------------
# Client process
# --------------------------------------------------------------------------------------------

def synthetic_client(args, cid):
    """One client's NumPyClient: its update is drawn here, once, before it connects."""
    import numpy as np
    from flwr.client import NumPyClient

    # Drawn once, before connecting: per-round client compute stays negligible.
    update = np.random.default_rng(1000 + cid).standard_normal(args.parameters, dtype=np.float32)
    update *= np.float32(0.01)

    class SyntheticClient(NumPyClient):
        def __init__(self):
            self.fits = 0

        def get_parameters(self, config):
            return [update]

        def fit(self, parameters, config):
            # `parameters` is the decoded global model (Flower deserialises it before calling us).
            if len(parameters) != 1 or parameters[0].shape != (args.parameters,):
                raise ValueError("unexpected global model shape")
            self.fits += 1
            update[0] = np.float32(self.fits)
            return [update], 1, {}

        def evaluate(self, parameters, config):
            return 0.0, 1, {}

    return SyntheticClient()


def connect_client(args, client):
    """Flower's legacy start_client for one client: its own gRPC channel (TLS with the run's CA), until the
    server disconnects it. Blocks."""
    import flwr

    flwr.client.start_client(
        server_address=f"{HOST}:{args.port}",
        client=client.to_client(),
        grpc_max_message_length=GRPC_MAX_MESSAGE_LENGTH,
        insecure=not args.tls_ca,
        root_certificates=read_bytes(args.tls_ca) if args.tls_ca else None,
        max_retries=20,
        max_wait_time=60.0,
    )


def run_client(args):
    client = synthetic_client(args, args.cid)
    connect_client(args, client)
    write_json(args.result_file, {"cid": args.cid, "fits": client.fits, "peak_rss_bytes": peak_rss_bytes()})


def run_client_group(args):
    """--clients-per-process K > 1: clients --cid ... --cid + --count - 1 in this one process, one thread each,
    each running the same connect_client (its own start_client, its own gRPC channel and TLS connection) as a
    client process of its own would. A client that raises ends this process at once with status 1, as it would
    end its own process (Flower's legacy client re-raises whatever the client raised)."""
    import threading
    import traceback

    clients = [(cid, synthetic_client(args, cid)) for cid in range(args.cid, args.cid + args.count)]

    def serve(cid, client):
        try:
            connect_client(args, client)
        except BaseException:  # noqa: B036 -- any failure of any client fails the process, as with K = 1
            sys.stderr.write(f"client {cid} failed:\n{traceback.format_exc()}")
            sys.stderr.flush()
            os._exit(1)

    threads = [threading.Thread(target=serve, args=(cid, client), name=f"flower-client-{cid}")
               for cid, client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    write_json(args.result_file, {"clients": [{"cid": cid, "fits": client.fits} for cid, client in clients],
                                  "peak_rss_bytes": peak_rss_bytes()})


# --------------------------------------------------------------------------------------------
# Parent (orchestrator)
# --------------------------------------------------------------------------------------------

class Failure(Exception):
    pass


def _die_with_parent():
    """preexec_fn: the kernel SIGKILLs the child if the parent dies (Linux)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def free_loopback_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Children:
    """Every process the parent started; kill_all() ends each by its own id (process group)."""

    def __init__(self):
        self.procs = []

    def start(self, argv, env):
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr, env=env,
            start_new_session=True, preexec_fn=_die_with_parent)
        self.procs.append(proc)
        return proc

    def kill_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.procs:
            with contextlib.suppress(Exception):
                proc.wait(timeout=10)
        self.procs = []


def run_mode(args, mode, deadline, children, workdir):
    def remaining():
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failure(f"overall timeout of {args.timeout:g} s passed (mode {mode})")
        return left

    env = dict(os.environ, FLWR_TELEMETRY_ENABLED="0", PYTHONUNBUFFERED="1")
    script = os.path.abspath(__file__)
    common = ["--parameters", str(args.parameters), "--participants", str(args.participants)]
    if args.transport == "tls":
        tls = make_tls_files(workdir)
        common += ["--tls-ca", tls["ca"]]
        server_tls = ["--tls-cert", tls["cert"], "--tls-key", tls["key"]]
    else:
        server_tls = []
    port = free_loopback_port()
    server_result = os.path.join(workdir, f"server-{mode}.json")
    ready_file = os.path.join(workdir, f"server-{mode}.ready")
    server = children.start(
        [sys.executable, script, "--role", "server", "--mode", mode, "--port", str(port),
         "--rounds", str(args.rounds), "--warmup-rounds", str(args.warmup_rounds)]
        + (["--evaluate"] if args.evaluate else []) + [
         "--result-file", server_result, "--ready-file", ready_file,
         "--connect-timeout", str(max(1.0, min(120.0, remaining())))] + common + server_tls, env)

    while not os.path.exists(ready_file):
        if server.poll() is not None:
            raise Failure(f"server ({mode}) exited with status {server.returncode} before listening")
        remaining()
        time.sleep(0.05)

    clients = []  # (name, process, result file, first cid, number of clients)
    k = args.clients_per_process
    for first in range(0, args.participants, k):
        count = min(k, args.participants - first)
        result = os.path.join(workdir, f"client-{mode}-{first}.json")
        if k == 1:
            argv = ["--role", "client", "--cid", str(first)]
            name = f"client {first}"
        else:
            argv = ["--role", "client-group", "--cid", str(first), "--count", str(count)]
            name = f"client process of clients {first}-{first + count - 1}"
        proc = children.start(
            [sys.executable, script] + argv + ["--port", str(port), "--result-file", result] + common, env)
        clients.append((name, proc, result, first, count))

    # Wait for everyone; a failing child fails the run at once.
    pending = [("server", server)] + [(name, proc) for name, proc, _, _, _ in clients]
    while pending:
        for name, proc in list(pending):
            code = proc.poll()
            if code is None:
                continue
            if code != 0:
                raise Failure(f"{name} ({mode}) exited with status {code}")
            pending.remove((name, proc))
        if pending:
            remaining()
            time.sleep(0.05)

    with open(server_result) as f:
        srv = json.load(f)
    client_peaks = []
    expected_fits = args.warmup_rounds + args.rounds
    for _, _, path, first, count in clients:
        with open(path) as f:
            res = json.load(f)
        fits = res["clients"] if "clients" in res else [{"cid": res["cid"], "fits": res["fits"]}]
        if sorted(c["cid"] for c in fits) != list(range(first, first + count)):
            raise Failure(f"clients {first}-{first + count - 1} ({mode}) reported {[c['cid'] for c in fits]}")
        for c in fits:
            if c["fits"] != expected_fits:
                raise Failure(f"client {c['cid']} ({mode}) fitted {c['fits']} of {expected_fits} rounds")
        client_peaks.append(res["peak_rss_bytes"])
    children.procs = []  # all exited and reaped

    times = srv["round_seconds"]
    out = {
        "round_seconds": [round(t, 6) for t in times],
        "median_round_seconds": round(statistics.median(times), 6),
        "server_cpu_seconds_per_round": round(statistics.mean(srv["round_cpu_seconds"]), 6),
        "server_round_cpu_seconds": [round(t, 6) for t in srv["round_cpu_seconds"]],
        "server_peak_rss_mb": round(srv["peak_rss_bytes"] / 1e6, 3) if srv["peak_rss_bytes"] else None,
        "client_peak_rss_mb": round(max(client_peaks) / 1e6, 3) if all(client_peaks) else None,
        "client_processes": len(clients),
    }
    if args.warmup_rounds:
        out["warmup_round_seconds"] = [round(t, 6) for t in srv["warmup_round_seconds"]]
    return out


def emit(value):
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def run_parent(args):
    try:
        with contextlib.redirect_stdout(sys.stderr):
            import numpy  # noqa: F401
            import flwr
            from flwr.server.strategy import DifferentialPrivacyServerSideFixedClipping  # noqa: F401
        version = flwr.__version__
    except Exception as error:  # ImportError and anything a broken install raises
        emit({"reference": "flower", "error": f"cannot import flwr: {type(error).__name__}: {error}"})
        return 3

    def on_signal(signum, _frame):
        raise Failure(f"terminated by signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    modes = {"no-dp": ["no_dp"], "dp": ["dp"], "both": ["no_dp", "dp"]}[args.mode]
    result = {"reference": "flower", "flwr_version": version, "api": "legacy start_server/start_client (grpc-bidi)",
              "transport": "TLS (server-authenticated gRPC, certificates generated per run)" if args.transport == "tls" else "insecure gRPC",
              "participants": args.participants, "parameters": args.parameters, "rounds": args.rounds,
              "warmup_rounds": args.warmup_rounds,
              "round_scope": ("configure_fit entry to aggregate_evaluate return in the server (fit as below, then the "
                              "aggregate sent to every client, which evaluates and replies)" if args.evaluate else
                              "configure_fit entry to aggregate_fit return in the server (serialise + send model, "
                              "clients decode and reply, deserialise, FedAvg; with dp also clip and noise)"),
              "federated_evaluation": args.evaluate,
              "clients_per_process": args.clients_per_process,
              "cores": os.cpu_count()}
    deadline = time.monotonic() + args.timeout
    children = Children()
    try:
        with tempfile.TemporaryDirectory(prefix="flower-round-") as workdir:
            for mode in modes:
                result[mode] = run_mode(args, "dp" if mode == "dp" else "no-dp", deadline, children, workdir)
    except (Failure, KeyboardInterrupt, OSError, ValueError, KeyError) as error:
        children.kill_all()
        emit({"reference": "flower", "flwr_version": version, "error": f"{type(error).__name__}: {error}"})
        return 1
    finally:
        children.kill_all()
    emit(result)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=8)
    parser.add_argument("--parameters", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per mode")
    parser.add_argument("--warmup-rounds", type=int, default=0, help="untimed rounds before the timed ones")
    parser.add_argument("--mode", choices=["no-dp", "dp", "both"], default="both")
    parser.add_argument("--evaluate", action="store_true",
                        help="federated evaluation of every round's aggregate on every client (fraction_evaluate=1), "
                             "timed to aggregate_evaluate's return, as every Cohort round evaluates its candidate")
    parser.add_argument("--timeout", type=float, default=600.0, help="overall seconds for the whole run")
    parser.add_argument("--transport", choices=["tls", "insecure"], default="tls",
                        help="gRPC over TLS with generated certificates (default, as Cohort) or plain")
    parser.add_argument("--clients-per-process", type=int, default=1, metavar="K",
                        help="host K clients in each client process, one thread and one gRPC connection each "
                             "(default 1: every client a process of its own); client-side CPU then contends on one "
                             "GIL per process, the server is unchanged")
    # Internal: how the parent starts its children.
    parser.add_argument("--role", choices=["parent", "server", "client", "client-group"], default="parent",
                        help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cid", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    parser.add_argument("--ready-file", help=argparse.SUPPRESS)
    parser.add_argument("--connect-timeout", type=float, default=120.0, help=argparse.SUPPRESS)
    parser.add_argument("--tls-ca", help=argparse.SUPPRESS)
    parser.add_argument("--tls-cert", help=argparse.SUPPRESS)
    parser.add_argument("--tls-key", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.role == "server":
        run_server(args)
        return 0
    if args.role == "client":
        run_client(args)
        return 0
    if args.role == "client-group":
        run_client_group(args)
        return 0
    if args.participants < 1 or args.parameters < 1 or args.rounds < 1 or args.warmup_rounds < 0 or args.timeout <= 0:
        parser.error("--participants, --parameters and --rounds must be >= 1, --warmup-rounds >= 0, --timeout > 0")
    if args.clients_per_process < 1:
        parser.error(f"--clients-per-process must be >= 1 (got {args.clients_per_process})")
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
