"""nginx as the media edge of LMS_MEDIA_DELIVERY=edge: secure_link checks the token, proxy_cache keys on the path.

The same location block as deploy/nginx-media-edge.conf.template, on a free loopback port in front of a test
server (the origin). Debian's nginx; every file in a folder of its own; stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from tests.support.services import _free_loopback_ports

BINARY = shutil.which("nginx") or "/usr/sbin/nginx"
REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "nginx-media-edge.conf.template"


class NginxEdge:
    def __init__(self, origin: str, secret: str):
        self.origin = origin.removeprefix("http://")
        self.secret = secret
        (self.port,) = _free_loopback_ports(1)
        self.workdir = Path(tempfile.mkdtemp(prefix="lms-edge-"))
        os.chmod(self.workdir, 0o777)  # nginx's workers run as nobody when the master is root
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> NginxEdge:
        location = (TEMPLATE.read_text(encoding="utf-8")
                    .replace("${LMS_MEDIA_EDGE_SECRET}", self.secret)
                    .replace("${LMS_MEDIA_ORIGIN}", f"http://{self.origin}"))
        work = self.workdir
        (work / "nginx.conf").write_text(f"""
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {work}/body; proxy_temp_path {work}/proxy; fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
    proxy_cache_path {work}/cache keys_zone=lms_media:1m max_size=64m inactive=10m;
    server {{
        listen 127.0.0.1:{self.port};
{location}
    }}
}}
""", encoding="utf-8")
        self.process = subprocess.Popen([BINARY, "-p", str(work), "-c", str(work / "nginx.conf"),
                                         "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                requests.get(f"{self.url}/media/", timeout=2)
                return self
            except requests.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = work / "error.log"
                    raise RuntimeError(f"nginx 未能启动：{log.read_text() if log.exists() else ''}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)
