"""One write per response where uvicorn makes two (issue 19: ``/simple/<p>/`` throughput).

uvicorn writes a response's head when the app starts the response and its body when the app
sends it: two ``send`` system calls and two TCP segments per answer. A profile of cached pages
at c=16 showed those two writes as the largest cost left in the process (the kernel's
loopback delivery is charged to the writer), the head's write as dear as the 178 kB body's.
nginx sends both at once (``writev``, ``tcp_nopush``).

:class:`CoalescingTransport` wraps a connection's transport: a small write (a head) is held,
and goes out with the next write as one ``writelines`` (uvloop: one vectored write), or at the
end of the event loop's current turn if nothing follows (a lone 304's head, a small streamed
chunk), before a close, or before ``write_eof``. Order is kept: at most one write is held, and
it always leaves before anything written after it.
"""

from __future__ import annotations

import asyncio
from typing import Any

HOLD_LIMIT = 16 * 1024  # a response head (headers are capped at 64 KiB, ours are ~0.5 KiB)


class CoalescingTransport:
    """A transport that sends a held small write together with the next one."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._flush_at: asyncio.Handle | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Hold a small first write; send a held one with this one."""
        held = self._take()
        if held is not None:
            self._transport.writelines([held, data])
        elif len(data) <= HOLD_LIMIT and not self._transport.is_closing():
            self._held = bytes(data)
            self._flush_at = self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def writelines(self, list_of_data: Any) -> None:
        """Send the held write and these, in order."""
        held = self._take()
        self._transport.writelines([held, *list_of_data] if held is not None else list_of_data)

    def flush(self) -> None:
        """Send the held write, if any."""
        held = self._take()
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def _take(self) -> bytes | None:
        held, self._held = self._held, None
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        return held

    def get_write_buffer_size(self) -> int:
        """The transport's buffer and what is held here."""
        held = len(self._held) if self._held is not None else 0
        return self._transport.get_write_buffer_size() + held

    def close(self) -> None:
        """Send what is held, then close (the transport sends its buffer first)."""
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        """Send what is held, then half-close."""
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        """Drop what is held and close at once."""
        self._take()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        """Everything else (extra info, reading flow control, ``is_closing``...) as is."""
        return getattr(self._transport, name)
