#!/usr/bin/env python3
"""Serves a Docker Engine's unix socket over TLS, as `dockerd --tlsverify` does: the client must
present a certificate the CA signed. tests/remote_engine.rs uses it to stand for an engine on
another host. (socat's OPENSSL-LISTEN sets no session id context, so every resumed session with
client verification fails; Python's ssl module sets one.)

usage: tls-proxy.py ADDRESS PORT CERT KEY CA SOCKET
"""
import socket
import ssl
import sys
import threading


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        # Pass the end on (a hijacked exec's stdin closing), and let the other way drain.
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(conn, socket_path):
    try:
        engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        engine.connect(socket_path)
    except OSError:
        conn.close()
        return
    back = threading.Thread(target=pipe, args=(engine, conn), daemon=True)
    back.start()
    pipe(conn, engine)
    back.join()
    conn.close()
    engine.close()


def main():
    address, port, cert, key, ca, socket_path = sys.argv[1:7]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(ca)
    context.verify_mode = ssl.CERT_REQUIRED
    listener = socket.create_server((address, int(port)), reuse_port=True)
    while True:
        raw, _ = listener.accept()
        try:
            conn = context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            continue
        threading.Thread(target=serve, args=(conn, socket_path), daemon=True).start()


if __name__ == "__main__":
    main()
