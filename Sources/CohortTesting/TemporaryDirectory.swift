import Foundation

/// A fresh directory under the system's temporary directory, removed when the value is released
/// (or earlier by ``remove()``). Every test that writes files works in one.
public final class TemporaryDirectory: Sendable {
    /// The directory's absolute path.
    public let path: String

    /// Creates `<tmp>/cohort-<prefix>-<UUID>`.
    public init(prefix: String = "test") throws {
        path =
            FileManager.default.temporaryDirectory.appendingPathComponent("cohort-\(prefix)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// The path of `name` inside the directory (a subdirectory, usually).
    public func sub(_ name: String) -> String { file(name) }

    /// Writes `text` to `name` and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let target = file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: target))
        return target
    }

    /// Writes `bytes` to `name` and returns its path.
    @discardableResult
    public func write(_ name: String, bytes: [UInt8]) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    /// Removes the directory and everything in it now.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Paths in the repository, located from this file so tests need no resource bundle.
public enum Repository {
    /// The repository's root directory.
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }  // Sources/CohortTesting/TemporaryDirectory.swift
        return url.path
    }()

    /// `relative` under the root.
    public static func path(_ relative: String) -> String { root + "/" + relative }
}
