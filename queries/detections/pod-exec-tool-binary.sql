-- id: pod-exec-tool-binary
-- title: Cluster, network or install tool run through pod exec
-- severity: Notice
-- mitre: T1609, T1059
-- tags: execution, exec, discovery, tooling
-- behaviours: 27
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace, object_name, tool
-- suppress: 30m
-- output: {user_name} ran {tool} in pod {object_namespace}/{object_name} (container {container}) from {source_ip}: {command}
-- description: An exec session ran a tool that workloads do not need at run time: a cluster or
--   node client (kubectl, helm, crictl, ctr, docker, nsenter, etcdctl, kubeletctl), a network
--   scanner or relay (nmap, masscan, nc, socat, tcpdump, ssh, telnet), a package manager
--   installing software into the running container (apt, apk, yum, dnf, pip, gem), or an
--   interpreter given inline code or a module (python -c/-m, perl -e, ruby -e, php -r,
--   node -e). Whoever runs kubectl inside a pod acts with that pod's service account; scanners
--   and relays map or open the cluster network. Review the command; curl/wget to the internet
--   has its own rule.

WITH tools AS (
  SELECT *,
         COALESCE(
           -- a tool named as a word or as the last part of a path (/usr/bin/kubectl), not as a
           -- directory (/etc/apt/...)
           regexp_match(command,
             '(?i)(?:^|[\s;|&/(''"`])(kubectl|helm|crictl|ctr|docker|nerdctl|nsenter|etcdctl|kubeletctl|nmap|masscan|zmap|nc|ncat|netcat|socat|tcpdump|tshark|ssh|scp|sftp|telnet|tftp|apt|apt-get|apk|yum|dnf|microdnf|pip[0-9.]*|gem)(?:$|[\s;|&)''"`])')[1],
           -- interpreters only with inline code; running the application's own scripts is routine
           regexp_match(command,
             '(?i)(?:^|[\s;|&/(''"`])((?:python[0-9.]*|perl|ruby|php|node|lua)\s+-[cerm])\b')[1]
         ) AS tool
  FROM exec_sessions
  WHERE NOT in_list(COALESCE(user_name, ''), 'known_controllers')
)
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       object_namespace,
       object_name,
       container,
       tool,
       command
FROM tools
WHERE tool IS NOT NULL
