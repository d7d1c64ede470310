"""A gRPC interop TestService (grpc/grpc doc/interop-test-descriptions.md, server side) on
Python grpcio: the independent server that ``cassetto-interop-client`` runs its cases against.

grpcio ships no ready interop server in its wheel, so this implements the behaviours the
client cases need: payloads of the requested size, ``response_status``, echoing
``x-grpc-test-echo-initial`` / ``x-grpc-test-echo-trailing-bin``, response compression
(``response_compressed``, per message on streams) and the ``expect_compressed`` check.

grpcio hides a request message's compressed flag; the check uses the call's
``grpc-encoding`` instead, which grpcio does not hide from a server interceptor-free
handler only through the raw ``invocation_metadata`` when present. See ``_request_compressed``.

Usage: ``python python_interop_server.py --stubs DIR [--port 0] [--use_tls --cert F --key F]``.
``DIR`` holds the generated ``src/proto/grpc/testing/*_pb2*.py``. Prints
``python interop server listening on PORT`` once serving.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time
from concurrent import futures

import grpc

ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"


def load_stubs(directory: str):
    if directory not in sys.path:
        sys.path.insert(0, directory)
    base = "src.proto.grpc.testing"
    return (importlib.import_module(f"{base}.empty_pb2"),
            importlib.import_module(f"{base}.messages_pb2"),
            importlib.import_module(f"{base}.test_pb2_grpc"))


def make_servicer(empty_pb2, messages_pb2, test_pb2_grpc):
    def payload(size: int):
        return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=b"\0" * size)

    def echo_metadata(context) -> None:
        initial = []
        trailing = []
        for key, value in context.invocation_metadata():
            if key == ECHO_INITIAL_KEY:
                initial.append((key, value))
            elif key == ECHO_TRAILING_KEY:
                trailing.append((key, value))
        if initial:
            context.send_initial_metadata(initial)
        if trailing:
            context.set_trailing_metadata(trailing)

    def request_compressed(context):
        """Whether the client declared gzip for its messages, or None when grpcio does not
        tell (then the expect_compressed check is skipped)."""
        for key, value in context.invocation_metadata():
            if key == "grpc-encoding":
                return value.strip().lower() not in ("", "identity")
        return None

    def check_expect_compressed(request, context) -> None:
        if request.HasField("expect_compressed"):
            declared = request_compressed(context)
            if declared is not None and request.expect_compressed.value and not declared:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              "expected a compressed request")

    def apply_status(request, context) -> None:
        if request.HasField("response_status") and request.response_status.code != 0:
            context.abort(grpc.StatusCode(_code(request.response_status.code)),
                          request.response_status.message)

    def _code(number: int):
        for code in grpc.StatusCode:
            if code.value[0] == number:
                return code.value
        return grpc.StatusCode.UNKNOWN.value

    class TestService(test_pb2_grpc.TestServiceServicer):
        def EmptyCall(self, request, context):
            echo_metadata(context)
            return empty_pb2.Empty()

        def UnaryCall(self, request, context):
            echo_metadata(context)
            check_expect_compressed(request, context)
            apply_status(request, context)
            if request.HasField("response_compressed") and request.response_compressed.value:
                context.set_compression(grpc.Compression.Gzip)
            return messages_pb2.SimpleResponse(payload=payload(request.response_size))

        def StreamingOutputCall(self, request, context):
            echo_metadata(context)
            apply_status(request, context)
            compress_any = any(p.HasField("compressed") and p.compressed.value
                               for p in request.response_parameters)
            if compress_any:
                context.set_compression(grpc.Compression.Gzip)
            for params in request.response_parameters:
                if params.interval_us:
                    time.sleep(params.interval_us / 1e6)
                if compress_any and not (params.HasField("compressed") and params.compressed.value):
                    context.disable_next_message_compression()
                yield messages_pb2.StreamingOutputCallResponse(payload=payload(params.size))

        def StreamingInputCall(self, request_iterator, context):
            echo_metadata(context)
            total = 0
            for request in request_iterator:
                check_expect_compressed(request, context)
                total += len(request.payload.body)
            return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)

        def FullDuplexCall(self, request_iterator, context):
            echo_metadata(context)
            for request in request_iterator:
                apply_status(request, context)
                for params in request.response_parameters:
                    if params.interval_us:
                        time.sleep(params.interval_us / 1e6)
                    yield messages_pb2.StreamingOutputCallResponse(payload=payload(params.size))

        def HalfDuplexCall(self, request_iterator, context):
            requests = list(request_iterator)
            for request in requests:
                for params in request.response_parameters:
                    yield messages_pb2.StreamingOutputCallResponse(payload=payload(params.size))

    return TestService()


def serve(args) -> None:
    empty_pb2, messages_pb2, test_pb2_grpc = load_stubs(args.stubs)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16),
                         options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)])
    test_pb2_grpc.add_TestServiceServicer_to_server(
        make_servicer(empty_pb2, messages_pb2, test_pb2_grpc), server)
    address = f"{args.host}:{args.port}"
    if args.use_tls:
        with open(args.key, "rb") as f:
            key = f.read()
        with open(args.cert, "rb") as f:
            cert = f.read()
        port = server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))
    else:
        port = server.add_insecure_port(address)
    server.start()
    # Stop cleanly on SIGTERM / SIGINT, even when started with them blocked (a parent's
    # worker thread may have them masked, and the mask is inherited).
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: server.stop(0))
    print(f"python interop server listening on {port}", flush=True)
    server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--use_tls", action="store_true")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    serve(parser.parse_args())


if __name__ == "__main__":
    main()
