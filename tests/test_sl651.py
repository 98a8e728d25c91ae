"""Specification of SL 651-2014 frames in HEX/BCD mode (``shuian.telemetry.sl651``).

A frame is decoded into a structure, never fatally for what real stations send (a wrong CRC, an
element the standard does not define); a frame whose structure cannot be read raises
``Sl651Error`` naming the byte offset. Encoding is the inverse of decoding.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from shuian.cli import app
from shuian.errors import InputFileError
from shuian.telemetry.sl651 import (
    ELEMENTS,
    Element,
    Sl651Error,
    Sl651Frame,
    acknowledgement,
    crc16,
    decode_frame,
    element,
    encode_frame,
)

# The worked example of the notes (a test report), byte for byte.
EXAMPLE_HEX = (
    "7E7E 01 0012345678 1234 30 002B 02 0003 591011154947 F1F1 0012345678 48 F0F0 5910111549"
    " 2019 000005 2619 000005 3923 00000127 3812 1115 03 20FA"
)
EXAMPLE = bytes.fromhex(EXAMPLE_HEX.replace(" ", ""))
SENT = dt.datetime(2059, 10, 11, 15, 49, 47)
OBSERVED = dt.datetime(2059, 10, 11, 15, 49)


def with_crc(unsigned: bytes) -> bytes:
    return unsigned + crc16(unsigned).to_bytes(2, "big")


def report(*elements: str, function: str = "32", end: str = "03") -> bytes:
    """An up frame built by hand from the standard's layout, with the given element bytes."""
    body = bytes.fromhex("0007" "240102080000" "F1F1" "0012345678" "4B" "F0F0" "2401020800"
                         + "".join(elements))
    head = bytes.fromhex("7E7E" "01" "0012345678" "1234" + function)
    return with_crc(head + len(body).to_bytes(2, "big") + b"\x02" + body + bytes.fromhex(end))


# --- CRC ------------------------------------------------------------------------------------


def test_crc_is_crc16_modbus_sent_high_byte_first() -> None:
    assert crc16(b"123456789") == 0x4B37  # the CRC-16/MODBUS check value
    assert crc16(EXAMPLE[:-2]) == 0x20FA
    assert EXAMPLE[-2:] == b"\x20\xfa"


# --- the notes' worked example --------------------------------------------------------------


def test_the_worked_example_decodes_as_the_notes_say() -> None:
    frame = decode_frame(EXAMPLE)
    assert frame.valid_crc and frame.crc_expected == frame.crc_found == 0x20FA
    assert (frame.center, frame.station, frame.password) == (1, "0012345678", "1234")
    assert (frame.function_code, frame.function_name) == (0x30, "test")
    assert frame.direction == "up" and frame.end == 0x03
    assert frame.serial == 3
    assert frame.send_time == SENT and frame.observed_time == OBSERVED
    assert frame.station_class == "H"
    assert [(e.id, e.symbol, e.value, e.unit, e.decimals, e.size) for e in frame.elements] == [
        ("20", "PJ", 0.5, "mm", 1, 3),
        ("26", "PT", 0.5, "mm", 1, 3),
        ("39", "Z", 0.127, "m", 3, 4),
        ("38", "VT", 11.15, "V", 2, 2),
    ]
    assert all(e.standard and e.observed_time is None for e in frame.elements)


def test_the_worked_example_is_encoded_back_byte_for_byte() -> None:
    frame = decode_frame(EXAMPLE)
    assert encode_frame(frame) == EXAMPLE
    rebuilt = replace(frame, elements=tuple(replace(e, raw="") for e in frame.elements))
    assert encode_frame(rebuilt) == EXAMPLE  # from the values, not the raw bytes


# --- values ---------------------------------------------------------------------------------


def test_a_first_byte_ff_means_negative_and_all_f_means_missing() -> None:
    frame = decode_frame(report("3923 FF001250", "3A23 FFFFFFFF"))
    level, missing = frame.elements
    assert level.value == -1.25
    assert missing.value is None and missing.id == "3A"


def test_an_element_the_table_does_not_know_is_decoded_from_its_data_definition_byte() -> None:
    frame = decode_frame(report("7A12 1234", "C1 10 ABCD", "FF0A 11 0042"))
    vendor, hex_vendor, user = frame.elements
    assert (vendor.id, vendor.value, vendor.decimals, vendor.standard) == ("7A", 12.34, 2, False)
    assert (hex_vendor.id, hex_vendor.value, hex_vendor.standard) == ("C1", 0xABCD, False)
    assert (user.id, user.value, user.decimals, user.standard) == ("FF0A", 4.2, 1, False)


def test_five_minute_arrays_are_hex_with_ff_invalid() -> None:
    rain = "F460" + "0102030405060708090A0BFF"
    levels = "F5C0" + "0064" * 11 + "FFFF"
    drp, drz = decode_frame(report(rain, levels)).elements
    assert drp.value is None and drp.values == (*(i / 10 for i in range(1, 12)), None)
    assert drz.values == (*([1.0] * 11), None) and drz.unit == "m"


def test_time_step_code_is_day_hour_minute() -> None:
    (step,) = decode_frame(report("0418 000105")).elements
    assert step.value == 65.0 and step.unit == "min"


def test_a_second_observation_time_applies_to_the_elements_after_it() -> None:
    frame = decode_frame(report("3923 00000100", "F0F0 2401020900", "3923 00000200"))
    first, second = frame.elements
    assert frame.observed_time == dt.datetime(2024, 1, 2, 8, 0)
    assert first.observed_time is None  # the frame's observation time
    assert second.observed_time == dt.datetime(2024, 1, 2, 9, 0)
    assert decode_frame(encode_frame(frame)) == frame


# --- CRC mismatch and malformed frames ------------------------------------------------------


def test_a_crc_mismatch_is_reported_with_both_values_not_raised() -> None:
    frame = decode_frame(EXAMPLE[:-1] + b"\xfb")
    assert not frame.valid_crc
    assert (frame.crc_expected, frame.crc_found) == (0x20FA, 0x20FB)
    assert frame.elements == decode_frame(EXAMPLE).elements


@pytest.mark.parametrize(
    ("data", "offset", "problem"),
    [
        (b"\x68\x7e" + EXAMPLE[2:], 0, "start characters 687E"),
        (EXAMPLE[:9], 9, "ends inside the header"),
        (EXAMPLE[:-3] + EXAMPLE[-2:], 11, "length field says 43"),
        (EXAMPLE + b"\x00", 11, "length field says 43"),
        (EXAMPLE[:13] + b"\x01" + EXAMPLE[14:], 13, "start-of-text character 01"),
        (EXAMPLE[:-3] + b"\x05" + EXAMPLE[-2:], 14 + 43, "end character 05"),
    ],
    ids=["bad-start", "truncated-header", "too-short", "too-long", "bad-stx", "bad-end"],
)
def test_a_malformed_frame_names_the_offset_and_the_problem(
    data: bytes, offset: int, problem: str
) -> None:
    with pytest.raises(Sl651Error) as raised:
        decode_frame(data)
    assert raised.value.offset == offset
    assert f"offset {offset}: " in str(raised.value) and problem in str(raised.value)
    assert isinstance(raised.value, InputFileError)


def test_a_truncated_element_names_its_offset() -> None:
    data = report("3923 00000100", "3923 0000")  # says 4 bytes, gives 2
    element_at = 14 + 8 + 8 + 7 + 6
    with pytest.raises(Sl651Error, match=f"offset {element_at}: element 39 truncated"):
        decode_frame(data)


def test_an_impossible_send_time_names_its_offset() -> None:
    data = bytearray(EXAMPLE)
    data[16:22] = bytes.fromhex("591311154947")  # month 13
    with pytest.raises(Sl651Error, match="offset 16: time 591311154947"):
        decode_frame(with_crc(bytes(data[:-2])))


# --- function codes, direction, multi-packet ------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name"),
    [("2F", "link keep-alive"), ("30", "test"), ("32", "timed"), ("33", "added"),
     ("34", "hourly"), ("45", "configuration or control"), ("E1", "user-defined")],
)
def test_function_codes_are_named(code: str, name: str) -> None:
    assert decode_frame(report(function=code)).function_name == name


def test_a_keep_alive_has_only_serial_and_send_time() -> None:
    body = bytes.fromhex("0009" "240102080000")
    data = with_crc(bytes.fromhex("7E7E 01 0012345678 1234 2F 0008 02") + body + b"\x03")
    frame = decode_frame(data)
    assert (frame.function_name, frame.serial, frame.elements) == ("link keep-alive", 9, ())
    assert frame.send_time == dt.datetime(2024, 1, 2, 8, 0, 0)


def test_a_multi_packet_frame_keeps_its_body_and_packet_numbers() -> None:
    data = with_crc(bytes.fromhex("7E7E 01 0012345678 1234 36 0005 16 003002 ABCD 17"))
    frame = decode_frame(data)
    assert frame.packets == (3, 2) and frame.body == b"\xab\xcd" and frame.end == 0x17
    assert encode_frame(frame) == data


# --- acknowledgement ------------------------------------------------------------------------


def test_the_acknowledgement_is_a_down_frame_repeating_the_serial() -> None:
    centre_time = dt.datetime(2059, 10, 11, 15, 50, 0)
    ack = acknowledgement(decode_frame(EXAMPLE), send_time=centre_time)
    assert ack[:2] == b"\x7e\x7e"
    assert ack[2:7].hex() == "0012345678" and ack[7] == 0x01  # station before centre
    assert ack[8:10].hex() == "1234" and ack[10] == 0x30
    assert ack[11:13] == b"\x80\x08"  # down flag, 8 body bytes
    assert ack[13] == 0x02 and ack[14:16] == b"\x00\x03" and ack[16:22].hex() == "591011155000"
    assert ack[22] == 0x04  # EOT: close the link
    assert int.from_bytes(ack[23:], "big") == crc16(ack[:23])
    down = decode_frame(ack)
    assert (down.direction, down.serial, down.center, down.station) == (
        "down", 3, 1, "0012345678")


def test_the_acknowledgement_can_keep_the_link_open_with_esc() -> None:
    ack = acknowledgement(decode_frame(EXAMPLE), keep_open=True)
    assert ack[-3] == 0x1B and decode_frame(ack).send_time == SENT


# --- round trips ----------------------------------------------------------------------------

KNOWN_BCD = sorted(i for i, info in ELEMENTS.items() if info.kind == "bcd")


@st.composite
def elements(draw: st.DrawFn) -> Element:
    ident = draw(st.sampled_from([*KNOWN_BCD, "7A", "C1", "FF0A"]))
    size = draw(st.integers(1, 6))
    decimals = draw(st.integers(0, 7))
    negative = draw(st.booleans()) and size > 1
    digits = 2 * (size - 1 if negative else size)
    kind = draw(st.sampled_from(["number", "missing"]))
    value: float | None = None
    if kind == "number":
        value = draw(st.integers(0, 10**digits - 1)) / 10**decimals
        value = -value if negative and value else value
    return element(ident, value, decimals=decimals, size=size)


@settings(max_examples=150, deadline=None)
@given(
    items=st.lists(elements(), max_size=8),
    serial=st.integers(0, 0xFFFF),
    center=st.integers(0, 255),
    sent=st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2099, 12, 31)),
)
def test_encoding_then_decoding_gives_the_frame_back(
    items: list[Element], serial: int, center: int, sent: dt.datetime
) -> None:
    sent = sent.replace(microsecond=0)
    frame = Sl651Frame(
        center=center, station="0012345678", password="ABCD", function_code=0x32,
        serial=serial, send_time=sent, station_class="K",
        observed_time=sent.replace(second=0), elements=tuple(items),
    )
    data = encode_frame(frame)
    decoded = decode_frame(data)
    assert decoded == replace(frame, crc_expected=decoded.crc_found, crc_found=decoded.crc_found)
    assert decoded.valid_crc
    assert encode_frame(decoded) == data


# --- the command line -----------------------------------------------------------------------


def shuian(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_decodes_frames_as_one_json_document() -> None:
    bad_crc = EXAMPLE_HEX[:-4] + "20FB"
    code, stdout, _ = shuian("sl651", "decode", EXAMPLE_HEX, bad_crc, "7E7F00", "--json")
    assert code == 0
    good, mismatch, broken = json.loads(stdout)
    assert good["valid_crc"] is True and good["function_code"] == "30"
    assert (good["center"], good["station"], good["serial"]) == (1, "0012345678", 3)
    assert good["send_time"] == "2059-10-11T15:49:47"
    assert good["observed_time"] == "2059-10-11T15:49:00"
    assert good["elements"][2] == {
        "id": "39", "symbol": "Z", "name": "instantaneous river level", "value": 0.127,
        "values": None, "unit": "m", "standard": True, "observed_time": None,
    }
    assert (mismatch["valid_crc"], mismatch["crc_expected"], mismatch["crc_found"]) == (
        False, "20FA", "20FB")
    assert broken == {"error": "SL 651 frame, offset 0: start characters 7E7F, "
                               "expected 7E7E (HEX/BCD mode)"}


def test_cli_prints_frames_and_exits_1_only_when_no_frame_decodes() -> None:
    code, stdout, stderr = shuian("sl651", "decode", EXAMPLE_HEX, "not hex")
    assert code == 0
    assert "function 30 (test)" in stdout and "instantaneous river level: 0.127 m" in stdout
    assert "frame 2: error:" in stderr
    code, _, stderr = shuian("sl651", "decode", "7E7E")
    assert code == 1 and "offset 2: frame ends inside the header" in stderr
