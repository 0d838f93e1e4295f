import Foundation
import NIOConcurrencyHelpers

/// An executable of this package under test (`relay`, `relay-camera`, `relay-bench`), built by
/// `swift build` / `swift test` next to the test bundle: executables cannot be test dependencies,
/// so it is found, not linked. The environment variable `environment` overrides the search.
struct ProductBinary: Sendable {
    let name: String
    let environment: String

    static let relay = ProductBinary(name: "relay", environment: "RELAY_BIN")
    static let camera = ProductBinary(name: "relay-camera", environment: "RELAY_CAMERA_BIN")
    static let bench = ProductBinary(name: "relay-bench", environment: "RELAY_BENCH_BIN")

    struct Missing: Error, CustomStringConvertible {
        let name: String
        let environment: String
        let searched: [String]
        var description: String {
            "\(name) executable not found (run `swift build` first, or set \(environment)); looked in: "
                + searched.joined(separator: ", ")
        }
    }

    private static let announced = NIOLockedValueBox(Set<String>())

    func path() throws -> String {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment[environment] { candidates.append(env) }
        // The test runner (…/debug/LiveRelayPackageTests.xctest) sits in the products directory.
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(runner.deletingLastPathComponent().appendingPathComponent(name).path)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent(name).path)
        candidates.append(Bundle.main.bundleURL.appendingPathComponent(name).path)
        candidates.append("\(FileManager.default.currentDirectoryPath)/.build/debug/\(name)")
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            if Self.announced.withLockedValue({ $0.insert(name).inserted }) {
                print("\(name) under test: \(candidate)")
            }
            return candidate
        }
        throw Missing(name: name, environment: environment, searched: candidates)
    }

    /// Starts the executable with `arguments`.
    func start(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(try path(), arguments)
    }
}
