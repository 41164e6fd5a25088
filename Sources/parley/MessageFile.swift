import Foundation
import SwiftProtobuf
import Yams

/// A protobuf message read from a file in protobuf's JSON form or in YAML
/// with the same shape: `.yaml`/`.yml` (or `--yaml`) is YAML, anything else
/// JSON; `-` is standard input.
///
/// YAML goes through a JSON-compatible tree and JSON text into
/// `M(jsonString:)`, so field names, enum names and `Money` read exactly as
/// in JSON (proto names or lowerCamelCase). Every plain YAML scalar is a
/// string except `true`/`false` (booleans) and `null`/`~`/nothing (null):
/// protobuf's JSON accepts quoted numbers for every numeric field, and
/// postal codes, card numbers and region codes such as `ON` stay strings.
///
/// When the message does not decode, the error names the file, the line (for
/// YAML), the field path (`payments[0].card_number`) and what is wrong.
struct MessageFile {
    enum Format { case json, yaml }

    /// The path as given (`-` for standard input).
    let path: String
    let format: Format

    /// What errors call the source.
    var name: String { path == "-" ? "<stdin>" : path }

    /// - Parameter yaml: read as YAML whatever the name says (`--yaml`).
    init(path: String, yaml: Bool = false) {
        self.path = path
        let suffix = (path as NSString).pathExtension.lowercased()
        format = yaml || suffix == "yaml" || suffix == "yml" ? .yaml : .json
    }

    /// Reads and decodes the message.
    func read<M: SwiftProtobuf.Message>(_ type: M.Type) throws -> M {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw CLIError(FileManager.default.fileExists(atPath: path) ? "cannot read \(path)" : "\(path): no such file")
            }
            data = contents
        }
        guard let text = String(data: data, encoding: .utf8) else { throw CLIError("\(name) is not UTF-8 text") }
        guard !text.allSatisfy(\.isWhitespace) else { throw CLIError("\(name) is empty") }
        let what = "\(M.protoMessageName) in \(format == .yaml ? "YAML" : "JSON")"
        switch format {
        case .json:
            if let message = try? M(jsonString: text) { return message }
            let document: Document
            do {
                document = try Document(json: data)
            } catch {
                throw CLIError("\(name) is not valid JSON: \(error)")
            }
            throw CLIError("\(name) is not a valid \(what): \(explainFailure(of: document, as: M.self))")
        case .yaml:
            let document: Document
            do {
                document = try Document(yaml: text)
            } catch let error as Document.Problem {
                throw CLIError("\(name) is not valid YAML: " + (error.line.map { "line \($0): " } ?? "") + error.message)
            } catch {
                throw CLIError("\(name) is not valid YAML: \(error)")
            }
            if let message = try? M(jsonString: document.jsonText()) { return message }
            throw CLIError("\(name) is not a valid \(what): \(explainFailure(of: document, as: M.self))")
        }
    }

    /// Finds the smallest part of `document` that does not decode on its own
    /// (every proto3 field is optional, so a document cut down to one branch
    /// is still a valid message unless that branch is wrong), and says what
    /// is wrong with it.
    private func explainFailure<M: SwiftProtobuf.Message>(of document: Document, as type: M.Type) -> String {
        guard case .object = document.value else {
            return "the top level must be a mapping of the message's fields, not " + Self.found(document.value)
        }
        func failure(_ candidate: Document) -> (any Error)? {
            do {
                _ = try M(jsonString: candidate.jsonText())
                return nil
            } catch {
                return error
            }
        }
        guard let rootError = failure(document) else { return "it does not decode (but each part does)" }
        var node = document
        var path = ""
        var error = rootError
        var rebuild: (Document) -> Document = { $0 }
        descending: while true {
            let children: [(label: String, wrap: (Document) -> Document, child: Document)]
            switch node.value {
            case .object(let pairs):
                let line = node.line
                children = pairs.map { pair in
                    (path.isEmpty ? pair.key : "\(path).\(pair.key)", { Document(.object([(pair.key, $0)]), line: line) }, pair.value)
                }
            case .array(let items):
                let line = node.line
                children = items.enumerated().map { index, item in ("\(path)[\(index)]", { Document(.array([$0]), line: line) }, item) }
            default:
                break descending
            }
            for (label, wrap, child) in children {
                let outer = rebuild
                if let childError = failure(outer(wrap(child))) {
                    node = child
                    path = label
                    error = childError
                    rebuild = { outer(wrap($0)) }
                    continue descending
                }
            }
            break
        }
        let place = [node.line.map { "line \($0)" }, path.isEmpty ? nil : path].compactMap { $0 }.joined(separator: ", ")
        return (place.isEmpty ? "" : "\(place): ") + Self.describe(error, value: node.value)
    }

    /// A value as an error message quotes it.
    static func found(_ value: Document.Value) -> String {
        switch value {
        case .null: "null"
        case .bool(let flag): "\(flag)"
        case .number(let text): text
        case .string(let text): "'\(text)'"
        case .array: "a list"
        case .object: "a mapping"
        }
    }

    /// SwiftProtobuf's JSON errors in words.
    static func describe(_ error: any Error, value: Document.Value) -> String {
        guard let error = error as? JSONDecodingError else { return "\(error)" }
        let found = found(value)
        switch error {
        case .unknownField(let name): return "unknown field '\(name)'"
        case .malformedString: return "expected text, found \(found) (quote it)"
        case .malformedBool: return "expected true or false, found \(found)"
        case .malformedNumber, .numberRange:
            let numeric = switch value {
            case .number: true
            case .string(let text): Double(text) != nil
            default: false
            }
            return numeric ? "\(found) is out of range or not a whole number" : "expected a number, found \(found)"
        case .unrecognizedEnumValue: return "\(found) is not the name of one of this field's values"
        case .illegalNull: return "null is not allowed here"
        case .conflictingOneOf: return "more than one of a set of exclusive fields is set"
        case .malformedMap: return "expected a mapping, found \(found)"
        case .schemaMismatch, .failure: return "found \(found), which does not fit the field"
        default: return "\(error)"
        }
    }
}

/// A JSON-compatible value tree with where each value came from (its line
/// in a YAML file).
struct Document {
    indirect enum Value {
        case null
        case bool(Bool)
        /// A JSON number as written.
        case number(String)
        case string(String)
        case array([Document])
        /// Keys in document order (YAML), or as Foundation reads them (JSON).
        case object([(key: String, value: Document)])
    }

    /// What is wrong with a YAML file, and where.
    struct Problem: Error {
        let line: Int?
        let message: String
    }

    var value: Value
    /// The 1-based line it starts on (YAML only).
    var line: Int?

    init(_ value: Value, line: Int? = nil) {
        self.value = value
        self.line = line
    }

    // MARK: YAML

    /// YAML 1.2's JSON-compatible core for plain (unquoted) scalars: only
    /// `true`/`false` are booleans (not `yes`, `on` or `ON`, Ontario's code)
    /// and only `null`, `~` and nothing are null; every other scalar is text.
    private static func plainValue(_ text: String) -> Value {
        switch text {
        case "true", "True", "TRUE": .bool(true)
        case "false", "False", "FALSE": .bool(false)
        case "", "~", "null", "Null", "NULL": .null
        default: .string(text)
        }
    }

    /// The first YAML document of `text`.
    init(yaml text: String) throws {
        let root: Node?
        do {
            // No resolver rules: every scalar stays text until plainValue reads it.
            root = try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            throw Problem(line: nil, message: Self.describe(error))
        }
        guard let root else { throw Problem(line: nil, message: "no YAML document in it") }
        self = try Self.convert(root)
    }

    private static func convert(_ node: Node) throws -> Document {
        let line = node.mark?.line
        switch node {
        case .scalar(let scalar):
            switch scalar.style {
            case .plain, .any: return Document(plainValue(scalar.string), line: line)
            default: return Document(.string(scalar.string), line: line)
            }
        case .sequence(let sequence):
            return Document(.array(try sequence.map(convert)), line: line)
        case .mapping(let mapping):
            // Yams refuses a key given twice in one mapping.
            var pairs: [(key: String, value: Document)] = []
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    throw Problem(line: key.mark?.line, message: "a mapping key must be plain text, not a list or a mapping")
                }
                pairs.append((keyScalar.string, try convert(value)))
            }
            return Document(.object(pairs), line: line)
        case .alias:
            throw Problem(line: line, message: "YAML aliases are not supported here")
        }
    }

    /// Yams's error as one line: where, and what is wrong.
    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let during = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return "line \(mark.line), column \(mark.column): \(problem)\(during)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            return "line \(context.mark.line): \(keys) appears more than once in the same mapping"
        default:
            return "\(error)".split(separator: "\n", maxSplits: 1).first.map(String.init) ?? "\(error)"
        }
    }

    // MARK: JSON

    /// Parses JSON text (for locating a problem in a JSON file).
    init(json data: Data) throws {
        do {
            self = try JSONDecoder().decode(Document.self, from: data)
        } catch {
            throw CLIError(Self.jsonSyntaxProblem(data) ?? "\(error)")
        }
    }

    /// Foundation's account of a JSON syntax error with its place as a line
    /// and column ("Invalid value around line 2, column 12."), or nil.
    private static func jsonSyntaxProblem(_ data: Data) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return nil
        } catch {
            guard var text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String else { return nil }
            if let range = text.range(of: #"character \d+"#, options: .regularExpression),
                let offset = Int(text[range].dropFirst("character ".count)) {
                let before = data.prefix(offset)
                let line = before.filter { $0 == UInt8(ascii: "\n") }.count + 1
                let column = before.count - (before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
                text.replaceSubrange(range, with: "line \(line), column \(column)")
            }
            return text
        }
    }

    /// The value as JSON text.
    func jsonText() -> String {
        var text = ""
        write(to: &text)
        return text
    }

    private func write(to text: inout String) {
        switch value {
        case .null: text += "null"
        case .bool(let flag): text += flag ? "true" : "false"
        case .number(let number): text += number
        case .string(let string): Self.writeString(string, to: &text)
        case .array(let items):
            text += "["
            for (index, item) in items.enumerated() {
                if index > 0 { text += "," }
                item.write(to: &text)
            }
            text += "]"
        case .object(let pairs):
            text += "{"
            for (index, pair) in pairs.enumerated() {
                if index > 0 { text += "," }
                Self.writeString(pair.key, to: &text)
                text += ":"
                pair.value.write(to: &text)
            }
            text += "}"
        }
    }

    private static func writeString(_ string: String, to text: inout String) {
        text += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}

extension Document: Decodable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Swift.Decoder) throws {
        if let object = try? decoder.container(keyedBy: Key.self) {
            self.init(.object(try object.allKeys.map { ($0.stringValue, try object.decode(Document.self, forKey: $0)) }))
            return
        }
        if var array = try? decoder.unkeyedContainer() {
            var items: [Document] = []
            while !array.isAtEnd { items.append(try array.decode(Document.self)) }
            self.init(.array(items))
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self.init(.null)
        } else if let flag = try? single.decode(Bool.self) {
            self.init(.bool(flag))
        } else if let string = try? single.decode(String.self) {
            self.init(.string(string))
        } else if let integer = try? single.decode(Int64.self) {
            self.init(.number(String(integer)))
        } else {
            self.init(.number(String(try single.decode(Double.self))))
        }
    }
}
