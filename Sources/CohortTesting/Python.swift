import Foundation

/// Python modules that some tests use as independent references (numpy, safetensors, the
/// `cryptography` package). Scripts/test.sh installs them; a test that needs one calls
/// ``require(_:)``, which fails the test with what to install — it never skips silently.
public enum Python {
    /// An error naming the missing interpreter or modules and how to get them.
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    /// Checks that `python3` can import every module in `modules`.
    /// - Throws: ``Missing`` naming the modules and the command that installs them.
    public static func require(_ modules: [String]) throws {
        let imports = modules.map { "import \($0)" }.joined(separator: "; ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", imports]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
        } catch {
            throw Missing(
                description: "this test needs python3 on PATH (\(error)); install Python 3 and run Scripts/test.sh")
        }
        guard process.terminationStatus == 0 else {
            throw Missing(
                description:
                    "this test needs the Python modules \(modules.joined(separator: ", ")), which python3 cannot import; "
                    + "run Scripts/test.sh (it installs them) or `python3 -m pip install \(modules.joined(separator: " "))`"
            )
        }
    }
}
