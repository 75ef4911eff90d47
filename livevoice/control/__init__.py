"""The websocket control channel (protocol: docs/protocol.md, after obs-websocket v5).

Modules, from the pure core outwards:

- ``codes``: op codes, close codes, request status codes, event subscription bits.
- ``wire``: frozen dataclasses <-> camelCase JSON objects, with precise errors.
- ``protocol``: the ``{"op", "d"}`` envelopes; ``encode``/``decode``.
- ``records``, ``requests``, ``events``: what requests take and answer, what events carry.
- ``state``: :class:`~livevoice.control.state.DaemonState`, the narrow interface the
  daemon implements; ``dispatch`` runs requests against it.
- ``auth``: the per-install secret and the challenge-response.
- ``server``: the asyncio websocket server (+ a thread runner); ``client``: a client.
- ``web``: the browser panel's files over plain HTTP on the same port (the page itself
  is in ``livevoice/panel``); ``panel_cli``: ``livevoice panel``.
- ``standalone``: control-only mode; ``cli``: ``livevoice ctl``.
"""
