#!/usr/bin/env python3
"""Runs the auditlens binary the way a rendered StatefulSet would, on this machine: the same
arguments and environment, with the pod's mounts laid out under a temporary directory (rendered
Secrets and ConfigMaps written out, certificates from `auditlens certs init` for the Secrets the
chart only references) and every address moved to 127.0.0.1. Then it asks what kubelet and
Prometheus ask (/livez, /readyz, /metrics with the token the ServiceMonitor uses), sends one
batch as kube-apiserver would, and stops the process with SIGTERM, which must exit 0.

    smoke.py BINARY RENDERED.yaml WORKDIR

Used by scripts/test-deploy when an auditlens binary is at hand (AUDITLENS_BIN, or the one
cargo built under target/).
"""

import base64
import json
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
import check  # noqa: E402  (the metric names auditlens exports, from the sources)

ROOT = check.ROOT
IMAGE_SHARE = "/usr/share/auditlens/"
FIXTURE = ROOT / "fixtures/eventlist.json"


# The alert sinks' metrics: served once a sink is configured.
SINK_METRICS = {"auditlens_alerts_delivered_total", "auditlens_alerts_delivery_failures_total",
                "auditlens_alerts_dead_lettered_total", "auditlens_alerts_pending"}
# The detection rules' metrics: served while rules are loaded.
RULE_METRICS = {"auditlens_rule_evaluations_total", "auditlens_rule_errors_total",
                "auditlens_rule_evaluation_seconds_total", "auditlens_rule_failing",
                "auditlens_alerts_suppressed_total", "auditlens_alerts_total"}


def parse_exposition(text):
    """The metric names of a text exposition (a histogram's as _bucket, _sum and _count) and its
    samples: name -> {sorted label pairs: value}."""
    names = set()
    samples = {}
    for line in text.splitlines():
        declared = re.match(r"# TYPE (\S+) (\S+)", line)
        if declared:
            name, kind = declared.groups()
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"} if kind == "histogram" else {name}
            continue
        sample = re.match(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if not sample or line.startswith("#"):
            continue
        name, labels, number = sample.groups()
        pairs = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels or "")))
        samples.setdefault(name, {})[pairs] = float(number)
        names.add(name)
    return names, samples


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64(data):
    return base64.b64decode(data)


def main():
    binary, rendered, work = (Path(a).resolve() for a in sys.argv[1:4])
    docs = [d for d in yaml.safe_load_all(rendered.read_text()) if d]
    objects = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    container = pod["containers"][0]
    root = work / "root"

    certs = work / "certs"
    subprocess.run([binary, "certs", "init", certs, "--hosts", "127.0.0.1,localhost",
                    "--clusters", "smoke"], check=True, capture_output=True)
    # Secrets the chart references but does not create: what cert-manager would hold.
    external = {
        "tls.crt": (certs / "server.crt").read_bytes(),
        "tls.key": (certs / "server.key").read_bytes(),
        "ca.crt": (certs / "ca.crt").read_bytes(),
    }

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {}
    for mount in container["volumeMounts"]:
        local = root / mount["mountPath"].lstrip("/")
        local.mkdir(parents=True, exist_ok=True)
        mounts[mount["mountPath"]] = local
        volume = volumes.get(mount["name"], {})
        if "secret" in volume or "configMap" in volume:
            source = volume.get("secret") or volume.get("configMap")
            name = source.get("secretName") or source.get("name")
            kind = "Secret" if "secret" in volume else "ConfigMap"
            obj = objects.get((kind, name))
            if obj is not None:
                data = {k: b64(v) for k, v in obj.get("data", {}).items()} if kind == "Secret" \
                    else {k: v.encode() for k, v in obj.get("data", {}).items()}
            else:
                data = external
            for item in source.get("items") or [{"key": k, "path": k} for k in data]:
                (local / item["path"]).write_bytes(data[item["key"]])

    def local_path(path):
        for mount_path, local in mounts.items():
            if path.startswith(mount_path.rstrip("/") + "/") or path == mount_path:
                return str(local / path[len(mount_path):].lstrip("/"))
        if path.startswith(IMAGE_SHARE):
            return str(ROOT / path[len(IMAGE_SHARE):])
        return path

    port, pg_port, sink_port = free_port(), free_port(), free_port()
    args = []
    values = {}
    for arg in container["args"]:
        if not arg.startswith("--") or "=" not in arg:
            args.append(arg)
            continue
        name, value = arg.split("=", 1)
        values[name] = value
        if name == "--listen":
            value = f"127.0.0.1:{port}"
        elif name == "--pg-listen":
            value = f"127.0.0.1:{pg_port}"
        elif name == "--alerts-webhook":
            value = f"http://127.0.0.1:{sink_port}/alerts"  # nothing listens: deliveries fail
        elif value.startswith("/"):
            value = local_path(value)
        args.append(f"{name}={value}")
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": local_path("/tmp"), "RUST_LOG": "warn"}
    for variable in container.get("env", []):
        env[variable["name"]] = variable.get("value", "smoke-secret")

    tokens = {}
    if "--tokens-file" in values:
        for line in Path(local_path(values["--tokens-file"])).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                token, cluster = line.split(",", 1)
                tokens[cluster] = token
    tls = "--tls-cert" in values
    context = None
    if tls:
        context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        if "--client-ca" in values:
            context.load_cert_chain(certs / "client-smoke.crt", certs / "client-smoke.key")
    base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"

    def request(path, token=None, body=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(base + path, data=body, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10, context=context) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    log = open(work / "auditlens.log", "wb")
    process = subprocess.Popen([str(binary)] + args, cwd=work, env=env, stdout=log, stderr=log)
    failures = []
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit(f"auditlens exited with {process.returncode} at start:\n"
                                 + (work / "auditlens.log").read_text()[-3000:])
            try:
                if request("/livez")[0] == 200:
                    break
            except (OSError, ssl.SSLError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit("auditlens did not answer /livez within 120 s")
            time.sleep(0.2)

        def expect(condition, message):
            if not condition:
                failures.append(message)

        status, text = request("/readyz")
        expect(status == 200, f"/readyz answered {status} {text}")
        if tokens:
            status, _ = request("/metrics")
            expect(status == 401, f"/metrics without a token answered {status}, not 401")
        # The token the ServiceMonitor is given (metrics-token), else any.
        scrape_token = None
        for obj in objects.values():
            if obj["kind"] == "Secret" and "metrics-token" in obj.get("data", {}):
                scrape_token = b64(obj["data"]["metrics-token"]).decode()
        scrape_token = scrape_token or next(iter(tokens.values()), None)
        named, token = next(((c, t) for c, t in tokens.items() if c != "metrics-scraper"),
                            (None, None))
        # The cluster the events are stored under: the client certificate's CN, else the token's
        # cluster, else --cluster.
        if "--client-ca" in values:
            cluster = "smoke"
        else:
            cluster = named or values.get("--cluster", "default")
        status, answer = request("/v1/audit", token, FIXTURE.read_bytes())
        expect(status == 200, f"POST /v1/audit answered {status} {answer}")
        forbidden = 0
        if token or "--client-ca" in values:
            # Credentials cannot name another cluster.
            status, answer = request(f"/v1/audit?cluster=not-{cluster}", token, FIXTURE.read_bytes())
            expect(status == 403, f"POST /v1/audit?cluster=not-{cluster} answered {status}, not 403: {answer}")
            forbidden = 1
        status, metrics = request("/metrics", scrape_token)
        expect(status == 200, f"/metrics with the scrape token answered {status}")
        served, samples = parse_exposition(metrics)
        # Every metric the alert rules and the dashboard use is served (the alert sinks' only
        # once a sink is configured), with the labels they use.
        rules = yaml.safe_load(check.RULES.read_text())["spec"]["groups"]
        exprs = [rule["expr"] for group in rules for rule in group["rules"]]
        exprs += [target["expr"] for panel in json.loads(check.DASHBOARD.read_text())["panels"]
                  for target in panel.get("targets", [])]
        used = set()
        for expr in exprs:
            used |= check.metric_names(expr)
        used = {n for n in used if n.startswith("auditlens_")}
        has_sinks = "--alerts-stdout" in container["args"] or "--alerts-webhook" in values
        if not has_sinks:
            used -= SINK_METRICS
        if "--no-rules" in container["args"]:
            used -= RULE_METRICS
        expect(used <= served, f"/metrics does not serve {sorted(used - served)}")
        labels = {name: {label for pairs in series for label, _ in pairs}
                  for name, series in samples.items()}
        known = dict(labels)
        known.update(check.APISERVER_METRICS)
        for expr in exprs:
            for problem in check.label_problems(expr, known):
                failures.append(f"served /metrics: {problem}: {' '.join(expr.split())[:160]}")
        exported = check.exported_metrics()
        undeclared = served - set(exported)
        if undeclared:
            print(f"  note: /metrics serves names check.py does not find in the sources: {sorted(undeclared)}")
        for name, served_labels in labels.items():
            if name in exported:
                expect(served_labels == exported[name],
                       f"{name} is served with labels {sorted(served_labels)}, the sources say {sorted(exported[name])}")

        def value(name, **wanted):
            for series_labels, number in samples.get(name, {}).items():
                if dict(series_labels).items() >= wanted.items():
                    return number
            return None

        for name in ("auditlens_events_received_total", "auditlens_events_accepted_total"):
            number = value(name, cluster=cluster)
            expect(number and number > 0, f"{name}{{cluster={cluster!r}}} is {number}")
        last = value("auditlens_last_event_received_timestamp_seconds", cluster=cluster)
        expect(last and abs(time.time() - last) < 300,
               f"auditlens_last_event_received_timestamp_seconds{{cluster={cluster!r}}} is {last}, not now")
        expect((value("auditlens_webhook_requests_total", code="200") or 0) >= 1, "no 200 counted by code")
        if forbidden:
            expect((value("auditlens_webhook_requests_total", code="403") or 0) >= 1, "the 403 was not counted by code")
        expect((value("auditlens_webhook_request_duration_seconds_count") or 0) >= 1 + forbidden,
               "the latency histogram counted fewer requests than were sent")
        expect(value("auditlens_build_info") == 1, "auditlens_build_info is not 1")
        print(f"  {rendered.stem}: {base} ready; batch for cluster {cluster} accepted"
              f"{', ?cluster= of another cluster refused (403)' if forbidden else ''}; "
              f"/metrics serves {len(served)} metrics, "
              f"the {len(used)} the rules and dashboard use among them, with their labels")
    finally:
        process.terminate()
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            code = "killed after 60 s"
        if code != 0:
            failures.append(f"SIGTERM: auditlens exited with {code}")
    for failure in failures:
        print(f"FAIL {rendered.stem}: {failure}", file=sys.stderr)
    if failures:
        print((work / "auditlens.log").read_text()[-3000:], file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
