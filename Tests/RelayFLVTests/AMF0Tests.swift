import Foundation
import NIOCore
import RelayFLV
import Testing
import RelayTestSupport

private func encoded(_ value: AMF0Value) -> ByteBuffer {
    var buffer = ByteBuffer()
    value.encode(into: &buffer)
    return buffer
}

private func roundTrip(_ value: AMF0Value) throws -> AMF0Value {
    var buffer = encoded(value)
    let decoded = try AMF0Value.decode(from: &buffer)
    #expect(buffer.readableBytes == 0)
    return decoded
}

private func ascii(_ string: String) -> String {
    string.utf8.map { String(format: "%02x", $0) }.joined()
}

private func decodeError(_ buffer: ByteBuffer) -> AMF0Error? {
    var buffer = buffer
    do {
        _ = try AMF0Value.decode(from: &buffer)
        return nil
    } catch {
        return error
    }
}

private func nestedObjects(_ depth: Int) -> ByteBuffer {
    // {"a": {"a": ... {} ...}} written by hand so the encoder's own recursion is not involved.
    var buffer = ByteBuffer()
    for level in 0..<depth {
        if level > 0 { buffer.writeBytes([0x00, 0x01, 0x61]) }  // key "a"
        buffer.writeInteger(UInt8(0x03))
    }
    for _ in 0..<depth { buffer.writeBytes([0x00, 0x00, 0x09]) }
    return buffer
}

@Suite struct AMF0Tests {
    @Test func scalarsRoundTrip() throws {
        let values: [AMF0Value] = [
            .number(0), .number(-0.5), .number(1e300), .number(-.infinity), .number(4_294_967_296),
            .boolean(true), .boolean(false), .string(""), .string("live/stream?token=é✓🎥"),
            .null, .undefined, .date(1_700_000_000_123, timeZone: 0), .date(-1, timeZone: -60),
        ]
        for value in values {
            #expect(try roundTrip(value) == value)
        }
        guard case .number(let nan) = try roundTrip(.number(.nan)) else {
            Issue.record("NaN did not decode as a number")
            return
        }
        #expect(nan.isNaN)
    }

    @Test func exactEncodings() {
        #expect(encoded(.number(1)) == hexBuffer("00 3FF0000000000000"))
        #expect(encoded(.boolean(true)) == hexBuffer("01 01"))
        #expect(encoded(.string("ab")) == hexBuffer("02 0002 6162"))
        #expect(encoded(.object([AMF0Property("a", .null)])) == hexBuffer("03 0001 61 05 000009"))
        #expect(encoded(.ecmaArray([AMF0Property("x", .boolean(false))])) == hexBuffer("08 00000001 0001 78 0100 000009"))
        #expect(encoded(.strictArray([.undefined, .null])) == hexBuffer("0A 00000002 06 05"))
        #expect(encoded(.date(0, timeZone: 0)) == hexBuffer("0B 0000000000000000 0000"))
        #expect(encoded(.null) == hexBuffer("05"))
    }

    @Test func containersRoundTrip() throws {
        let value: AMF0Value = .object([
            AMF0Property("app", "live"),
            AMF0Property("nested", .object([
                AMF0Property("deeper", .ecmaArray([AMF0Property("n", 3), AMF0Property("s", "x")])),
                AMF0Property("list", .strictArray([1, "two", .null, .object([])])),
            ])),
            AMF0Property("empty", .ecmaArray([])),
            AMF0Property("dup", 1),
            AMF0Property("dup", 2),
            AMF0Property("when", .date(86_400_000, timeZone: 0)),
        ])
        #expect(try roundTrip(value) == value)
        // Order and duplicates survive; the subscript returns the first.
        #expect(value["dup"] == .number(1))
        #expect(value.properties?.map(\.key) == ["app", "nested", "empty", "dup", "dup", "when"])
    }

    @Test func longStrings() throws {
        let long = String(repeating: "a", count: 70_000)
        var buffer = encoded(.string(long))
        #expect(buffer.getInteger(at: 0, as: UInt8.self) == 0x0C)
        #expect(buffer.getInteger(at: 1, as: UInt32.self) == 70_000)
        #expect(try AMF0Value.decode(from: &buffer) == .longString(long))

        // Exactly 65535 bytes still fits a short string.
        let edge = String(repeating: "b", count: 65_535)
        #expect(encoded(.string(edge)).getInteger(at: 0, as: UInt8.self) == 0x02)
        #expect(try roundTrip(.string(edge)) == .string(edge))

        // A short long-string is written as a plain string.
        #expect(try roundTrip(.longString("short")) == .string("short"))
        var wire = hexBuffer("0C 00000003 616263")
        #expect(try AMF0Value.decode(from: &wire) == .longString("abc"))
        #expect(AMF0Value.longString("abc").stringValue == "abc")
    }

    @Test func typedObjectDecodesAsObject() throws {
        var buffer = hexBuffer("10 0003 466f6f  0001 78 00 3FF0000000000000  0001 79 02 0001 7a  000009  05")
        #expect(try AMF0Value.decode(from: &buffer) == .object([AMF0Property("x", 1), AMF0Property("y", "z")]))
        #expect(try AMF0Value.decode(from: &buffer) == .null)
        #expect(buffer.readableBytes == 0)
    }

    /// FFmpeg's `connect` command body, written byte by byte from the AMF0 spec.
    @Test func ffmpegConnectBytes() throws {
        let bytes = "02 0007 \(ascii("connect"))"
            + " 00 3FF0000000000000"
            + " 03"
            + " 0003 \(ascii("app")) 02 0004 \(ascii("live"))"
            + " 0004 \(ascii("type")) 02 000a \(ascii("nonprivate"))"
            + " 0008 \(ascii("flashVer")) 02 0024 \(ascii("FMLE/3.0 (compatible; Lavf59.27.100)"))"
            + " 0005 \(ascii("tcUrl")) 02 001a \(ascii("rtmp://127.0.0.1:1935/live"))"
            + " 000009"
        var buffer = hexBuffer(bytes)
        let values = try AMF0Value.decodeAll(from: &buffer)
        #expect(buffer.readableBytes == 0)
        #expect(values.count == 3)
        #expect(values[0] == "connect")
        #expect(values[1].numberValue == 1)
        #expect(values[2]["app"]?.stringValue == "live")
        #expect(values[2]["flashVer"]?.stringValue == "FMLE/3.0 (compatible; Lavf59.27.100)")
        #expect(values[2]["tcUrl"]?.stringValue == "rtmp://127.0.0.1:1935/live")
        #expect(values[2]["missing"] == nil)
        // And re-encoding gives the same bytes back.
        var again = ByteBuffer()
        AMF0Value.encode(values, into: &again)
        #expect(again == hexBuffer(bytes))
    }

    @Test func unsupportedMarkers() {
        for marker: UInt8 in [0x04, 0x07, 0x0D, 0x0E, 0x0F, 0x11, 0x12, 0xFF] {
            #expect(decodeError(hexBuffer(String(format: "%02x 00 00 00 00", marker))) == .unsupportedType(marker))
        }
        #expect(decodeError(hexBuffer("09")) == .unexpectedObjectEnd)
        #expect(AMF0Error.unsupportedType(0x11).description.contains("AMF3"))
        // Inside a container too.
        #expect(decodeError(hexBuffer("0A 00000001 11 00")) == .unsupportedType(0x11))
    }

    @Test func truncatedAtEveryByte() {
        let value: AMF0Value = .object([
            AMF0Property("n", 1.5), AMF0Property("s", "str"), AMF0Property("b", true),
            AMF0Property("e", .ecmaArray([AMF0Property("k", .null)])),
            AMF0Property("a", .strictArray([.undefined, .date(1, timeZone: 0)])),
            AMF0Property("l", .object([AMF0Property("", "emptykey")])),
        ])
        let full = encoded(value)
        for length in 0..<full.readableBytes {
            var prefix = full.getSlice(at: 0, length: length)!
            #expect(throws: AMF0Error.truncated) { try AMF0Value.decode(from: &prefix) }
            #expect(prefix.readableBytes == length, "reader index must not move on error")
        }
        var whole = full
        #expect(try! AMF0Value.decode(from: &whole) == value)
    }

    @Test func decodeAllLeavesBufferOnError() {
        var buffer = hexBuffer("05 06 02 0005 6162")
        #expect(throws: AMF0Error.truncated) { try AMF0Value.decodeAll(from: &buffer) }
        #expect(buffer.readableBytes == 7)
    }

    @Test func nestingLimit() throws {
        var ok = nestedObjects(AMF0Value.maxDepth + 1)  // depths 0...maxDepth
        _ = try AMF0Value.decode(from: &ok)
        #expect(decodeError(nestedObjects(AMF0Value.maxDepth + 2)) == .tooDeep)
        #expect(decodeError(nestedObjects(1000)) == .tooDeep)

        var arrays = ByteBuffer()
        for _ in 0..<1000 { arrays.writeBytes([0x0A, 0, 0, 0, 1]) }
        arrays.writeInteger(UInt8(0x05))
        #expect(decodeError(arrays) == .tooDeep)
    }

    @Test func hugeCountsDoNotAllocate() {
        #expect(decodeError(hexBuffer("0A FFFFFFFF 05 05")) == .truncated)
        #expect(decodeError(hexBuffer("0C FFFFFFFF 61")) == .truncated)
        // An ECMA array count is only a hint: the end marker decides.
        var ecma = hexBuffer("08 FFFFFFFF 0001 61 05 000009")
        #expect(try! AMF0Value.decode(from: &ecma) == .ecmaArray([AMF0Property("a", .null)]))
    }

    @Test func randomBytesNeverCrash() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var buffer = ByteBuffer()
            let count = Int.random(in: 0..<64, using: &generator)
            for _ in 0..<count {
                // Bias towards valid markers so decoding gets somewhere.
                buffer.writeInteger(Bool.random() ? UInt8.random(in: 0...0x12) : UInt8.random(in: 0...255))
            }
            _ = try? AMF0Value.decodeAll(from: &buffer)
        }
    }

    @Test func conveniences() {
        let object: AMF0Value = ["code": "NetStream.Play.Start", "level": "status", "n": 5, "f": 2.5, "ok": true]
        #expect(object["code"]?.stringValue == "NetStream.Play.Start")
        #expect(object["n"]?.numberValue == 5)
        #expect(object["f"]?.numberValue == 2.5)
        #expect(object["ok"]?.boolValue == true)
        #expect(object["ok"]?.stringValue == nil)
        #expect(AMF0Value.string("x").numberValue == nil)
        #expect(AMF0Value.number(1)["x"] == nil)
        #expect(AMF0Value.ecmaArray([AMF0Property("k", "v")])["k"] == "v")
        let list: AMF0Value = [1, "a"]
        #expect(list == .strictArray([.number(1), .string("a")]))
        #expect(AMF0Value.null.isNullOrUndefined && AMF0Value.undefined.isNullOrUndefined)
        #expect(object.description.contains("code: \"NetStream.Play.Start\""))
        #expect(AMF0Value.number(3).description == "3")
    }
}
