"""Sockets: the ZeroMQ server (and the client's socket, in avbridge.client)."""
