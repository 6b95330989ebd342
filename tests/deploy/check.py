#!/usr/bin/env python3
"""Checks of the deployment assets, run by scripts/test-deploy (in its venv: PyYAML,
kubernetes-validate and dockerfile).

    check.py manifests DIR      rendered charts DIR/<scenario>.yaml: Kubernetes schemas (strict),
                                security context, probes, flags, cross references; writes the
                                custom resources to DIR/crds.json for validate-crds.mjs
    check.py monitoring DIR     alert rules and dashboard: the two rule copies agree, only metrics
                                auditlens exports; writes DIR/rules.yaml and DIR/dashboard-rules.yaml
                                for promtool
    check.py dockerfile         Dockerfile and .dockerignore

The flags, environment variables and metric names are read from the Rust sources, so a chart or
rule that names something the binary does not have fails here.
"""

import json
import re
import sys
from pathlib import Path

import yaml
import kubernetes_validate

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/auditlens"
RULES = ROOT / "deploy/prometheus/auditlens-rules.yaml"
DASHBOARD = ROOT / "deploy/grafana/auditlens-dashboard.json"
# The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the newest schemas.
K8S_VERSIONS = ["1.25.0", kubernetes_validate.utils.latest_version()]
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}
UID = 65532
# kube-apiserver's audit counters and their labels. `cluster` is not kube-apiserver's own: the
# Prometheus setup attaches it (deploy/README.md, "Loss accounting").
APISERVER_METRICS = {
    "apiserver_audit_event_total": {"cluster"},
    "apiserver_audit_error_total": {"cluster", "plugin"},
}
# Labels Prometheus attaches to every scraped series (prometheus-operator's target labels).
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "endpoint", "container"}
# What each rendered scenario turns on (scripts/test-deploy renders them).
SCENARIOS = {
    "default": dict(tls=False, mtls=False, generated_tokens=True, postgres=False,
                    persistence=False, service_monitor=False, prometheus_rule=False,
                    network_policy=False),
    "tls": dict(tls=True, mtls=False, generated_tokens=True, postgres=False,
                persistence=False, service_monitor=True, prometheus_rule=False,
                network_policy=False),
    "all": dict(tls=True, mtls=True, generated_tokens=True, postgres=True,
                persistence=True, service_monitor=True, prometheus_rule=True,
                network_policy=True),
}

failures = []


def fail(where, message):
    failures.append(f"{where}: {message}")


def expect(condition, where, message):
    if not condition:
        fail(where, message)
    return condition


# ---------------------------------------------------------------------------------------------
# What the Rust sources declare.

# The structs whose fields are `auditlens serve` flags (flattened ones included), by file.
SERVE_STRUCTS = {
    "src/cmd/serve.rs": ["ServeArgs", "AlertArgs"],
    "src/cmd/mod.rs": ["Cli", "DataDirArg"],
    "src/detect/pack.rs": ["PackArgs"],
    "src/kafka.rs": ["KafkaArgs"],
}


def struct_bodies(text, names):
    for name in names:
        match = re.search(r"pub struct " + name + r" \{\n(.*?)\n\}", text, re.S)
        if not match:
            fail("sources", f"struct {name} not found")
            continue
        yield match.group(1)


def cli():
    """The long flags of `auditlens serve` (flag -> takes a value) and every AUDITLENS_* variable."""
    flags, envs = {}, set()
    for relative, names in SERVE_STRUCTS.items():
        text = (ROOT / relative).read_text()
        envs.update(re.findall(r'env = "(AUDITLENS_[A-Z0-9_]+)"', text))
        for body in struct_bodies(text, names):
            pending = []
            for line in body.splitlines():
                field = re.match(r"\s*pub (\w+): (.+?),?\s*$", line)
                if not field:
                    pending.append(line)
                    continue
                attributes = "\n".join(pending)
                pending = []
                arg = re.search(r"#\[arg\((.*?)\)\]\s*$", attributes, re.S)
                if not arg or not re.search(r"\blong\b", arg.group(1)):
                    continue
                explicit = re.search(r'long = "([^"]+)"', arg.group(1))
                name = explicit.group(1) if explicit else field.group(1).replace("_", "-")
                flags["--" + name] = field.group(2).strip() != "bool"
    for flag in ("--listen", "--data-dir", "--tls-cert", "--tls-key", "--client-ca",
                 "--tokens-file", "--pg-listen", "--rules", "--queries", "--no-rules"):
        expect(flag in flags, "sources", f"the flag parser found no {flag}: update SERVE_STRUCTS")
    return flags, envs


def rust_statement(text, start):
    """The Rust statement starting at `start`, up to its `;` (outside string literals)."""
    quoted = False
    i = start
    while i < len(text):
        c = text[i]
        if quoted and c == "\\":
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == ";" and not quoted:
            return text[start:i]
        i += 1
    return text[start:]


def format_labels(inner):
    """Label names of a format string's `{{a=\\"{}\\",b=\\"{}\\"}}`."""
    return set(re.findall(r"(\w+)=", inner))


def exported_metrics():
    """The series GET /metrics writes, by name, with their label names (without the target
    labels Prometheus adds):
    - a counter per StatsSnapshot field (ingest/src/stats.rs), except the fields that
      src/coverage.rs leaves to the labelled metrics (LABELLED);
    - metrics registered with a prometheus `Registry` under the `auditlens` namespace anywhere
      in the crates (ingest/src/metrics.rs): their label arrays and constant labels, a
      histogram as its _bucket (le), _sum and _count series;
    - the names src/coverage.rs spells out, with the labels of the format strings that write
      them."""
    names = {}
    stats = (ROOT / "ingest/src/stats.rs").read_text()
    coverage = (ROOT / "src/coverage.rs").read_text()
    snapshot = re.search(r"pub struct StatsSnapshot \{\n(.*?)\n\}", stats, re.S)
    labelled = re.search(r"const LABELLED: &\[&str\] = &\[(.*?)\];", coverage, re.S)
    expect(labelled, "sources", "src/coverage.rs: no LABELLED (the StatsSnapshot counters /metrics leaves out)")
    labelled = set(re.findall(r'"(\w+)"', labelled.group(1))) if labelled else set()
    if expect(snapshot, "sources", "StatsSnapshot not found in ingest/src/stats.rs"):
        for field in re.findall(r"pub (\w+): u64", snapshot.group(1)):
            if field not in labelled:
                names[f"auditlens_{field}_total"] = set()

    for directory in ("src", "ingest/src", "analyze/src"):
        for path in (ROOT / directory).rglob("*.rs"):
            text = path.read_text()
            if '.namespace("auditlens")' not in text:
                continue
            for match in re.finditer(
                    r'(HistogramOpts::new|Opts::new|counter)\(\s*(?:&registry,\s*)?"([a-z0-9_]+)"', text):
                # From the constructor around the options (GaugeVec::new(Opts::new(…), &["cluster"])).
                line_start = text.rfind("\n", 0, match.start()) + 1
                statement = rust_statement(text, line_start)
                labels = set()
                for array in re.findall(r'&\[\s*((?:"[a-z_]+"\s*,?\s*)+)\]', statement):
                    labels |= set(re.findall(r'"([a-z_]+)"', array))
                labels |= set(re.findall(r'\.const_label\(\s*"([a-z_]+)"', statement))
                name = f"auditlens_{match.group(2)}"
                if match.group(1) == "HistogramOpts::new":
                    names[f"{name}_bucket"] = labels | {"le"}
                    names[f"{name}_sum"] = set(labels)
                    names[f"{name}_count"] = set(labels)
                else:
                    names[name] = labels

    for match in re.finditer(r"\b(auditlens_[a-z0-9_]+)\b", coverage):
        name = match.group(1)
        if name.endswith("_"):
            continue
        labels = names.setdefault(name, set())
        after = coverage[match.end():]
        if after.startswith("{{"):
            labels |= format_labels(after[2:after.index("}}")])
        elif after.startswith('"'):
            # A name in a table, written by a `{name}{{…}}` format string after it.
            written = re.search(r"\{name\}\{\{(.*?)\}\}", after)
            if expect(written, "sources", f"src/coverage.rs: how {name} is written was not found"):
                labels |= format_labels(written.group(1))
    for name in ("auditlens_events_received_total", "auditlens_last_event_received_timestamp_seconds",
                 "auditlens_webhook_request_duration_seconds_bucket", "auditlens_rule_failing",
                 "auditlens_alerts_pending", "auditlens_coverage_requirement"):
        expect(name in names, "sources", f"{name} not found: update exported_metrics()")
    for name in ("auditlens_events_accepted_total", "auditlens_events_quarantined_total",
                 "auditlens_events_received_total"):
        expect(names.get(name) == {"cluster"}, "sources",
               f"{name} has labels {sorted(names.get(name, ()))}, expected [cluster]")
    return names


def check_args(where, args, flags):
    for arg in args:
        if not arg.startswith("--"):
            continue
        name, has_value = (arg.split("=", 1)[0], "=" in arg)
        if not expect(name in flags, where, f"`{arg}` is not a flag of `auditlens serve`"):
            continue
        if flags[name]:
            expect(has_value, where, f"`{arg}` needs a value (--flag=value)")
        else:
            expect(not has_value, where, f"`{arg}` is a switch and takes no value")


# ---------------------------------------------------------------------------------------------
# Rendered manifests.

def load_documents(path):
    docs = []
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            docs.append(doc)
    return docs


def schema_check(where, doc, crds):
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in CUSTOM_KINDS:
        crds.append({"where": where, "object": doc})
        return
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            fail(where, f"Kubernetes {version}: {error.message} (at {'.'.join(map(str, error.path))})")
        except Exception as error:  # unknown kind, no schema
            fail(where, f"Kubernetes {version}: {type(error).__name__}: {error}")


def selector_matches(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def mounted_file(where, path, container, volumes, objects):
    """The volume and item that `path` resolves to, checking the item exists."""
    for mount in container.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        item = path[len(prefix):]
        volume = volumes.get(mount["name"])
        if not expect(volume, where, f"mount {mount['name']} has no volume"):
            return
        source = volume.get("secret") or volume.get("configMap")
        if not expect(source, where, f"{path}: volume {mount['name']} is not a Secret or ConfigMap"):
            return
        if "items" in source:
            expect(any(i["path"] == item for i in source["items"]), where,
                   f"{path}: volume {mount['name']} does not project {item}")
        name = source.get("secretName") or source.get("name")
        kind = "Secret" if "secret" in volume else "ConfigMap"
        rendered = objects.get((kind, name))
        if rendered is not None:
            keys = set(rendered.get("data", {})) | set(rendered.get("stringData", {}))
            wanted = [i["key"] for i in source.get("items", [])] or [item]
            for key in wanted:
                expect(key in keys, where, f"{kind} {name} has no key {key}")
        return
    fail(where, f"{path} is not under any volume mount")


def check_statefulset(where, sts, expected, flags, envs, objects):
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    expect(selector_matches(spec["selector"]["matchLabels"], labels), where,
           "selector does not match the pod labels")
    headless = objects.get(("Service", spec.get("serviceName")))
    expect(headless and headless["spec"].get("clusterIP") == "None", where,
           "serviceName is not a headless Service of the chart")

    psc = pod.get("securityContext", {})
    expect(psc.get("runAsNonRoot") is True, where, "pod runAsNonRoot is not true")
    expect(psc.get("runAsUser") == UID, where, f"pod runAsUser is not {UID}")
    expect(psc.get("fsGroup") == UID, where, f"pod fsGroup is not {UID} (the data volume)")
    expect(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where,
           "pod seccompProfile is not RuntimeDefault")
    expect(pod.get("automountServiceAccountToken") is False, where,
           "the service account token is mounted (auditlens needs no API access)")

    containers = pod["containers"]
    expect(len(containers) == 1, where, "expected one container")
    container = containers[0]
    csc = container.get("securityContext", {})
    expect(csc.get("runAsNonRoot") is True, where, "container runAsNonRoot is not true")
    expect(csc.get("runAsUser") == UID, where, f"container runAsUser is not {UID}")
    expect(csc.get("readOnlyRootFilesystem") is True, where, "readOnlyRootFilesystem is not true")
    expect(csc.get("allowPrivilegeEscalation") is False, where,
           "allowPrivilegeEscalation is not false")
    expect(csc.get("capabilities", {}).get("drop") == ["ALL"], where,
           "capabilities do not drop ALL")
    expect(not csc.get("capabilities", {}).get("add"), where, "capabilities are added")
    expect(csc.get("privileged") in (None, False), where, "privileged")
    expect(csc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where,
           "container seccompProfile is not RuntimeDefault")

    args = container.get("args", [])
    expect(args[:1] == ["serve"], where, f"args do not start with serve: {args[:1]}")
    expect("command" not in container, where, "command overrides the image's ENTRYPOINT")
    check_args(where, args, flags)
    values = {}
    for arg in args:
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
            expect(name not in values or name in ("--store-option", "--kafka-property"), where,
                   f"{name} given twice")
            values[name] = value
    for env in container.get("env", []):
        if env["name"].startswith("AUDITLENS_"):
            expect(env["name"] in envs, where, f"env {env['name']} is not read by auditlens")

    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    expect(ports.get("webhook") == 9765, where, f"no webhook port 9765: {ports}")
    expect(values.get("--listen", "").endswith(f":{ports.get('webhook')}"), where,
           "--listen does not use the webhook port")
    if expected["postgres"]:
        expect(ports.get("postgres") == 5432, where, "no postgres port 5432")
        expect(values.get("--pg-listen", "").endswith(":5432"), where, "--pg-listen is not :5432")
    else:
        expect("postgres" not in ports and "--pg-listen" not in values, where,
               "PostgreSQL is on although query.postgres.enabled is not")

    # What auditlens needs given, and given right.
    expect(("--tls-cert" in values) == expected["tls"], where, f"--tls-cert: TLS is {expected['tls']}")
    expect(("--tls-key" in values) == expected["tls"], where, f"--tls-key: TLS is {expected['tls']}")
    expect(("--client-ca" in values) == expected["mtls"], where, f"--client-ca: mTLS is {expected['mtls']}")
    expect("--tokens-file" in values, where, "no --tokens-file")
    expect("--allow-insecure" not in args, where, "--allow-insecure is on")
    rules = values.get("--rules", "")
    image_prefix = "/usr/share/auditlens/"
    if expect(rules.startswith(image_prefix), where, f"--rules {rules} is not in the image"):
        expect((ROOT / rules[len(image_prefix):]).is_dir(), where,
               f"--rules {rules}: the Dockerfile copies no such directory")
    queries = values.get("--queries", "")
    if expect(queries.startswith(image_prefix), where, f"--queries {queries} is not in the image"):
        expect((ROOT / queries[len(image_prefix):]).is_dir(), where,
               f"--queries {queries}: the Dockerfile copies no such directory")

    # Volumes: every mount has a volume, the data and /tmp are writable, files exist.
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    for mount in container.get("volumeMounts", []):
        expect(mount["name"] in volumes or mount["name"] in claims, where,
               f"mount {mount['name']} has no volume")
    for name in volumes:
        expect(name in mounts.values(), where, f"volume {name} is not mounted")
    data_volume = mounts.get(values.get("--data-dir"))
    expect(data_volume == "data", where, "--data-dir is not the data volume's mount")
    if expected["persistence"]:
        expect("data" in claims and "data" not in volumes, where,
               "persistence is on but data is not a volumeClaimTemplate")
    else:
        expect("emptyDir" in volumes.get("data", {}) and not claims, where,
               "persistence is off but data is not an emptyDir")
    expect("emptyDir" in volumes.get(mounts.get("/tmp"), {}), where,
           "/tmp is not a writable emptyDir (read-only root filesystem)")
    for flag in ("--tls-cert", "--tls-key", "--client-ca", "--tokens-file", "--lists"):
        if flag in values:
            mounted_file(f"{where} {flag}", values[flag], container, volumes, objects)
    for volume in volumes.values():
        if "secret" in volume and volume["secret"]["secretName"].endswith("-tokens"):
            expect(("Secret", volume["secret"]["secretName"]) in objects, where,
                   "the generated tokens Secret is not rendered")

    # Probes: /livez and /readyz, over HTTPS with TLS; TCP with mTLS (kubelet has no client
    # certificate).
    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz"),
                        ("startupProbe", "/livez")):
        definition = container.get(probe)
        if not expect(definition, where, f"no {probe}"):
            continue
        if expected["mtls"]:
            expect(definition.get("tcpSocket", {}).get("port") == "webhook", where,
                   f"{probe} is not a TCP check of the webhook port under mTLS")
            continue
        http = definition.get("httpGet", {})
        expect(http.get("path") == path, where, f"{probe} path is not {path}")
        expect(http.get("port") == "webhook", where, f"{probe} port is not webhook")
        scheme = "HTTPS" if expected["tls"] else "HTTP"
        expect(http.get("scheme") == scheme, where, f"{probe} scheme is not {scheme}")
    resources = container.get("resources", {})
    expect(resources.get("requests") and resources.get("limits", {}).get("memory"), where,
           "resources have no requests or memory limit")
    return labels, ports


def check_tokens_secret(where, secret, expected, clusters):
    import base64
    data = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
    file = data.get("tokens.csv", "")
    entries = [line.split(",", 1) for line in file.splitlines()
               if line.strip() and not line.startswith("#")]
    expect(entries, where, "tokens.csv holds no token")
    tokens = [t for t, _ in entries]
    expect(len(set(tokens)) == len(tokens), where, "tokens are not unique")
    for token, cluster in entries:
        expect(len(token) >= 32, where, "a token is shorter than 32 characters")
        # A cluster name auditlens accepts (ingest/src/server/auth.rs), or `*`: any cluster,
        # named by ?cluster=.
        expect(cluster == "*" or re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}", cluster), where,
               f"invalid cluster name {cluster}")
    for cluster in clusters:
        expect(data.get(f"token-{cluster}") and f"{data.get(f'token-{cluster}')},{cluster}" in file,
               where, f"no token-{cluster} in tokens.csv")
    expect(("metrics-token" in data) == expected["service_monitor"], where,
           "metrics-token exists iff the ServiceMonitor is on")


def check_scenario(name, path, flags, envs, crds):
    expected = SCENARIOS[name]
    docs = load_documents(path)
    objects = {}
    for doc in docs:
        key = (doc.get("kind"), doc.get("metadata", {}).get("name"))
        expect(key not in objects, f"{name} {key}", "rendered twice")
        objects[key] = doc
        where = f"{name} {key[0]}/{key[1]}"
        schema_check(where, doc, crds)
        labels = doc.get("metadata", {}).get("labels", {})
        expect(labels.get("app.kubernetes.io/name") == "auditlens", where, "no app.kubernetes.io/name label")
        expect(not doc.get("metadata", {}).get("namespace"), where,
               "a namespace is hard-coded (helm install -n decides)")
    kinds = [k for k, _ in objects]
    expect(kinds.count("StatefulSet") == 1, name, f"expected one StatefulSet: {kinds}")
    for kind, flag in (("ServiceMonitor", "service_monitor"), ("PrometheusRule", "prometheus_rule"),
                       ("NetworkPolicy", "network_policy")):
        expect((kind in kinds) == expected[flag], name, f"{kind} rendered: {kind in kinds}, wanted {expected[flag]}")
    if name == "default":
        # A plain cluster: no prometheus-operator CRDs, maybe no StorageClass.
        expect(not any(k in CUSTOM_KINDS for k in ((d["apiVersion"], d["kind"]) for d in docs)),
               name, "custom resources rendered by default")

    sts_key = next(k for k in objects if k[0] == "StatefulSet")
    sts = objects[sts_key]
    pod_labels, ports = check_statefulset(f"{name} StatefulSet/{sts_key[1]}", sts, expected, flags, envs, objects)

    services = {n: d for (k, n), d in objects.items() if k == "Service"}
    main = [d for d in services.values() if d["spec"].get("clusterIP") != "None"]
    if expect(len(main) == 1, name, "expected one non-headless Service"):
        service = main[0]
        where = f"{name} Service/{service['metadata']['name']}"
        expect(service["spec"]["type"] == "NodePort", where, "type is not NodePort")
        service_ports = {p["name"]: p for p in service["spec"]["ports"]}
        expect(service_ports.get("webhook", {}).get("port") == 9765, where, "no webhook port 9765")
        expect(("postgres" in service_ports) == expected["postgres"], where, "postgres port")
        if expected["postgres"]:
            expect(service_ports["postgres"]["port"] == 5432, where, "postgres port is not 5432")
    for service in services.values():
        where = f"{name} Service/{service['metadata']['name']}"
        expect(selector_matches(service["spec"]["selector"], pod_labels), where,
               "selector does not match the pods")
        for port in service["spec"]["ports"]:
            expect(port["targetPort"] in ports, where, f"targetPort {port['targetPort']} is no container port")

    tokens = [d for (k, n), d in objects.items() if k == "Secret" and n.endswith("-tokens")]
    if expected["generated_tokens"] and expect(len(tokens) == 1, name, "no generated tokens Secret"):
        values = yaml.safe_load((CHART / "values.yaml").read_text())
        clusters = values["tokens"]["clusters"]
        if name == "all":
            clusters = yaml.safe_load((ROOT / "tests/deploy/values-all.yaml").read_text())["tokens"]["clusters"]
        check_tokens_secret(f"{name} Secret/{tokens[0]['metadata']['name']}", tokens[0], expected, clusters)

    for (kind, obj_name), doc in objects.items():
        where = f"{name} {kind}/{obj_name}"
        if kind == "ServiceMonitor":
            spec = doc["spec"]
            selected = [s for s in services.values()
                        if selector_matches(spec["selector"]["matchLabels"], s["metadata"]["labels"])]
            expect(len(selected) == 1 and selected[0]["spec"].get("clusterIP") != "None", where,
                   f"selects {len(selected)} Services: it must select only the webhook Service (or every pod is scraped twice)")
            job_label = spec.get("jobLabel")
            expect(selected and selected[0]["metadata"]["labels"].get(job_label) == "auditlens", where,
                   'jobLabel does not yield job="auditlens", which the rules select')
            endpoint = spec["endpoints"][0]
            expect(endpoint.get("port") == "webhook" and endpoint.get("path") == "/metrics", where,
                   "endpoint is not webhook /metrics")
            expect(endpoint.get("honorLabels") is True, where,
                   "honorLabels is not true: a `cluster` target label would rename auditlens' own")
            expect(endpoint.get("scheme") == ("https" if expected["tls"] else "http"), where, "scheme")
            secret = endpoint.get("bearerTokenSecret")
            if expect(secret, where, "no bearerTokenSecret: /metrics takes the bearer tokens"):
                rendered = objects.get(("Secret", secret["name"]))
                expect(rendered and secret["key"] in rendered["data"], where,
                       f"bearer token {secret['name']}/{secret['key']} is not rendered")
            if expected["mtls"]:
                tls = endpoint.get("tlsConfig", {})
                expect(tls.get("cert") and tls.get("keySecret"), where,
                       "mTLS without a client certificate for Prometheus")
        if kind == "PrometheusRule":
            standalone = yaml.safe_load(RULES.read_text())
            expect(doc["spec"] == standalone["spec"], where,
                   f"spec differs from {RULES.relative_to(ROOT)}: keep the two rule copies equal")
        if kind == "NetworkPolicy":
            spec = doc["spec"]
            expect(selector_matches(spec["podSelector"]["matchLabels"], pod_labels), where,
                   "podSelector does not match the pods")
            expect(spec.get("policyTypes") == ["Ingress"], where, "policyTypes is not [Ingress]")
            for rule in spec.get("ingress", []):
                expect(rule.get("from"), where, "an ingress rule without `from` admits everyone")
                for port in rule.get("ports", []):
                    expect(port["port"] in ports, where, f"port {port['port']} is no container port")
            sources = spec["ingress"][0]["from"]
            expect(any("ipBlock" in s for s in sources), where, "apiserver CIDRs missing")
            expect(any(s.get("podSelector", {}).get("matchLabels") == {"app": "apiserver"} for s in sources),
                   where, "Kubermatic's app: apiserver pods missing")
            if expected["postgres"]:
                expect(any(p["port"] == "postgres" for r in spec["ingress"] for p in r.get("ports", [])),
                       where, "no rule for the postgres port")
    return len(docs)


def manifests(directory):
    flags, envs = cli()
    crds = []
    for name in SCENARIOS:
        path = directory / f"{name}.yaml"
        if not expect(path.exists(), name, f"{path} was not rendered"):
            continue
        count = check_scenario(name, path, flags, envs, crds)
        print(f"  {name}: {count} objects checked against Kubernetes {', '.join(K8S_VERSIONS)}")
    (directory / "crds.json").write_text(json.dumps(crds))


# ---------------------------------------------------------------------------------------------
# Alert rules and dashboard.

def metric_names(expr):
    # Not $auditlens_job, the dashboard's variable.
    return set(re.findall(r"(?<![\w$:])((?:auditlens|apiserver)_[a-z0-9_]+)\b", expr))


def label_problems(expr, known):
    """What in `expr` uses a label its metrics do not have: a matcher of `name{…}` naming a
    label `name` lacks, or a `by`/`on`/`ignoring`/`group_*` clause naming a label none of the
    expression's metrics has. `known` maps metric names to label names (without the target
    labels); metrics it does not know are not checked."""
    problems = []
    used = metric_names(expr)
    for match in re.finditer(r"(?<![\w$:])((?:auditlens|apiserver)_[a-z0-9_]+)\s*\{([^}]*)\}", expr):
        name, matchers = match.groups()
        if name not in known:
            continue
        for label in re.findall(r'(\w+)\s*(?:=~|!~|!=|=)\s*"', matchers):
            if label not in known[name] | TARGET_LABELS:
                problems.append(f"{name} has no label {label!r} (it has {sorted(known[name])})")
    available = set(TARGET_LABELS)
    for name in used:
        available |= known.get(name, set())
    if not all(name in known for name in used):
        return problems
    for clause in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr):
        for label in re.findall(r"\w+", clause):
            if label not in available:
                problems.append(f"groups or matches by {label!r}, which none of {sorted(used)} has")
    return problems


def check_metrics(where, expr, exported):
    known = dict(exported)
    known.update(APISERVER_METRICS)
    for name in metric_names(expr):
        if name.startswith("auditlens_"):
            expect(name in exported, where, f"{name} is not exported by auditlens (GET /metrics)")
        else:
            expect(name in APISERVER_METRICS, where, f"{name} is not a kube-apiserver audit metric used here")
    for problem in label_problems(expr, known):
        fail(where, problem)


def monitoring(directory):
    exported = exported_metrics()
    used = set()
    rule = yaml.safe_load(RULES.read_text())
    expect(rule.get("apiVersion") == "monitoring.coreos.com/v1" and rule.get("kind") == "PrometheusRule",
           str(RULES), "not a PrometheusRule")
    chart_copy = yaml.safe_load((CHART / "files/auditlens-rules.yaml").read_text())
    expect(chart_copy == rule["spec"], "rules",
           "deploy/helm/auditlens/files/auditlens-rules.yaml differs from the spec of deploy/prometheus/auditlens-rules.yaml")
    alerts = []
    for group in rule["spec"]["groups"]:
        for entry in group["rules"]:
            where = f"rule {entry.get('alert') or entry.get('record')}"
            alerts.append(entry.get("alert"))
            check_metrics(where, entry["expr"], exported)
            used |= metric_names(entry["expr"])
            expect(entry.get("labels", {}).get("severity") in ("critical", "warning", "info"),
                   where, "severity is not critical, warning or info")
            expect({"summary", "description"} <= set(entry.get("annotations", {})), where,
                   "summary or description missing")
    expect(len(alerts) == len(set(alerts)), "rules", "alert names repeat")
    (directory / "rules.yaml").write_text(yaml.safe_dump(rule["spec"], sort_keys=False))

    dashboard = json.loads(DASHBOARD.read_text())
    variables = {v["name"] for v in dashboard.get("templating", {}).get("list", [])}
    builtins = {"__rate_interval", "__interval", "__range", "__all"}
    ids, recording = set(), []
    for panel in dashboard["panels"]:
        where = f"dashboard panel {panel.get('id')} {panel.get('title')!r}"
        expect(panel.get("id") not in ids, where, "id repeats")
        ids.add(panel.get("id"))
        grid = panel.get("gridPos", {})
        expect({"h", "w", "x", "y"} <= set(grid) and grid["x"] + grid["w"] <= 24, where, "bad gridPos")
        if panel.get("type") == "row":
            continue
        expect(panel.get("datasource", {}).get("uid") == "${datasource}", where,
               "datasource is not the ${datasource} variable")
        targets = panel.get("targets", [])
        expect(targets, where, "no query")
        refs = [t.get("refId") for t in targets]
        expect(len(refs) == len(set(refs)), where, "refIds repeat")
        for target in targets:
            expr = target.get("expr", "")
            expect(expr, where, "empty expr")
            for variable in re.findall(r"\$\{?(\w+)", expr):
                expect(variable in variables | builtins, where, f"unknown variable ${variable}")
            check_metrics(where, expr, exported)
            used |= metric_names(expr)
            concrete = (expr.replace("$__rate_interval", "5m").replace("$apiserver_job", "apiserver")
                        .replace("$auditlens_job", "auditlens").replace("$cluster", ".*"))
            recording.append({"record": f"dashboard:panel{panel['id']}:{target['refId']}", "expr": concrete})
    (directory / "dashboard-rules.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recording}]}, sort_keys=False))
    print(f"  {len(alerts)} alert rules, {len(recording)} dashboard queries; metrics used:")
    for name in sorted(used):
        print(f"    {name}")


def dockerfile():
    """The Dockerfile, parsed by BuildKit's own parser (PyPI `dockerfile`)."""
    import dockerfile as parser

    flags, envs = cli()
    where = "Dockerfile"
    try:
        instructions = parser.parse_file(str(ROOT / "Dockerfile"))
    except parser.GoParseError as error:
        fail(where, f"does not parse: {error}")
        return
    stages = []
    for instruction in instructions:
        if instruction.cmd == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    if not expect(len(stages) >= 2, where, "not a multi-stage build"):
        return
    build, final = stages[0], stages[-1]

    def find(stage, cmd):
        return [i for i in stage if i.cmd == cmd]

    expect(re.fullmatch(r"rust:\S*bookworm", build[0].value[0]) and build[0].value[1:] == ("AS", "build"),
           where, f"the first stage is not a rust bookworm image named build: {build[0].original}")
    runs = " ".join(" ".join(i.value) for i in find(build, "RUN"))
    expect("cargo build --release --locked --bin auditlens" in runs, where,
           "no cargo build --release --locked --bin auditlens")
    for package in ("libssl-dev", "pkg-config", "cmake"):
        expect(re.search(rf"apt-get install[^&]*\b{package}\b", runs), where, f"the build does not install {package}")
    expect(re.fullmatch(r"debian:bookworm-slim|gcr\.io/distroless/cc\S*", final[0].value[0]), where,
           f"the runtime stage is {final[0].value[0]}, not debian:bookworm-slim or distroless cc")
    final_runs = " ".join(" ".join(i.value) for i in find(final, "RUN"))
    expect("ca-certificates" in final_runs or "distroless" in final[0].value[0], where,
           "no ca-certificates in the runtime stage")
    users = find(final, "USER")
    expect(users and re.fullmatch(rf"{UID}(:{UID})?", users[-1].value[0]), where, f"does not run as user {UID}")
    entrypoint = find(final, "ENTRYPOINT")
    expect(entrypoint and entrypoint[-1].json and entrypoint[-1].value == ("/usr/local/bin/auditlens",),
           where, "ENTRYPOINT is not [\"/usr/local/bin/auditlens\"]")
    cmd = find(final, "CMD")
    wanted = ("serve", "--listen", "0.0.0.0:9765", "--data-dir", "/var/lib/auditlens")
    expect(cmd and cmd[-1].json and cmd[-1].value == wanted, where, f"CMD is not {list(wanted)}")
    for flag in wanted[1::2]:
        expect(flag in flags, where, f"CMD flag {flag} does not exist")
    copies = [i.value for i in find(final, "COPY") if not i.flags]
    expect(("queries/", "/usr/share/auditlens/queries/") in copies, where,
           "queries/ is not copied to /usr/share/auditlens/queries/")
    expect(any(i.flags == ("--from=build",) and i.value[-1] == "/usr/local/bin/auditlens"
               for i in find(final, "COPY")), where, "the binary is not copied from the build stage")
    for instruction in find(final, "ENV"):
        pairs = dict(zip(instruction.value[0::2], instruction.value[1::2]))
        for name, value in pairs.items():
            if not name.startswith("AUDITLENS_"):
                continue
            expect(name in envs, where, f"ENV {name} is not read by auditlens")
            if value.startswith("/usr/share/auditlens/"):
                expect((ROOT / value[len("/usr/share/auditlens/"):]).is_dir(), where,
                       f"{name}={value}: not in the image")
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in ("target/", ".work/", ".git/"):
        expect(entry in ignored, ".dockerignore", f"{entry} is not ignored")
    print(f"  {len(instructions)} instructions in {len(stages)} stages")


def main():
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "manifests" and len(sys.argv) == 3:
        manifests(Path(sys.argv[2]))
    elif command == "monitoring" and len(sys.argv) == 3:
        monitoring(Path(sys.argv[2]))
    elif command == "dockerfile":
        dockerfile()
    else:
        sys.exit(__doc__)
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
