"""HAProxy (Debian's /usr/sbin/haproxy) in front of several web nodes on this machine: round
robin, no sticky sessions, so a person's consecutive requests land on different nodes and the
site has to work without any per-node state.

Used by `bench.servers` (`--web-nodes 2`) and by vaxbook/tests/test_two_nodes.py. Each answer
through the balancer carries NODE_HEADER naming the node that served it, written by the
balancer itself: the bench counts the nodes each citizen used without any code in the site.
"""

import shutil
import subprocess
from pathlib import Path

HAPROXY = "/usr/sbin/haproxy"
NODE_HEADER = "X-Vaxbook-Node"

# Kept-alive connections:
# - to the client (a browser keeps an idle connection for minutes): HAProxy is event-driven and
#   holds idle connections at no cost, so it keeps them longer than the client reuses them;
# - to the nodes ("http-reuse safe": a request is sent on an idle node connection only when a
#   failure there could not hurt: never the first of a client connection); HAProxy closes half
#   of its idle node connections every POOL_PURGE_S, so none stays idle anywhere near the
#   nodes' own keep-alive (WEB_KEEPALIVE_BEHIND_BALANCER_S): HAProxy never sends on a
#   connection a node is closing.
CLIENT_KEEPALIVE_S = 30
POOL_PURGE_S = 1
# What the web nodes' keep-alive must exceed (bench.servers starts them so).
WEB_KEEPALIVE_BEHIND_BALANCER_S = 75


def haproxy_path() -> str:
    """Debian's HAProxy; a clear error when it is not installed (apt-get install haproxy)."""
    found = shutil.which("haproxy") or (HAPROXY if Path(HAPROXY).exists() else None)
    if found is None:
        raise RuntimeError("HAProxy is not installed: apt-get install haproxy")
    return found


def config(port: int, nodes: dict[str, int], maxconn: int = 4000) -> str:
    """An haproxy.cfg listening on 127.0.0.1:`port` in front of `nodes` (name → port).
    `maxconn` client connections at once (each takes two file descriptors, with its node's:
    within a 20,000 descriptor limit)."""
    servers = "\n".join(
        f"    server {name} 127.0.0.1:{node_port} pool-purge-delay {POOL_PURGE_S}s"
        for name, node_port in nodes.items()
    )
    return f"""\
global
    maxconn {maxconn}
    # one thread: the machine's cores are the web nodes'
    nbthread 1

defaults
    mode http
    option http-keep-alive
    http-reuse safe
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout queue 120s
    timeout http-request 30s
    timeout http-keep-alive {CLIENT_KEEPALIVE_S}s
    # a node refusing the connection (restarting): try the other one
    retries 3
    option redispatch

frontend site
    bind 127.0.0.1:{port} backlog 4096
    default_backend nodes

backend nodes
    balance roundrobin
    http-response set-header {NODE_HEADER} %s
{servers}
"""


def start(port: int, nodes: dict[str, int], folder: Path) -> subprocess.Popen:
    """HAProxy in the foreground (its own process group), its config and log in `folder`."""
    path = folder / "haproxy.cfg"
    path.write_text(config(port, nodes))
    command = [haproxy_path(), "-db", "-f", str(path)]
    subprocess.run([*command, "-c", "-q"], check=True)  # a config error says so at once
    return subprocess.Popen(
        command,
        stdout=(folder / "haproxy.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
