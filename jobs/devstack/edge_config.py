"""The edge's nginx configuration, rendered from conf (``edge`` and ``api``): never hand-edited.

What the rendered file does, in the order a request meets it:

- TLS (HTTP/2, HSTS) on ``edge.https_port``; plain HTTP only redirects to it.
- Limits: requests per second per client address and per API key (``limit_req``, answered
  429 with ``Retry-After``: nginx's own default is 503 without it), body size, timeouts.
- The pool: ``X-Data-Version: candidate``, or the ``gridlake_canary=1`` cookie, or the canary
  share of clients (``split_clients`` on a stable client key: the ``gridlake_client`` cookie,
  else the address) go to the candidate pool, everything else to the live pool. Each pool
  keeps connections alive and takes an instance out after a failed connection (passive
  health checks), retrying the request on the next one.
- Routes: ``/v1/`` and ``/espi/`` to the pool; ``Accept: application/atom+xml`` on a meter's
  day gives that day's Green Button feed; ``/docs`` and ``/openapi.json`` from disk.
- The cache: only what the API marks public (its Cache-Control is honoured), never a request
  with ``Authorization`` or a cookie. The public figures are keyed by their pool and the data
  version of their day, which the edge asks the pool for (``/v1/data-versions/{day}``, kept
  ``edge.version_ttl_s``), and the API is told to read that very version (``X-Edge-Version``):
  an instance whose own pointer is a moment behind cannot put old figures under a new key, and
  once a flip is seen no old figure is served from the cache. On an upstream error, stale
  figures are served. ``X-Cache-Status`` says HIT, MISS, BYPASS...

The text is built here rather than from a template engine: it is one file, with a loop over
the pools' servers and a few conditional blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jobs.runtime.config import EdgeConf

#: A public figure of a day (an area's day and its top consumers): cached, keyed by the day's
#: data version.
AREA_DAY = r"^/v1/areas/[^/]+/[^/]+/days/\d{4}-\d{2}-\d{2}"
#: The same, naming the day for the cache key's data version.
AREA_DAY_NAMED = r"^/v1/areas/[^/]+/[^/]+/days/(?<area_day>\d{4}-\d{2}-\d{2})"
#: An API key in the Authorization header, for the per-key limit.
BEARER = r"~*^bearer\s+(?<key>.+)$"
#: What asks for a Green Button (Atom) answer.
ATOM = r"~*application/atom\+xml"
#: A meter's day, which ``Accept: application/atom+xml`` turns into its Green Button feed.
METER_DAY = r"^/v1/meters/(?<meter>[A-Za-z0-9_.-]+)/days/(?<day>\d{4}-\d{2}-\d{2})$"
STATIC_CACHE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class EdgePaths:
    """Where the rendered edge keeps its files, all under the state directory."""

    prefix: Path

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def static(self) -> Path:
        return self.prefix / "static"

    @property
    def cache(self) -> Path:
        return self.prefix / "cache"

    @property
    def temp(self) -> Path:
        return self.prefix / "temp"

    @property
    def pki(self) -> Path:
        return self.prefix / "pki"

    @property
    def pid(self) -> Path:
        return self.prefix / "nginx.pid"


def _pool(name: str, servers: list[str]) -> str:
    lines = "\n".join(f"        server {server} max_fails=1 fail_timeout=10s;" for server in servers)
    return f"    upstream api_{name} {{\n{lines}\n        keepalive 32;\n    }}\n"


def _canary_split(percent: float) -> str:
    shares = f"        {percent:g}% candidate;\n" if percent > 0 else ""
    return f'    split_clients "$client_key" $canary_split {{\n{shares}        * live;\n    }}\n'


def _cors_origins(origins: list[str]) -> str:
    return "".join(f'        "{origin}" $http_origin;\n' for origin in origins)


def _headers(edge: EdgeConf) -> str:
    """The headers every answer of the edge carries (nginx drops a server's add_header in a
    location that has its own, so each location repeats them)."""
    return ('            add_header Strict-Transport-Security "max-age=31536000" always;\n'
            '            add_header Access-Control-Allow-Origin $cors_origin always;\n'
            '            add_header Access-Control-Allow-Methods $cors_methods always;\n'
            '            add_header Access-Control-Allow-Headers $cors_headers always;\n'
            '            add_header Access-Control-Max-Age $cors_max_age always;\n'
            '            add_header Vary Origin always;\n'
            '            add_header X-Cache-Status $upstream_cache_status always;\n')


def _to_pool(edge: EdgeConf, pinned_version: str = '""') -> str:
    """Proxying to the chosen pool: keepalive connections, the next instance on a failed one.
    ``X-Edge-Version`` pins the data version the API reads (for the figures the edge caches
    under that version; empty, so never a client's, elsewhere)."""
    return ("            proxy_pass http://api_$data_pool;\n"
            f"            proxy_set_header X-Edge-Version {pinned_version};\n"
            "            proxy_http_version 1.1;\n"
            '            proxy_set_header Connection "";\n'
            "            proxy_set_header Host $host;\n"
            "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            "            proxy_set_header X-Forwarded-Proto https;\n"
            "            proxy_next_upstream error timeout http_502 http_503;\n"
            "            proxy_connect_timeout 2s;\n"
            f"            proxy_read_timeout {edge.upstream_timeout_s}s;\n"
            "            proxy_cache edge;\n"
            "            proxy_cache_bypass $no_edge_cache;\n"
            "            proxy_no_cache $no_edge_cache;\n"
            "            proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;\n"
            "            proxy_cache_lock on;\n")


def render_edge(edge: EdgeConf, paths: EdgePaths, cert_file: Path, key_file: Path, as_root: bool) -> str:
    """The whole nginx.conf of the edge."""
    headers = _headers(edge)
    to_pool = _to_pool(edge)
    return f"""# Rendered by gridlake from conf (jobs/devstack/edge_config.py) at every start: do not edit.
{"user root;" if as_root else ""}
worker_processes {edge.workers};
pid {paths.pid};
error_log stderr warn;

events {{
    worker_connections 1024;
}}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    server_tokens off;
    log_format edge '$remote_addr "$request" $status $body_bytes_sent $request_time '
                    'pool=$data_pool cache=$upstream_cache_status upstream=$upstream_addr';
    access_log {paths.prefix}/access.log edge buffer=32k flush=1s;
    client_body_temp_path {paths.temp}/body;
    proxy_temp_path {paths.temp}/proxy;
    fastcgi_temp_path {paths.temp}/fastcgi;
    uwsgi_temp_path {paths.temp}/uwsgi;
    scgi_temp_path {paths.temp}/scgi;
    client_max_body_size {edge.max_body_kb}k;
    client_header_timeout 10s;
    client_body_timeout 10s;
    send_timeout {edge.upstream_timeout_s}s;
    keepalive_timeout 30s;
    # Cached responses' files stay open between hits: nginx's cache passes each entry's inode to
    # this cache, so an entry rewritten in place is opened afresh, never read from the old file.
    open_file_cache max={edge.open_files} inactive=60s;

{_pool("live", edge.live_pool)}{_pool("candidate", edge.candidate_pool)}
    # The pool: the header or cookie asks for the candidate; otherwise the canary share of clients.
    map $cookie_gridlake_client $client_key {{
        "" $remote_addr;
        default $cookie_gridlake_client;
    }}
{_canary_split(edge.canary_percent)}    map "$http_x_data_version:$cookie_gridlake_canary" $data_pool {{
        ~^candidate: candidate;
        ~:1$ candidate;
        default $canary_split;
    }}

    # Limits: per client address and per API key (a request without a key is limited by address only).
    map $http_authorization $api_key {{
        "{BEARER}" $key;
        default "";
    }}
    limit_req_zone $binary_remote_addr zone=per_address:10m rate={edge.rate_per_address}r/s;
    limit_req_zone $api_key zone=per_key:10m rate={edge.rate_per_key}r/s;
    limit_req_status 429;

    map $http_origin $cors_origin {{
        default "";
{_cors_origins(edge.cors_origins)}    }}

    # The cache: never for a request with credentials or a cookie; public figures keyed by their
    # day's data version.
    proxy_cache_path {paths.cache} levels=1:2 keys_zone=edge:10m max_size={edge.cache_mb}m inactive=10m
                     use_temp_path=off;
    map "$http_authorization$http_cookie" $no_edge_cache {{
        "" 0;
        default 1;
    }}
    map $request_uri $data_day {{
        "~{AREA_DAY_NAMED}" $area_day;
        default "";
    }}
    map $request_method $cors_methods {{
        OPTIONS "GET, OPTIONS";
        default "";
    }}
    map $request_method $cors_headers {{
        OPTIONS "Authorization, Accept, X-Data-Version";
        default "";
    }}
    map $request_method $cors_max_age {{
        OPTIONS 600;
        default "";
    }}
    map $http_accept $wants_atom {{
        "{ATOM}" 1;
        default 0;
    }}

    server {{
        listen {edge.host}:{edge.http_port};
        location / {{
            return 301 https://$host:{edge.https_port}$request_uri;
        }}
    }}

    server {{
        listen {edge.host}:{edge.https_port} ssl http2;
        ssl_certificate {cert_file};
        ssl_certificate_key {key_file};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:tls:1m;
        limit_req zone=per_address burst={edge.burst} nodelay;
        limit_req zone=per_key burst={edge.burst} nodelay;
        error_page 429 = @too_many_requests;

        location @too_many_requests {{
{headers}            add_header Retry-After {edge.retry_after_s} always;
            default_type application/problem+json;
            return 429 '{{"type":"about:blank","title":"Too many requests","status":429,"detail":"slow down: retry after {edge.retry_after_s} s"}}';
        }}

        location = /edge-health {{
            access_log off;
            default_type text/plain;
            return 200 "ok";
        }}

        # The data version of a public figure's day, as the request's pool serves it.
        location = /_edge/data-version {{
            internal;
            proxy_pass http://api_$data_pool/v1/data-versions/$data_day;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502 http_503;
            proxy_connect_timeout 2s;
            proxy_cache edge;
            proxy_cache_key "data-version:$data_pool:$data_day";
            proxy_cache_valid 200 {edge.version_ttl_s}s;
            proxy_ignore_headers Cache-Control Expires Set-Cookie;
            proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
            proxy_cache_lock on;
        }}

        location ~ "{AREA_DAY}" {{
            if ($request_method = OPTIONS) {{
                return 204;
            }}
            auth_request /_edge/data-version;
            auth_request_set $data_version $upstream_http_x_data_version;
{headers}{_to_pool(edge, "$data_version")}            proxy_cache_key "$data_pool|$data_version|$request_uri";
        }}

        location ~ "{METER_DAY}" {{
            if ($wants_atom) {{
                rewrite ^ /espi/1_1/resource/Batch/UsagePoint/$meter?start=$day&end=$day last;
            }}
            if ($request_method = OPTIONS) {{
                return 204;
            }}
{headers}{to_pool}            proxy_cache_key "$data_pool|$request_uri";
        }}

        location ~ ^/(v1|espi)/ {{
            if ($request_method = OPTIONS) {{
                return 204;
            }}
{headers}{to_pool}            proxy_cache_key "$data_pool|$request_uri";
        }}

        location = /healthz {{
{headers}{to_pool}            proxy_cache_key "$data_pool|$request_uri";
        }}

        location = /readyz {{
{headers}{to_pool}            proxy_cache_key "$data_pool|$request_uri";
        }}

        location = /docs {{
            root {paths.static};
            try_files /docs.html =404;
            default_type text/html;
{headers}            add_header Cache-Control "{STATIC_CACHE}" always;
        }}

        location = /openapi.json {{
            root {paths.static};
            default_type application/json;
{headers}            add_header Cache-Control "{STATIC_CACHE}" always;
        }}

        location / {{
            default_type application/problem+json;
{headers}            return 404 '{{"type":"about:blank","title":"Not found","status":404,"detail":"no such resource"}}';
        }}
    }}
}}
"""
