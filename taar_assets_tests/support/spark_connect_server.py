"""A Spark Connect server for the tests: pyspark's own SparkConnectServer, bound to 127.0.0.1.

spark-submit (shipped in the pyspark wheel) starts it in its own JVM on a free port; the tests
reach it over gRPC exactly as a remote Connect cluster (TAAR_SPARK_REMOTE=sc://host:port).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from taar_assets_tests.support.processes import HOST, free_port, stop

STARTUP_SECONDS = 120


def _accepts_connections(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((HOST, port)) == 0


@contextlib.contextmanager
def local_spark_connect_server(log: Path) -> Iterator[str]:
    """Run a local[2] Spark Connect server while the block runs; yields its sc:// URL."""
    import pyspark

    port = free_port()
    command = [
        str(Path(pyspark.__file__).parent / "bin" / "spark-submit"),
        "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master", "local[2]",
        "--conf", f"spark.connect.grpc.binding.address={HOST}",
        "--conf", f"spark.connect.grpc.binding.port={port}",
        "--conf", "spark.ui.enabled=false",
        "spark-internal",
    ]
    with log.open("wb") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while not _accepts_connections(port):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the Spark Connect server did not start; its log:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
            yield f"sc://{HOST}:{port}"
        finally:
            stop(server, grace=30)
