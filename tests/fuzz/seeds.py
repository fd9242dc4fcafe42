#!/usr/bin/env python3
"""seeds.py - writes the hand-made seed corpora of the codec fuzz targets.

Run from anywhere: python3 tests/fuzz/seeds.py. Files are named seed-* and
are rewritten each run; inputs the fuzzers found (minimized, merged with
-merge=1) sit beside them under their hash names and are left alone.
The bytes are spelled out by hand (no msgpack library) so that the seeds
do not depend on the encoder they test.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def u(v):
    """Minimal msgpack unsigned int."""
    if v < 0x80:
        return bytes([v])
    if v <= 0xff:
        return b"\xcc" + bytes([v])
    if v <= 0xffff:
        return b"\xcd" + struct.pack(">H", v)
    if v <= 0xffffffff:
        return b"\xce" + struct.pack(">I", v)
    return b"\xcf" + struct.pack(">Q", v)


def s(t):
    b = t.encode() if isinstance(t, str) else t
    if len(b) < 32:
        return bytes([0xa0 | len(b)]) + b
    if len(b) <= 0xff:
        return b"\xd9" + bytes([len(b)]) + b
    return b"\xda" + struct.pack(">H", len(b)) + b


def binary(b):
    if len(b) <= 0xff:
        return b"\xc4" + bytes([len(b)]) + b
    if len(b) <= 0xffff:
        return b"\xc5" + struct.pack(">H", len(b)) + b
    return b"\xc6" + struct.pack(">I", len(b)) + b


def arr(*items):
    return bytes([0x90 | len(items)]) + b"".join(items)


def env(version=1, typ=7, flags=0, corr=42, snode=1, sid=2, target=None, payload=b"\x80",
        fields=None):
    t = target if target is not None else arr(u(3), u(4))
    parts = [u(version), u(typ), u(flags), u(corr), u(snode), u(sid), t, binary(payload)]
    if fields is not None:
        parts = parts[:fields]
    return arr(*parts)


def batch(*envs):
    return b"\xdd" + struct.pack(">I", len(envs)) + b"".join(envs)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def envelope_seeds():
    pay = b"\x82\xa4name\xa1x\xa1n\x03"  # {"name": "x", "n": 3}
    good = {
        "ref": env(payload=pay),
        "name": env(target=s("chat/telegram:42"), payload=pay),
        "name-long": env(target=s("wf/" + "k" * 200)),
        "name-utf8": env(target=s("chat/\u00e9t\u00e9 \u2603 \U0001F600")),
        "empty-payload": env(payload=b""),
        "big-fields": env(typ=0xffffffff, flags=0xffff, corr=2**64 - 1, snode=2**64 - 1,
                          sid=2**63, target=arr(u(2**64 - 1), u(2**32))),
        "payload-300": env(payload=bytes(range(256)) + b"x" * 44),
        "nonminimal": arr(b"\xd3" + struct.pack(">q", 1), b"\xce\x00\x00\x00\x07", b"\xcd\x00\x01",
                          b"\xcf" + struct.pack(">Q", 5), u(1), u(2),
                          b"\xdc\x00\x02" + u(3) + u(4), b"\xc6\x00\x00\x00\x01\xc0"),
    }
    bad = {
        "v2": env(version=2),
        "v2-more-fields": arr(u(2), u(1), u(0), u(0), u(0), u(0), arr(u(0), u(1)), binary(b""), u(9)),
        "v0": env(version=0),
        "v-neg": arr(b"\xff", *[u(0)] * 7),
        "seven-fields": env(fields=7),
        "nine-fields": arr(*([u(1), u(7), u(0), u(0), u(1), u(2), arr(u(3), u(4)), binary(b""), u(0)])),
        "not-array": b"\x81\x01\x02",
        "empty-array": b"\x90",
        "type-str": arr(u(1), s("x"), u(0), u(0), u(1), u(2), arr(u(3), u(4)), binary(b"")),
        "type-too-big": env(typ=2**32),
        "flags-too-big": env(flags=2**16),
        "corr-neg": arr(u(1), u(7), u(0), b"\xd0\x80", u(1), u(2), arr(u(3), u(4)), binary(b"")),
        "target-3": env(target=arr(u(1), u(2), u(3))),
        "target-map": env(target=b"\x80"),
        "name-noslash": env(target=s("chat")),
        "name-emptykind": env(target=s("/x")),
        "name-ctl": env(target=s("a/b\nc")),
        "name-nul": env(target=s(b"a/b\x00")),
        "name-badutf8": env(target=s(b"a/\xc0\xaf")),
        "name-surrogate": env(target=s(b"a/\xed\xa0\x80")),
        "name-256": env(target=s("k/" + "x" * 254)),
        "payload-str": arr(u(1), u(7), u(0), u(0), u(1), u(2), arr(u(3), u(4)), s("x")),
        "payload-overlong": arr(u(1), u(7), u(0), u(0), u(1), u(2), arr(u(3), u(4)),
                                b"\xc6\x01\x00\x00\x01" + b"x" * 8),
        "trailing": env() + b"\xc0",
        "truncated": env(payload=pay)[:-3],
        "c1": b"\xc1",
        "empty": b"",
    }
    for k, v in good.items():
        write("envelope", "ok-" + k, v)
    for k, v in bad.items():
        write("envelope", "bad-" + k, v)
    write("envelope", "batch-3", batch(good["ref"], good["name"], good["empty-payload"]))
    write("envelope", "batch-fix", b"\x92" + good["ref"] + good["name-utf8"])
    write("envelope", "batch-empty", b"\x90")
    write("envelope", "batch-count-lie", b"\xdd\xff\xff\xff\xff" + good["ref"])
    write("envelope", "batch-trailing", batch(good["ref"]) + b"\x00")
    write("envelope", "batch-bad-2nd", batch(good["ref"], bad["v2"], good["name"]))


def payload_seeds():
    seeds = {
        "map": b"\x82\xa4name\xa1x\xa1n\x03",
        "scalars": b"\xc0\xc2\xc3\x00\x7f\xff\xe0\xcc\xff\xcd\xff\xff\xce\xff\xff\xff\xff"
                   b"\xcf" + b"\xff" * 8 + b"\xd0\x80\xd1\x80\x00\xd2\x80\x00\x00\x00\xd3\x80" + b"\x00" * 7,
        "floats": b"\xca" + struct.pack(">f", 0.1) + b"\xcb" + struct.pack(">d", -2.5),
        "strs": s("") + s("x" * 31) + s("y" * 32) + s("z" * 300) + b"\xdb\x00\x00\x00\x01q",
        "bins": binary(b"") + binary(b"\x00\x01") + binary(b"b" * 300),
        "exts": b"\xd4\x01\x02\xd5\x02ab\xd6\x03abcd\xd7\x04" + b"8" * 8 + b"\xd8\x05" + b"6" * 16
                + b"\xc7\x03\x06abc\xc8\x00\x01\x07z\xc9\x00\x00\x00\x00\x08",
        "nested": b"\x92\x81\xa1a\x93\x01\x02\x90\x80",
        "map-keys": b"\x84\x01\xa1x\x90\xc0\xa1a\xc3\xa4name\xa3bob",
        "map-big-hdr": b"\xde\x00\x02\xa1a\x01\xa1b\x02",
        "arr-big-hdr": b"\xdd\x00\x00\x00\x02\x01\x02",
        "deep-64": b"\x91" * 63 + b"\x90",
        "deep-65": b"\x91" * 64 + b"\x90",
        "deep-bomb": b"\x91" * 2000,
        "count-lie": b"\xdd\xff\xff\xff\xff\x00",
        "map-count-lie": b"\xdf\xff\xff\xff\xff\xa1a",
        "truncated-str": b"\xda\x01\x00abc",
        "truncated-int": b"\xcf\x00\x01",
        "c1": b"\xc1",
        "dup-keys": b"\x82\xa1a\x01\xa1a\x02",
    }
    for k, v in seeds.items():
        write("payload", k, v)


def json_seeds():
    texts = {
        "object": '{"name": "x", "n": 3}',
        "scalars": '[null, true, false, 0, -1, 9223372036854775807, -9223372036854775808]',
        "reals": '[0.1, -0.0, 1e300, 5e-324, 1.0, 2.5E+10, -1.5e-7]',
        "strings": '["", "a\\"b\\\\c", "\\u00e9\\ud83d\\ude00", "tab\\tnl\\n", "nul\\u0000x", "\u2603"]',
        "nested": '{"a": [1, {"b": [[], {}]}], "c": {"d": null}}',
        "top-string": '"just a string"',
        "top-number": '42',
        "ws": ' \n\t [ 1 , 2 ] \r\n',
        "deep-64": '[' * 64 + ']' * 64,
        "deep-65": '[' * 65 + ']' * 65,
        "deep-objects": '{"a":' * 70 + '1' + '}' * 70,
        "bracket-in-string": '["[[[[[[[[", "\\"[[[["]',
        "bad-syntax": '{"a": 1,}',
        "bad-trailing": '[1] 2',
        "bad-dup": '{"a": 1, "a": 2}',
        "bad-bigint": '18446744073709551615',
        "bad-bigneg": '-9223372036854775809',
        "bad-bigreal": '1e400',
        "bad-utf8": '"\xff"',
        "bad-unterminated": '["abc',
        "bad-lone-surrogate": '"\\ud800"',
        "bad-nul-key": '{"a\\u0000b": 1}',
        "empty": '',
    }
    for k, v in texts.items():
        data = v.encode("latin-1") if k == "bad-utf8" else v.encode()
        write("json", "text-" + k, data)
    mp = {
        "map": b"\x82\xa4name\xa1x\xa1n\x03",
        "bin": b"\x93" + binary(b"") + binary(b"foo") + binary(b"foobar!"),
        "ext": b"\xd4\x01\x02",
        "int-key": b"\x81\x01\x02",
        "nan": b"\xcb\x7f\xf8" + b"\x00" * 6,
        "inf": b"\xca\x7f\x80\x00\x00",
        "float32": b"\xca" + struct.pack(">f", 0.1),
        "u64max": b"\xcf" + b"\xff" * 8,
        "i64min": b"\xd3\x80" + b"\x00" * 7,
        "ctl-str": s("a\x01b\"c\\"),
        "bad-utf8-str": s(b"\xe2\x82"),
        "dup-keys": b"\x82\xa1a\x01\xa1a\x02",
        "nul-key": b"\x81\xa2a\x00\x01",
        "trailing": b"\xc0\xc0",
        "deep-65": b"\x91" * 64 + b"\x90",
    }
    for k, v in mp.items():
        write("json", "mp-" + k, v)


def http_seeds():
    """fuzz_http: the first byte is the piece size (0 = whole, 1..16)."""
    reqs = {
        "get": b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
        "get-query": b"GET /engine-rest/task?assignee=x&maxResults=5 HTTP/1.1\r\nHost: a\r\n"
                     b"Accept: application/json\r\n\r\n",
        "post-body": b"POST /engine-rest/message HTTP/1.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 13\r\n\r\n{\"a\":\"hello\"}",
        "chunked": b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nTrailer: t\r\n\r\n",
        "pipelined": b"GET /1 HTTP/1.1\r\n\r\nHEAD /2 HTTP/1.1\r\n\r\n"
                     b"PUT /3 HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"
                     b"GET /4 HTTP/1.1\r\nConnection: close\r\n\r\n",
        "http10": b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
        "absolute": b"GET http://user@h:8080/x/y?q=1#f HTTP/1.1\r\n\r\n",
        "asterisk": b"OPTIONS * HTTP/1.1\r\n\r\n",
        "connect": b"CONNECT h:443 HTTP/1.1\r\n\r\n",
        "expect": b"PUT /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
        "expect-bad": b"PUT /e HTTP/1.1\r\nExpect: tea\r\n\r\n",
        "upgrade": b"GET /events HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                   b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n\x81\x05hello",
        "auth": b"GET /x HTTP/1.1\r\nAuthorization: Basic dTpw\r\n\r\n",
        "folded": b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
        "long-url": b"GET /" + b"u" * 300 + b" HTTP/1.1\r\n\r\n",
        "many-headers": b"GET / HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(10))
                        + b"\r\n",
        "big-header": b"GET / HTTP/1.1\r\nX: " + b"v" * 1100 + b"\r\n\r\n",
        "big-body": b"POST / HTTP/1.1\r\nContent-Length: 600\r\n\r\n" + b"b" * 600,
        "big-chunked": b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n"
                       + b"c" * 512 + b"\r\n1\r\nc\r\n0\r\n\r\n",
        "two-lengths": b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "te-and-cl": b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "bad-version": b"GET / HTTP/1.1 junk\r\n\r\n",
        "http2": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "garbage": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        "nul": b"GET /a\x00b HTTP/1.1\r\n\r\n",
        "lf-only": b"GET / HTTP/1.1\nHost: a\n\n",
    }
    for k, v in reqs.items():
        write("http", k, b"\x00" + v)
    for k in ("get", "pipelined", "chunked"):
        write("http", k + "-bytes", b"\x01" + reqs[k])
        write("http", k + "-7", b"\x07" + reqs[k])
    # a request message as an actor handler receives it (from any node)
    def m(*kv):
        return bytes([0x80 | len(kv) // 2]) + b"".join(kv)
    msg = m(s("c"), u(1 << 56 | 3 << 32 | 9), s("s"), u(4), s("g"), arr(u(1), u(2)),
            s("m"), s("GET"), s("u"), s("/a?b"), s("p"), s("/a"), s("q"), s("b"),
            s("v"), u(1), s("k"), b"\xc3", s("up"), b"\xc2",
            s("h"), arr(arr(s("Host"), s("x")), arr(s("X-Test"), s("1"))), s("b"), binary(b"xyz"))
    write("http", "message", msg)
    write("http", "message-bad-headers", msg.replace(arr(s("Host"), s("x")), arr(s("Host"))))


if __name__ == "__main__":
    envelope_seeds()
    payload_seeds()
    json_seeds()
    http_seeds()
