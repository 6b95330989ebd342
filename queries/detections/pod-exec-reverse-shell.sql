-- id: pod-exec-reverse-shell
-- title: Reverse shell started through pod exec
-- severity: Critical
-- mitre: T1609, T1059.004
-- tags: execution, exec, reverse-shell, command-and-control
-- behaviours: 23
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name, object_namespace, object_name
-- suppress: 10m
-- output: {user_name} started a reverse shell in pod {object_namespace}/{object_name} (container {container}) from {source_ip}: {command}
-- description: An exec session ran a command that connects a shell to a remote host: bash
--   redirected to /dev/tcp, netcat with -e/-c, a named pipe piped through nc or openssl, socat
--   exec, or a python/perl/php/ruby/node one-liner that opens a socket. Operators do not debug
--   this way; it gives someone outside the cluster a persistent interactive shell inside the
--   workload, with its service-account token and network reach. Treat as an active intrusion.

-- The command comes from the URI's command= parameters (kube-apiserver) or, for GKE/AKS
-- exports, from requestObject.command. It is matched joined by spaces, case-insensitively.
SELECT cluster,
       audit_id,
       stage_at AS time,
       user_name,
       source_ip,
       user_agent,
       object_namespace,
       object_name,
       container,
       command
FROM exec_sessions
WHERE command ~* '/dev/(tcp|udp)/'                                   -- bash -i >& /dev/tcp/h/p
   OR command ~* '/inet/(tcp|udp)/'                                  -- gawk sockets
   OR command ~* '\b(nc|ncat|netcat|nc\.traditional|nc\.openbsd)\b[^|;&]*\s(-e|-c|--exec|--sh-exec|--lua-exec)\s'
   OR command ~* '\b(mkfifo|mknod)\b.*\b(nc|ncat|netcat|openssl|telnet|socat)\b'   -- fifo relay
   OR command ~* '\bsocat\b.*\b(exec|system):'
   OR command ~* '\b(ba|z|da|k)?sh\s+-i\s*([0-9]?[<>]|&)'           -- interactive shell redirected
   OR command ~* '\bpty\.spawn\b'
   OR command ~* 'socket\.socket\(.*\.connect\('                    -- python
   OR command ~* '\bperl\b.*(\bsocket\(|io::socket)'
   OR command ~* '\bfsockopen\('                                     -- php
   OR command ~* '\btcpsocket\.(new|open)\b'                         -- ruby
   OR command ~* '\bnet\.socket\(|\bnet\.connect\('                 -- node
   OR command ~* '\b(telnet|openssl\s+s_client)\b[^|]*\|\s*(/bin/|/usr/bin/)?(ba|z|da)?sh\b'
