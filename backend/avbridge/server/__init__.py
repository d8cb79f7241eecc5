"""The server: requests in, paced streams out.

    config.py     ServerConfig, one typed dataclass
    requests.py   validation of each request and the replies it gets (sans-IO)
    session.py    one avatar's timeline, its lines and its outbox
    producers.py  the work that fills an outbox: a `say`, engine audio, idle motion
    scheduler.py  which work runs next on the worker pool (clock and executor passed in)
    pacer.py      which queued stream messages are due, per client, against the clock
    live.py       live input (user audio and faces) on the worker pool
    service.py    the above tied together: `Service.handle` and `Service.flush`
    liveness.py   which clients are connected, from the transport's connect and disconnect events
    transport.py  ZeroMQ: the only module that touches sockets
"""
