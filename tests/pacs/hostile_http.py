"""A DICOMweb server for the cases a real one does not produce on request: it answers every GET
as the test says (a stall, bytes trickling in, a body too large, parts that are not DICOM, fewer
objects than announced). Runs on loopback in a thread; `serving(answer)` yields its DICOMweb URL."""

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOUNDARY = "XRAYDESK-TEST-BOUNDARY"
Answer = Callable[[BaseHTTPRequestHandler], None]


@contextlib.contextmanager
def serving(answer: Answer) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
                answer(self)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
    finally:
        server.shutdown()
        server.server_close()


def send(request: BaseHTTPRequestHandler, body: bytes, content_type: str, status: int = 200) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def send_json(request: BaseHTTPRequestHandler, items) -> None:
    send(request, json.dumps(items).encode(), "application/dicom+json")


def multipart(parts: list[bytes]) -> bytes:
    body = b"".join(f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part + b"\r\n"
                    for part in parts)
    return body + f"--{BOUNDARY}--\r\n".encode()


def send_multipart(request: BaseHTTPRequestHandler, parts: list[bytes]) -> None:
    send(request, multipart(parts), f'multipart/related; type="application/dicom"; boundary={BOUNDARY}')


def trickle(request: BaseHTTPRequestHandler, raw: bytes, every_s: float = 0.5) -> None:
    """Writes `raw` (status line, headers and body as bytes) one byte at a time: every read
    succeeds, the answer never completes."""
    for byte in raw:
        request.wfile.write(bytes([byte]))
        request.wfile.flush()
        time.sleep(every_s)


def series_answer(series: dict[str, int]) -> list[dict]:
    """A QIDO-RS series answer in DICOM JSON: each series UID with its announced instance count."""
    return [{"0020000E": {"vr": "UI", "Value": [uid]}, "00201209": {"vr": "IS", "Value": [count]}}
            for uid, count in series.items()]
