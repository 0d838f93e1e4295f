import NIOCore

/// An AMF0 value (Action Message Format v0), the encoding of RTMP commands and FLV script data.
///
/// Objects and ECMA arrays keep their properties as an ordered list, not a dictionary: peers
/// (and humans reading captures) care about order, and keys may legally repeat.
public enum AMF0Value: Sendable, Equatable {
    case number(Double)
    case boolean(Bool)
    case string(String)
    case object([AMF0Property])
    case null
    case undefined
    case ecmaArray([AMF0Property])
    case strictArray([AMF0Value])
    /// Milliseconds since the Unix epoch; the time zone is reserved (should be 0) but kept.
    case date(Double, timeZone: Int16)
    case longString(String)
}

/// One key/value pair of an AMF0 object or ECMA array.
public struct AMF0Property: Sendable, Equatable {
    public var key: String
    public var value: AMF0Value

    public init(key: String, value: AMF0Value) {
        self.key = key
        self.value = value
    }

    public init(_ key: String, _ value: AMF0Value) {
        self.init(key: key, value: value)
    }
}

/// Why AMF0 decoding failed. Input is untrusted, so every failure is an error, never a trap.
public enum AMF0Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input ended in the middle of a value.
    case truncated
    /// A type marker this decoder does not handle (AMF3 switch 0x11, reference 0x07, movie
    /// clip, record set, XML, or an unknown byte).
    case unsupportedType(UInt8)
    /// Containers nested deeper than `AMF0Value.maxDepth`.
    case tooDeep
    /// More values than the caller's budget (`maxValues`).
    case tooManyValues
    /// An object-end marker (0x09) where a value was expected.
    case unexpectedObjectEnd

    public var description: String {
        switch self {
        case .truncated: "AMF0: input truncated"
        case .unsupportedType(let marker):
            marker == 0x11
                ? "AMF0: unsupported type marker 0x11 (AMF3 switch)"
                : "AMF0: unsupported type marker 0x\(String(marker, radix: 16))"
        case .tooDeep: "AMF0: nesting deeper than \(AMF0Value.maxDepth)"
        case .tooManyValues: "AMF0: more values than allowed in one message"
        case .unexpectedObjectEnd: "AMF0: unexpected object-end marker"
        }
    }
}

// MARK: - Markers

enum AMF0Marker {
    static let number: UInt8 = 0x00
    static let boolean: UInt8 = 0x01
    static let string: UInt8 = 0x02
    static let object: UInt8 = 0x03
    static let null: UInt8 = 0x05
    static let undefined: UInt8 = 0x06
    static let ecmaArray: UInt8 = 0x08
    static let objectEnd: UInt8 = 0x09
    static let strictArray: UInt8 = 0x0A
    static let date: UInt8 = 0x0B
    static let longString: UInt8 = 0x0C
    static let typedObject: UInt8 = 0x10
}

// MARK: - Decoding

extension AMF0Value {
    /// Deepest container nesting accepted (values at depth 0...maxDepth).
    public static let maxDepth = 32
    /// Values (scalars and containers, at any depth) one decode call accepts unless told
    /// otherwise: far above any real command or onMetaData, and small enough that a hostile
    /// body of one-byte values costs little time and memory.
    public static let defaultMaxValues = 65_536

    /// Decodes one value. On error the reader index is left where it was.
    public static func decode(from buffer: inout ByteBuffer, maxValues: Int = defaultMaxValues) throws(AMF0Error) -> AMF0Value {
        var copy = buffer
        var budget = maxValues
        let value = try decodeValue(from: &copy, budget: &budget)
        buffer = copy
        return value
    }

    /// Decodes values until the buffer is empty (a command or script-data body). `maxValues`
    /// bounds the values of all of them together.
    public static func decodeAll(from buffer: inout ByteBuffer, maxValues: Int = defaultMaxValues) throws(AMF0Error) -> [AMF0Value] {
        var copy = buffer
        var budget = maxValues
        var values: [AMF0Value] = []
        while copy.readableBytes > 0 {
            values.append(try decodeValue(from: &copy, budget: &budget))
        }
        buffer = copy
        return values
    }

    /// A container being filled, on the decoder's explicit stack.
    private struct OpenContainer {
        enum Kind { case object, ecmaArray, strictArray }
        var kind: Kind
        var properties: [AMF0Property] = []
        var elements: [AMF0Value] = []
        /// Strict arrays: elements still to read.
        var remaining = 0
        /// Objects: the key whose value is being read.
        var key = ""

        var value: AMF0Value {
            switch kind {
            case .object: .object(properties)
            case .ecmaArray: .ecmaArray(properties)
            case .strictArray: .strictArray(elements)
            }
        }
    }

    /// Iterative (an explicit stack, no recursion on peer data), linear in the input, with
    /// `maxDepth` and a value budget shared with the caller.
    private static func decodeValue(from buffer: inout ByteBuffer, budget: inout Int) throws(AMF0Error) -> AMF0Value {
        var stack: [OpenContainer] = []
        while true {
            var complete: AMF0Value?
            // 1. If inside a container: close it, or find out where the next value goes.
            if let top = stack.indices.last {
                switch stack[top].kind {
                case .object, .ecmaArray:
                    let key = try readShortString(&buffer)
                    if key.isEmpty, buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == AMF0Marker.objectEnd {
                        buffer.moveReaderIndex(forwardBy: 1)
                        complete = stack.removeLast().value
                    } else {
                        stack[top].key = key
                    }
                case .strictArray:
                    if stack[top].remaining == 0 {
                        complete = stack.removeLast().value
                    } else {
                        stack[top].remaining -= 1
                    }
                }
            }
            // 2. Otherwise read a value: a scalar completes, a container is opened.
            if complete == nil {
                guard stack.count <= maxDepth else { throw .tooDeep }
                budget -= 1
                guard budget >= 0 else { throw .tooManyValues }
                guard let marker = buffer.readInteger(as: UInt8.self) else { throw .truncated }
                switch marker {
                case AMF0Marker.number:
                    complete = .number(try readDouble(&buffer))
                case AMF0Marker.boolean:
                    guard let byte = buffer.readInteger(as: UInt8.self) else { throw .truncated }
                    complete = .boolean(byte != 0)
                case AMF0Marker.string:
                    complete = .string(try readShortString(&buffer))
                case AMF0Marker.null:
                    complete = .null
                case AMF0Marker.undefined:
                    complete = .undefined
                case AMF0Marker.date:
                    let millis = try readDouble(&buffer)
                    guard let zone = buffer.readInteger(as: Int16.self) else { throw .truncated }
                    complete = .date(millis, timeZone: zone)
                case AMF0Marker.longString:
                    guard let length = buffer.readInteger(as: UInt32.self),
                          let string = buffer.readString(length: Int(length)) else { throw .truncated }
                    complete = .longString(string)
                case AMF0Marker.object:
                    stack.append(OpenContainer(kind: .object))
                case AMF0Marker.typedObject:
                    _ = try readShortString(&buffer)  // class name: irrelevant to RTMP peers
                    stack.append(OpenContainer(kind: .object))
                case AMF0Marker.ecmaArray:
                    // The count is only a hint (encoders get it wrong); the end marker is authoritative.
                    guard buffer.readInteger(as: UInt32.self) != nil else { throw .truncated }
                    stack.append(OpenContainer(kind: .ecmaArray))
                case AMF0Marker.strictArray:
                    guard let count = buffer.readInteger(as: UInt32.self) else { throw .truncated }
                    // Every element takes at least one byte, so a claim beyond that is a lie: fail
                    // before allocating anything for it.
                    guard Int(count) <= buffer.readableBytes else { throw .truncated }
                    var array = OpenContainer(kind: .strictArray, remaining: Int(count))
                    array.elements.reserveCapacity(min(Int(count), 1024))
                    stack.append(array)
                case AMF0Marker.objectEnd:
                    throw .unexpectedObjectEnd
                default:
                    throw .unsupportedType(marker)
                }
            }
            // 3. Hand a finished value to its container, or return it.
            guard let value = complete else { continue }
            guard let top = stack.indices.last else { return value }
            switch stack[top].kind {
            case .object, .ecmaArray:
                stack[top].properties.append(AMF0Property(key: stack[top].key, value: value))
            case .strictArray:
                stack[top].elements.append(value)
            }
        }
    }

    private static func readDouble(_ buffer: inout ByteBuffer) throws(AMF0Error) -> Double {
        guard let bits = buffer.readInteger(as: UInt64.self) else { throw .truncated }
        return Double(bitPattern: bits)
    }

    private static func readShortString(_ buffer: inout ByteBuffer) throws(AMF0Error) -> String {
        guard let length = buffer.readInteger(as: UInt16.self),
              let string = buffer.readString(length: Int(length)) else { throw .truncated }
        return string
    }
}

// MARK: - Encoding

extension AMF0Value {
    /// Appends the AMF0 encoding of this value.
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .number(let value):
            buffer.writeInteger(AMF0Marker.number)
            buffer.writeInteger(value.bitPattern)
        case .boolean(let value):
            buffer.writeInteger(AMF0Marker.boolean)
            buffer.writeInteger(value ? 1 : 0 as UInt8)
        case .string(let value), .longString(let value):
            // The string/long-string split is a wire detail: pick by length, whatever the case.
            let utf8 = value.utf8
            if utf8.count <= Int(UInt16.max) {
                buffer.writeInteger(AMF0Marker.string)
                buffer.writeInteger(UInt16(utf8.count))
            } else {
                buffer.writeInteger(AMF0Marker.longString)
                buffer.writeInteger(UInt32(truncatingIfNeeded: utf8.count))
            }
            buffer.writeString(value)
        case .object(let properties):
            buffer.writeInteger(AMF0Marker.object)
            Self.writeProperties(properties, into: &buffer)
        case .null:
            buffer.writeInteger(AMF0Marker.null)
        case .undefined:
            buffer.writeInteger(AMF0Marker.undefined)
        case .ecmaArray(let properties):
            buffer.writeInteger(AMF0Marker.ecmaArray)
            buffer.writeInteger(UInt32(truncatingIfNeeded: properties.count))
            Self.writeProperties(properties, into: &buffer)
        case .strictArray(let elements):
            buffer.writeInteger(AMF0Marker.strictArray)
            buffer.writeInteger(UInt32(truncatingIfNeeded: elements.count))
            for element in elements { element.encode(into: &buffer) }
        case .date(let millis, let zone):
            buffer.writeInteger(AMF0Marker.date)
            buffer.writeInteger(millis.bitPattern)
            buffer.writeInteger(zone)
        }
    }

    /// Appends the encoding of several values back to back (a command or script-data body).
    public static func encode(_ values: [AMF0Value], into buffer: inout ByteBuffer) {
        for value in values { value.encode(into: &buffer) }
    }

    private static func writeProperties(_ properties: [AMF0Property], into buffer: inout ByteBuffer) {
        for property in properties {
            // Keys have a 16-bit length; a longer key cannot be represented, so it is cut.
            let key = property.key.utf8.prefix(Int(UInt16.max))
            buffer.writeInteger(UInt16(key.count))
            buffer.writeBytes(key)
            property.value.encode(into: &buffer)
        }
        buffer.writeInteger(0 as UInt16)
        buffer.writeInteger(AMF0Marker.objectEnd)
    }
}

// MARK: - Convenience

extension AMF0Value {
    /// The first property named `key` of an object or ECMA array.
    public subscript(key: String) -> AMF0Value? {
        switch self {
        case .object(let properties), .ecmaArray(let properties):
            properties.first { $0.key == key }?.value
        default:
            nil
        }
    }

    /// Properties of an object or ECMA array.
    public var properties: [AMF0Property]? {
        switch self {
        case .object(let properties), .ecmaArray(let properties): properties
        default: nil
        }
    }

    public var stringValue: String? {
        switch self {
        case .string(let value), .longString(let value): value
        default: nil
        }
    }

    public var numberValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .boolean(let value) = self { return value }
        return nil
    }

    /// True for `null` and `undefined`, which peers use interchangeably.
    public var isNullOrUndefined: Bool {
        switch self {
        case .null, .undefined: true
        default: false
        }
    }
}

extension AMF0Value: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension AMF0Value: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .number(value) }
}

extension AMF0Value: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
}

extension AMF0Value: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .boolean(value) }
}

/// `["app": "live", "tcUrl": url]` builds an `.object`, keeping the written order.
extension AMF0Value: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, AMF0Value)...) {
        self = .object(elements.map { AMF0Property(key: $0.0, value: $0.1) })
    }
}

/// `[1, "a"]` builds a `.strictArray`.
extension AMF0Value: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: AMF0Value...) {
        self = .strictArray(elements)
    }
}

extension AMF0Value: CustomStringConvertible {
    /// A compact JSON-like rendering for log lines.
    public var description: String {
        switch self {
        case .number(let value):
            value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        case .boolean(let value): String(value)
        case .string(let value), .longString(let value): "\"\(value)\""
        case .object(let properties): "{" + Self.describe(properties) + "}"
        case .ecmaArray(let properties): "[" + Self.describe(properties) + "]"
        case .null: "null"
        case .undefined: "undefined"
        case .strictArray(let elements): "[" + elements.map(\.description).joined(separator: ", ") + "]"
        case .date(let millis, _): "Date(\(millis))"
        }
    }

    private static func describe(_ properties: [AMF0Property]) -> String {
        properties.map { "\($0.key): \($0.value.description)" }.joined(separator: ", ")
    }
}
