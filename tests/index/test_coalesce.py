"""One write per response: the held head leaves with its body, in order, and never stays held
past the loop's turn, a close or a half-close."""

from __future__ import annotations

import asyncio
from typing import Any

from trustyard.index.coalesce import HOLD_LIMIT, CoalescingTransport


class Recording(asyncio.Transport):
    """A transport that records what reaches it (the socket's side of the wrapper)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.calls.append(("write", bytes(data)))

    def writelines(self, list_of_data: Any) -> None:
        self.calls.append(("writelines", [bytes(d) for d in list_of_data]))

    def close(self) -> None:
        self.calls.append(("close", None))
        self.closing = True

    def write_eof(self) -> None:
        self.calls.append(("write_eof", None))

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


def run(steps: Any) -> list[tuple[str, Any]]:
    async def main() -> list[tuple[str, Any]]:
        raw = Recording()
        steps(CoalescingTransport(raw, asyncio.get_running_loop()))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return raw.calls

    return asyncio.run(main())


def test_head_and_body_leave_in_one_call() -> None:
    def steps(t: CoalescingTransport) -> None:
        t.write(b"HTTP/1.1 200 OK\r\n\r\n")
        t.write(b"x" * 100_000)

    assert run(steps) == [("writelines", [b"HTTP/1.1 200 OK\r\n\r\n", b"x" * 100_000])]


def test_a_lone_small_write_leaves_at_the_end_of_the_turn() -> None:
    def steps(t: CoalescingTransport) -> None:
        t.write(b"HTTP/1.1 304 Not Modified\r\n\r\n")
        assert t.get_write_buffer_size() > 0

    assert run(steps) == [("write", b"HTTP/1.1 304 Not Modified\r\n\r\n")]


def test_order_is_kept_and_large_writes_are_not_held() -> None:
    big = b"y" * (HOLD_LIMIT + 1)

    def steps(t: CoalescingTransport) -> None:
        t.write(big)
        t.write(b"a")
        t.writelines([b"b", b"c"])
        t.write(b"d")
        t.close()

    assert run(steps) == [
        ("write", big),
        ("writelines", [b"a", b"b", b"c"]),
        ("write", b"d"),
        ("close", None),
    ]


def test_eof_and_other_calls() -> None:
    def steps(t: CoalescingTransport) -> None:
        t.write(b"head")
        t.write_eof()
        assert t.get_extra_info("peername") == ("127.0.0.1", 1)

    assert run(steps) == [("write", b"head"), ("write_eof", None)]
