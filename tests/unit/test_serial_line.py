"""SerialLine: the simulated serial cable, in virtual time."""

from __future__ import annotations

import math

import pytest

from netstack.drivers.serial import SerialLine, SerialPort
from netstack.runtime import World

BAUD = 115200
BYTE_TIME = 10 / BAUD  # 8N1: start bit, 8 data bits, stop bit


class Receiver:
    """Collects (virtual time, chunk) of every delivery to one end."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.chunks: list[tuple[float, bytes]] = []
        self.hangups: list[float] = []

    def __call__(self, data: bytes) -> None:
        self.chunks.append((self.world.now(), data))

    def hangup(self) -> None:
        self.hangups.append(self.world.now())

    @property
    def data(self) -> bytes:
        return b"".join(chunk for _, chunk in self.chunks)


def attach(world: World, line: SerialLine) -> tuple[Receiver, Receiver]:
    got_a, got_b = Receiver(world), Receiver(world)
    line.a.set_receive_cb(got_a)
    line.a.set_hangup_cb(got_a.hangup)
    line.b.set_receive_cb(got_b)
    line.b.set_hangup_cb(got_b.hangup)
    return got_a, got_b


def pattern(n: int) -> bytes:
    return bytes(i * 7 & 0xFF for i in range(n))


def test_ends_implement_the_serial_port_contract() -> None:
    line = SerialLine(World.simulated())
    assert isinstance(line.a, SerialPort)
    assert isinstance(line.b, SerialPort)
    assert line.a.baudrate == BAUD
    assert line.a.peer is line.b


def test_each_byte_arrives_when_its_stop_bit_does() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=BAUD)
    _, got_b = attach(world, line)
    data = pattern(1000)
    assert line.a.write(data)
    world.run_for(1.0)
    assert got_b.data == data
    # Every chunk arrives when its last byte has been fully sent, within one byte time.
    received = 0
    for when, chunk in got_b.chunks:
        received += len(chunk)
        assert when == pytest.approx(received * BYTE_TIME, abs=BYTE_TIME)
    assert got_b.chunks[-1][0] == pytest.approx(1000 * BYTE_TIME, abs=1e-9)


def test_bytes_are_delivered_in_chunks_not_one_callback_each() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=BAUD, max_chunk=64)
    _, got_b = attach(world, line)
    line.a.write(bytes(1000))
    world.run_for(1.0)
    assert len(got_b.chunks) == math.ceil(1000 / 64)
    assert max(len(c) for _, c in got_b.chunks) <= 64


def test_throughput_is_a_tenth_of_the_baud_rate() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=9600, tx_buffer=1 << 20)
    _, got_b = attach(world, line)
    line.a.write(bytes(100_000))
    world.run_for(10.0)
    assert len(got_b.data) == pytest.approx(9600, abs=64)  # bytes/s = baud / 10, 10 s
    world.run_for(100.0)
    assert got_b.chunks[-1][0] == pytest.approx(100_000 * 10 / 9600)


def test_writes_queue_behind_each_other_and_end_chunks() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=BAUD)
    _, got_b = attach(world, line)
    line.a.write(b"x" * 10)
    line.a.write(b"y" * 5)
    assert line.a.write_pending == 15
    world.run_for(1.0)
    assert [chunk for _, chunk in got_b.chunks] == [b"x" * 10, b"y" * 5]
    assert [when for when, _ in got_b.chunks] == pytest.approx([10 * BYTE_TIME, 15 * BYTE_TIME])


def test_an_idle_transmitter_starts_at_the_write() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=BAUD)
    _, got_b = attach(world, line)
    line.a.write(b"a")
    world.run_for(1.0)
    line.a.write(b"bb")
    world.run_for(1.0)
    when, chunk = got_b.chunks[1]
    assert chunk == b"bb"
    assert when == pytest.approx(1.0 + 2 * BYTE_TIME)


def test_write_pending_counts_bytes_not_yet_serialised() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=BAUD, delay=0.5)
    attach(world, line)
    line.a.write(bytes(100))
    assert line.a.write_pending == 100
    world.run_for(40.5 * BYTE_TIME)
    assert line.a.write_pending == 60
    world.run_for(60 * BYTE_TIME)
    assert line.a.write_pending == 0  # serialised, though still on the way (delay)
    assert line.b.write_pending == 0


def test_full_duplex_both_directions_at_full_rate() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=BAUD)
    got_a, got_b = attach(world, line)
    to_b, to_a = pattern(2000), pattern(2000)[::-1]
    line.a.write(to_b)
    line.b.write(to_a)
    world.run_for(1.0)
    assert got_b.data == to_b
    assert got_a.data == to_a
    # Simultaneously, not one after the other.
    assert got_a.chunks[-1][0] == pytest.approx(2000 * BYTE_TIME)
    assert got_b.chunks[-1][0] == pytest.approx(2000 * BYTE_TIME)
    assert line.a.stats()["tx_bytes"] == line.b.stats()["rx_bytes"] == 2000


def test_delay_is_added_to_the_arrival() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=BAUD, delay=0.25)
    _, got_b = attach(world, line)
    line.a.write(bytes(100))
    world.run_for(1.0)
    assert got_b.chunks[0][0] == pytest.approx(64 * BYTE_TIME + 0.25)
    assert got_b.chunks[-1][0] == pytest.approx(100 * BYTE_TIME + 0.25)


def test_writes_beyond_the_tx_buffer_are_refused_whole() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=BAUD, tx_buffer=100)
    _, got_b = attach(world, line)
    assert line.a.write(b"a" * 60)
    assert not line.a.write(b"b" * 60)
    assert line.a.stats()["tx_refused"] == 1
    assert line.a.write(b"c" * 40)  # exactly fills the buffer
    world.run_for(30 * BYTE_TIME)
    assert line.a.write_pending == 70
    assert line.a.write(b"d" * 30)
    world.run_for(1.0)
    assert got_b.data == b"a" * 60 + b"c" * 40 + b"d" * 30
    stats = line.a.stats()
    assert stats["tx_bytes"] == 130
    assert stats["tx_refused"] == 1


def test_without_baud_rate_delivery_is_instant_but_from_the_loop() -> None:
    world = World.simulated(start=5.0)
    line = SerialLine(world, baudrate=None)
    _, got_b = attach(world, line)
    assert line.a.baudrate is None
    assert line.a.write(b"hello")
    assert line.a.write(b" world")
    assert got_b.chunks == []  # never from inside write()
    assert line.a.write_pending == 0
    world.run_for(1.0)
    assert got_b.chunks == [(5.0, b"hello world")]  # writes of one instant, coalesced


def test_a_single_write_larger_than_the_buffer_is_refused_even_without_baud_rate() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=None, tx_buffer=10)
    assert not line.a.write(bytes(11))
    assert line.a.write(bytes(10))


def test_receive_callbacks_are_never_reentrant() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=None)
    depth = 0
    max_depth = 0
    rounds = 0

    def echo(end: SerialPort) -> None:
        def on_receive(data: bytes) -> None:
            nonlocal depth, max_depth, rounds
            depth += 1
            max_depth = max(max_depth, depth)
            rounds += 1
            if rounds < 100:
                end.write(data)  # bounce it back: must not call any callback from here
            depth -= 1

        end.set_receive_cb(on_receive)

    echo(line.a)
    echo(line.b)
    line.a.write(b"ping")
    world.run_for(1.0)
    assert rounds == 100
    assert max_depth == 1


def test_bytes_without_a_receive_callback_are_dropped_and_counted() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=BAUD)
    line.a.write(bytes(10))
    world.run_for(1.0)
    assert line.b.stats()["rx_dropped"] == 10
    assert line.b.stats()["rx_bytes"] == 0


BER = 1e-3
MEGABYTE = 1 << 20


def corrupted_megabyte(seed: int) -> tuple[bytes, bytes, dict[str, int]]:
    world = World.simulated(seed)
    line = SerialLine(world, baudrate=None, bit_error_rate=BER, tx_buffer=MEGABYTE)
    _, got_b = attach(world, line)
    sent = pattern(MEGABYTE)
    assert line.a.write(sent)
    world.run_for(1.0)
    return sent, got_b.data, line.b.stats()


def test_bit_errors_occur_at_the_configured_rate() -> None:
    sent, received, stats = corrupted_megabyte(seed=7)
    assert len(received) == len(sent)
    flipped = (int.from_bytes(sent, "big") ^ int.from_bytes(received, "big")).bit_count()
    assert stats["bit_errors"] == flipped
    bits = 8 * MEGABYTE
    mean = bits * BER
    sigma = math.sqrt(bits * BER * (1 - BER))
    assert abs(flipped - mean) < 5 * sigma


def test_bit_errors_are_deterministic_per_seed() -> None:
    _, first, _ = corrupted_megabyte(seed=3)
    _, again, _ = corrupted_megabyte(seed=3)
    _, other, _ = corrupted_megabyte(seed=4)
    assert first == again
    assert first != other


def test_bit_errors_hit_both_directions_independently() -> None:
    world = World.simulated(11)
    line = SerialLine(world, baudrate=None, bit_error_rate=0.01)
    got_a, got_b = attach(world, line)
    line.a.write(bytes(1000))
    line.b.write(bytes(1000))
    world.run_for(1.0)
    assert got_a.data != got_b.data
    assert line.a.stats()["bit_errors"] > 0
    assert line.b.stats()["bit_errors"] > 0


def test_every_bit_flips_at_rate_one() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=None, bit_error_rate=1.0)
    _, got_b = attach(world, line)
    line.a.write(b"\x00\x0f")
    world.run_for(1.0)
    assert got_b.data == b"\xff\xf0"
    assert line.b.stats()["bit_errors"] == 16


def test_a_clean_line_leaves_the_world_rng_alone() -> None:
    world = World.simulated(5)
    state = world.rng.getstate()
    line = SerialLine(world)
    line.a.write(bytes(100))
    world.run_for(1.0)
    assert world.rng.getstate() == state


def test_cut_hangs_up_both_ends_and_loses_what_is_in_flight() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=BAUD)
    got_a, got_b = attach(world, line)
    line.a.write(bytes(1000))
    world.run_for(100 * BYTE_TIME)
    received = len(got_b.data)
    line.cut()
    assert line.is_cut
    assert not line.a.is_open and not line.b.is_open
    assert not line.a.write(b"x")
    assert got_a.hangups == [] and got_b.hangups == []  # reported from the loop
    world.run_for(1.0)
    assert len(got_a.hangups) == len(got_b.hangups) == 1
    assert len(got_b.data) == received
    line.cut()
    line.a.close()
    world.run_for(1.0)
    assert len(got_a.hangups) == len(got_b.hangups) == 1
    assert line.a.stats()["hangups"] == 1


def test_close_lets_written_bytes_arrive_then_the_peer_hangs_up() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=BAUD, delay=0.01)
    got_a, got_b = attach(world, line)
    line.a.write(bytes(100))
    line.a.close()
    assert not line.a.is_open
    assert not line.a.write(b"x")
    assert line.b.is_open
    world.run_for(1.0)
    assert len(got_b.data) == 100
    assert got_b.hangups == [pytest.approx(100 * BYTE_TIME + 0.01)]
    assert got_b.chunks[-1][0] <= got_b.hangups[0]
    assert not line.b.is_open
    assert got_a.hangups == []  # closing an end never hangs up that end


def test_close_is_idempotent_and_drops_what_was_coming_in() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=BAUD)
    got_a, got_b = attach(world, line)
    line.b.write(bytes(100))
    line.a.close()
    line.a.close()
    world.run_for(1.0)
    assert got_a.chunks == []
    assert len(got_b.hangups) == 1
    line.b.close()
    assert got_a.hangups == []


def test_a_receive_callback_may_close_its_end() -> None:
    world = World.simulated()
    line = SerialLine(world, baudrate=BAUD)
    got: list[bytes] = []

    def on_receive(data: bytes) -> None:
        got.append(data)
        line.b.close()

    line.b.set_receive_cb(on_receive)
    line.a.write(bytes(200))
    world.run_for(1.0)
    assert len(got) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"baudrate": 0},
        {"bit_error_rate": 1.5},
        {"delay": -1.0},
        {"tx_buffer": 0},
        {"max_chunk": 0},
    ],
)
def test_bad_parameters_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SerialLine(World.simulated(), **kwargs)  # type: ignore[arg-type]
