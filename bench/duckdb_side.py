"""DuckDB's side of bench/compare.sh: load the audit events' JSON Lines into a table with the
columns auditlens stores, write zstd Parquet, and run the queries of bench/queries/ over that
Parquet, cold (a new connection per run) and warm. Prints one JSON object."""

import argparse
import glob
import json
import os
import statistics
import time

import duckdb

COLUMNS = {
    "kind": "VARCHAR",
    "apiVersion": "VARCHAR",
    "auditID": "VARCHAR",
    "stage": "VARCHAR",
    "level": "VARCHAR",
    "verb": "VARCHAR",
    "requestURI": "VARCHAR",
    "user": "STRUCT(username VARCHAR, uid VARCHAR, groups VARCHAR[], extra MAP(VARCHAR, VARCHAR[]))",
    "impersonatedUser": "STRUCT(username VARCHAR, uid VARCHAR, groups VARCHAR[])",
    "sourceIPs": "VARCHAR[]",
    "userAgent": "VARCHAR",
    "objectRef": "STRUCT(resource VARCHAR, namespace VARCHAR, name VARCHAR, uid VARCHAR, "
    "apiGroup VARCHAR, apiVersion VARCHAR, resourceVersion VARCHAR, subresource VARCHAR)",
    "responseStatus": "STRUCT(code INTEGER, status VARCHAR, reason VARCHAR, message VARCHAR)",
    "requestObject": "JSON",
    "responseObject": "JSON",
    "requestReceivedTimestamp": "TIMESTAMPTZ",
    "stageTimestamp": "TIMESTAMPTZ",
    "annotations": "MAP(VARCHAR, VARCHAR)",
}

# Every field of the events that auditlens keeps, so both Parquet files hold the same
# information (auditlens also stores two columns derived from the annotations).
FLATTEN = """
SELECT kind, apiVersion AS api_version, auditID AS audit_id, stage, level, verb,
       requestURI AS request_uri,
       "user".username AS user_name, "user".uid AS user_uid, "user".groups AS user_groups,
       "user".extra AS user_extra,
       impersonatedUser.username AS impersonated_user_name,
       impersonatedUser.uid AS impersonated_user_uid,
       impersonatedUser.groups AS impersonated_user_groups,
       sourceIPs AS source_ips, sourceIPs[1] AS source_ip, userAgent AS user_agent,
       objectRef.resource AS object_resource, objectRef.namespace AS object_namespace,
       objectRef.name AS object_name, objectRef.uid AS object_uid,
       objectRef.apiGroup AS object_api_group, objectRef.apiVersion AS object_api_version,
       objectRef.resourceVersion AS object_resource_version,
       objectRef.subresource AS object_subresource,
       responseStatus.code AS response_code, responseStatus.status AS response_status,
       responseStatus.reason AS response_reason, responseStatus.message AS response_message,
       requestObject AS request_object, responseObject AS response_object,
       requestReceivedTimestamp AS request_received_at, stageTimestamp AS stage_at,
       annotations
FROM read_json(?, format = 'newline_delimited', columns = {columns})
"""


def timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def summary(samples):
    ms = sorted(s * 1000 for s in samples)
    return {"median": statistics.median(ms), "min": ms[0], "max": ms[-1]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jsonl", required=True)
    parser.add_argument("--parquet", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--audit-id", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in COLUMNS.items()) + "}"
    sql = FLATTEN.replace("{columns}", columns)
    _, load_s = timed(lambda: con.execute("CREATE TABLE events AS " + sql, [args.jsonl]))
    events = con.execute("SELECT count(*) FROM events").fetchone()[0]
    if os.path.exists(args.parquet):
        os.remove(args.parquet)
    _, write_s = timed(
        lambda: con.execute(
            f"COPY (SELECT * FROM events ORDER BY stage_at) TO '{args.parquet}' "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
    )
    con.close()

    queries = {}
    for path in sorted(glob.glob(os.path.join(args.queries, "*.sql"))):
        name = os.path.splitext(os.path.basename(path))[0]
        text = open(path).read().replace("$audit_id", args.audit_id.replace("'", "''"))
        body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
        cold, warm, rows = [], [], 0

        def connect():
            c = duckdb.connect()
            c.execute(f"SET threads = {args.threads}")
            c.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{args.parquet}')")
            return c

        for _ in range(args.runs):
            c = connect()
            result, took = timed(lambda: c.execute(body).fetchall())
            rows = len(result)
            cold.append(took)
            c.close()
        c = connect()
        c.execute(body).fetchall()
        for _ in range(args.runs):
            _, took = timed(lambda: c.execute(body).fetchall())
            warm.append(took)
        c.close()
        queries[name] = {"rows": rows, "cold_ms": summary(cold), "warm_ms": summary(warm)}

    print(
        json.dumps(
            {
                "duckdb": duckdb.__version__,
                "threads": args.threads,
                "events": events,
                "load_s": load_s,
                "write_parquet_s": write_s,
                "parquet_bytes": os.path.getsize(args.parquet),
                "queries": queries,
            }
        )
    )


if __name__ == "__main__":
    main()
