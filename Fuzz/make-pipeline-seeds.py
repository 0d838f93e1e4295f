#!/usr/bin/env python3
"""Writes the seed corpora of the pipeline fuzz targets (Fuzz/Corpus/FuzzPipeline*) and their
trigger inputs (Fuzz/Triggers/FuzzPipeline*).

Real traffic is taken from the parser targets' seeds (ffmpeg's RTMP publish, relay-bench
gb-send / jt-send output) with the first byte set for the pipeline target's mode. The crafted
inputs use the Expander's repeat escape (FE FD count16 len16 unit) so a few hundred bytes stand
for megabytes of stream: in Corpus, small versions near the triggers of issue 16's defects 1, 2
and 7 (the fuzzer mutates the counts); in Triggers, the triggers themselves, which take 2-60 s
each under ASan and are replayed once by scripts/fuzz.sh without the per-input time limit.

    python3 Fuzz/make-pipeline-seeds.py        # from the repository root
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "Corpus")
TRIGGERS = os.path.join(HERE, "Triggers")


def escape(data):
    """Literal FE FD must be written FE FD 00 00 in an Expander stream."""
    return data.replace(b"\xfe\xfd", b"\xfe\xfd\x00\x00")


def repeat(unit, count):
    assert 0 < count < 65536 and 0 < len(unit) < 65536
    return b"\xfe\xfd" + struct.pack(">HH", count, len(unit)) + unit


def write(target, name, data, trigger=False):
    base = TRIGGERS if trigger else CORPUS
    os.makedirs(os.path.join(base, target), exist_ok=True)
    with open(os.path.join(base, target, name), "wb") as f:
        f.write(data)


def read(target, name):
    with open(os.path.join(CORPUS, target, name), "rb") as f:
        return f.read()


# --- RTMP chunks (type 0 headers, as an encoder starting a message) ---

def chunk0(csid, timestamp, type_id, msid, payload, chunk_size=128):
    """A whole message: a type 0 chunk, then type 3 continuation chunks."""
    ext = timestamp >= 0xFFFFFF
    head = bytes([csid]) + (0xFFFFFF if ext else timestamp).to_bytes(3, "big")
    head += len(payload).to_bytes(3, "big") + bytes([type_id]) + struct.pack("<I", msid)
    if ext:
        head += struct.pack(">I", timestamp)
    out = head + payload[:chunk_size]
    for i in range(chunk_size, len(payload), chunk_size):
        out += bytes([0xC0 | csid]) + (struct.pack(">I", timestamp) if ext else b"") + payload[i:i + chunk_size]
    return out


def amf_string(s):
    return b"\x02" + struct.pack(">H", len(s)) + s.encode()


def amf_number(n):
    return b"\x00" + struct.pack(">d", n)


def metadata(video, audio):
    """@setDataFrame onMetaData with the codec ids ffmpeg sends (ECMA array)."""
    props = []
    if video:
        props.append(("videocodecid", amf_number(7)))
    if audio:
        props.append(("audiocodecid", amf_number(10)))
    body = amf_string("@setDataFrame") + amf_string("onMetaData") + b"\x08" + struct.pack(">I", len(props))
    for k, v in props:
        body += struct.pack(">H", len(k)) + k.encode() + v
    body += b"\x00\x00\x09"
    return chunk0(5, 0, 18, 1, body)


SPS = bytes.fromhex("6742c00ad9047b011000000300100000030320f1226480")
PPS = bytes.fromhex("68cb83cb20")


def avc_sequence_header(length_size):
    record = bytes([1, 0x42, 0xC0, 0x0A, 0xFC | (length_size - 1), 0xE1]) + struct.pack(">H", len(SPS)) + SPS
    record += b"\x01" + struct.pack(">H", len(PPS)) + PPS
    return chunk0(6, 0, 9, 1, b"\x17\x00\x00\x00\x00" + record)


def aac_sequence_header(asc):
    return chunk0(4, 0, 8, 1, b"\xaf\x00" + asc)


def bits_to_bytes(bits):
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


def rtmp_seeds():
    target = "FuzzPipelineRTMP"
    # Real traffic, odd first byte: the input carries ffmpeg's connect / createStream / publish.
    for name in ["ffmpeg_publish_1s", "ffmpeg_publish_start", "regression-empty-nal-growth"]:
        data = read("FuzzRTMPChunk", name)
        first = data[0] | 1
        write(target, name, bytes([first]) + escape(data[1:]))

    # Defect 1: AVC record with 1-byte NAL lengths, a small key frame (players join), then a
    # ~7 MB key frame of 1-byte NAL units at chunk size 128 (rewritten to 4-byte lengths: > 16 MiB).
    for n_nal, trigger in [(35_000, False), (3_500_000, True)]:
        name = "defect1-short-nal-lengths-%s-frame" % ("7MB" if trigger else "70KB")
        write(target, name, b"\x00" + short_nal_stream(n_nal), trigger)

    # Defect 2: AAC at 16,777,215 Hz (explicit frequency), timestamps alternating 0x80000001 / 0
    # (the RTP muxer's rescale overflowed after ~128 k pairs).
    asc = bits_to_bytes("00010" + "1111" + format(0xFFFFFF, "024b") + "0010" + "000")
    pair = chunk0(4, 0x80000001, 8, 1, b"\xaf\x01\x21") + chunk0(4, 0, 8, 1, b"\xaf\x01\x21")
    head = escape(metadata(False, True) + aac_sequence_header(asc))
    write(target, "defect2-alternating-timestamps-2k-pairs", b"\x02" + head + repeat(pair, 2000))
    write(target, "defect2-alternating-timestamps-16MHz-aac-171k-pairs",
          b"\x02" + head + repeat(pair, 65535) + repeat(pair, 65535) + repeat(pair, 40000), True)

    # Defect 7: video and 44.1 kHz AAC, one key frame, then tiny audio messages at one timestamp
    # (type 1 header once, then 4-byte type 3 chunks: same length, delta 0).
    asc441 = bits_to_bytes("00010" + "0100" + "0010" + "000")
    key = chunk0(6, 0, 9, 1, b"\x17\x01\x00\x00\x00" + struct.pack(">I", 5) + b"\x65\x88\x84\x00\x10")
    first_tiny = bytes([0x44]) + (0).to_bytes(3, "big") + (3).to_bytes(3, "big") + b"\x08" + b"\xaf\x01\x21"
    head = escape(metadata(True, True) + avc_sequence_header(4) + aac_sequence_header(asc441) + key + first_tiny)
    write(target, "defect7-tiny-audio-8k", b"\x04" + head + repeat(b"\xc4\xaf\x01\x21", 8000))
    write(target, "defect7-tiny-audio-65k", b"\x04" + head + repeat(b"\xc4\xaf\x01\x21", 65535), True)


def short_nal_stream(n_nal):
    """Defect 1: AVC record with 1-byte NAL lengths, a small key frame (players join), then a key
    frame of `n_nal` 1-byte NAL units at chunk size 128 (3.5 M of them are rewritten to 4-byte
    lengths: over 16 MiB, past the 24-bit RTMP and FLV lengths)."""
    small = chunk0(6, 40, 9, 1, b"\x17\x01\x00\x00\x00" + b"\x01\x65" * 16)
    length = 5 + 2 * n_nal
    head = bytes([6]) + (80).to_bytes(3, "big") + length.to_bytes(3, "big") + b"\x09" + struct.pack("<I", 1)
    body_first = b"\x17\x01\x00\x00\x00" + (b"\x01\x65" * 62)[:123]   # first chunk: 128 bytes of payload
    # Payload after the first chunk starts with 0x65 (the 123rd byte was a length 01).
    rest = length - 128
    chunks, tail = divmod(rest, 128)
    unit = b"\xc6" + b"\x65\x01" * 64
    stream = metadata(True, False) + avc_sequence_header(1) + small + head + body_first
    stream = escape(stream)
    while chunks:
        k = min(chunks, 65535)
        stream += repeat(unit, k)
        chunks -= k
    stream += b"\xc6" + (b"\x65\x01" * 64)[:tail]
    return stream


def gb_seeds():
    target = "FuzzPipelineGB"
    tcp = read("FuzzRTP", "gb_tcp_h264_aac")[1:]
    # RFC 4571 frames are [len16][RTP]; the UDP mode's datagrams are framed the same way.
    write(target, "gb_tcp_h264_aac", b"\x01" + escape(tcp))
    write(target, "gb_udp_h264_aac_window8", b"\x04" + escape(tcp))
    write(target, "gb_udp_h264_aac_window100", b"\x06" + escape(tcp))
    # Sequence numbers 65500, 65501, 65510, 10, 3500 with a window of 100 (reorder slots collide).
    frames = []
    pos = 0
    while pos + 2 <= len(tcp):
        n = struct.unpack(">H", tcp[pos:pos + 2])[0]
        frames.append(bytearray(tcp[pos + 2:pos + 2 + n]))
        pos += 2 + n
    out = b""
    for seq, frame in zip([65500, 65501, 65510, 10, 3500, 3501], frames):
        frame[2:4] = struct.pack(">H", seq)
        out += struct.pack(">H", len(frame)) + bytes(frame)
    write(target, "gb_udp_reorder_collision_window100", b"\x06" + escape(out))


def jt_seeds():
    target = "FuzzPipelineJT1078"
    for name in ["jt2016_h264_g711a_detect", "jt2016_pinned", "jt2019_h264_aac"]:
        data = read("FuzzJT1078", name)
        write(target, name, data[:1] + escape(data[1:]))


def rtmp_pull_seeds():
    """FuzzPipelineRTSPPull's RTMP mode: an origin's chunk stream after the harness answered
    connect / createStream / play (first byte 0x80-0xBF), or after the handshake only (0xC0-0xFF,
    the answers in the input). The media is the publish pipeline's: the chunk format is the same
    either way, and a play client ignores the publisher's commands in ffmpeg's stream."""
    target = "FuzzPipelineRTSPPull"
    for name in ["defect1-short-nal-lengths-70KB-frame", "defect2-alternating-timestamps-2k-pairs",
                 "defect7-tiny-audio-8k", "ffmpeg_publish_1s"]:
        data = read("FuzzPipelineRTMP", name)
        write(target, "rtmp-" + name, bytes([0x80 | (data[0] & 0x3F)]) + data[1:])
    # The answers in the input: connect's and createStream's _result, then Play.Start and a key frame.
    def command(name, tx, *args, msid=0, csid=3):
        body = amf_string(name) + amf_number(tx) + b"\x05"
        for a in args:
            body += a
        return chunk0(csid, 0, 20, msid, body)
    def status(code):
        return b"\x03" + struct.pack(">H", 5) + b"level" + amf_string("status") + struct.pack(">H", 4) + b"code" \
            + amf_string(code) + b"\x00\x00\x09"
    answers = command("_result", 1, status("NetConnection.Connect.Success")) + command("_result", 2, amf_number(1)) \
        + command("onStatus", 0, status("NetStream.Play.Start"), msid=1, csid=5)
    key = chunk0(6, 0, 9, 1, b"\x17\x01\x00\x00\x00" + struct.pack(">I", 5) + b"\x65\x88\x84\x00\x10")
    write(target, "rtmp-raw-answers-then-media", b"\xc0" + escape(answers + avc_sequence_header(4) + key))


if __name__ == "__main__":
    rtmp_seeds()
    rtmp_pull_seeds()
    gb_seeds()
    jt_seeds()
