import CohortTesting
import Testing

@testable import CohortLedger

@Suite("RFC 8785 canonical JSON")
struct JCSTests {
    /// RFC 8785 Appendix B: IEEE-754 bit patterns and their ECMAScript serialization.
    static let appendixB: [(UInt64, String)] = [
        (0x0000_0000_0000_0000, "0"),
        (0x8000_0000_0000_0000, "0"),
        (0x0000_0000_0000_0001, "5e-324"),
        (0x8000_0000_0000_0001, "-5e-324"),
        (0x7fef_ffff_ffff_ffff, "1.7976931348623157e+308"),
        (0xffef_ffff_ffff_ffff, "-1.7976931348623157e+308"),
        (0x4340_0000_0000_0000, "9007199254740992"),
        (0xc340_0000_0000_0000, "-9007199254740992"),
        (0x4430_0000_0000_0000, "295147905179352830000"),
        (0x44b5_2d02_c7e1_4af5, "9.999999999999997e+22"),
        (0x44b5_2d02_c7e1_4af6, "1e+23"),
        (0x44b5_2d02_c7e1_4af7, "1.0000000000000001e+23"),
        (0x444b_1ae4_d6e2_ef4e, "999999999999999700000"),
        (0x444b_1ae4_d6e2_ef4f, "999999999999999900000"),
        (0x444b_1ae4_d6e2_ef50, "1e+21"),
        (0x3eb0_c6f7_a0b5_ed8c, "9.999999999999997e-7"),
        (0x3eb0_c6f7_a0b5_ed8d, "0.000001"),
        (0x41b3_de43_5555_5553, "333333333.3333332"),
        (0x41b3_de43_5555_5554, "333333333.33333325"),
        (0x41b3_de43_5555_5555, "333333333.3333333"),
        (0x41b3_de43_5555_5556, "333333333.3333334"),
        (0x41b3_de43_5555_5557, "333333333.33333343"),
        (0xbecb_f647_612f_3696, "-0.0000033333333333333333"),
        (0x4314_3ff3_c1cb_0959, "1424953923781206.2"),
    ]

    @Test("Appendix B number serialization", arguments: 0..<24)
    func appendixBNumbers(index: Int) {
        let (bits, expected) = Self.appendixB[index]
        let value = Double(bitPattern: bits)
        #expect(CanonicalJSON.numberString(value) == expected)
        // And the text parses back to the same double.
        if let parsed = try? JSONParser.parse(expected).doubleValue {
            #expect(parsed == value)
        } else {
            Issue.record("\(expected) did not parse back")
        }
    }

    @Test("ECMAScript layout boundaries")
    func layoutBoundaries() {
        let cases: [(Double, String)] = [
            (1e21, "1e+21"), (1e20, "100000000000000000000"), (1e-7, "1e-7"), (0.000001, "0.000001"),
            (333333333.3333333, "333333333.3333333"), (-0.0, "0"), (Double.leastNonzeroMagnitude, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"), (100, "100"), (1.5, "1.5"), (-2, "-2"),
            (0.1, "0.1"), (123e-20, "1.23e-18"), (1.25e-6, "0.00000125"), (1.5e300, "1.5e+300"), (4.5, "4.5"),
            (0.002, "0.002"), (1e30, "1e+30"), (9_007_199_254_740_991, "9007199254740991"), (1e-5, "0.00001"),
        ]
        for (value, expected) in cases {
            #expect(CanonicalJSON.numberString(value) == expected, "\(value)")
        }
    }

    @Test("RFC 8785 §3.2.2 example: numbers, strings and literals")
    func rfcExample() throws {
        let input = #"""
            {
              "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """#
        let canonical = try JSONParser.parse(input).canonicalString
        #expect(
            canonical
                == #"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        )
    }

    @Test("RFC 8785 §3.2.3 member ordering by UTF-16 code units")
    func sortingByUTF16() throws {
        let input = #"""
            {"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One",
             "\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}
            """#
        let value = try JSONParser.parse(input)
        let keys = CanonicalJSON.sortedKeys(value.objectValue!)
        #expect(keys == ["\r", "1", "\u{80}", "ö", "€", "😀", "\u{fb33}"])
    }

    @Test("nested objects and arrays are canonicalised recursively")
    func nested() throws {
        let input = #"{ "b": [ {"z": 1.0, "a": "x"}, [ ] , {} ], "a": { "d": true, "c": null, "\t": "tab\u0001" } }"#
        let canonical = try JSONParser.parse(input).canonicalString
        #expect(canonical == #"{"a":{"\t":"tab\u0001","c":null,"d":true},"b":[{"a":"x","z":1},[],{}]}"#)
        // Canonicalisation is idempotent.
        #expect(try JSONParser.parse(canonical).canonicalString == canonical)
    }

    @Test("control characters use the short escapes or lowercase \\u00xx; DEL and non-ASCII stay literal")
    func stringEscapes() {
        let value = JSONValue.string("\u{8}\u{c}\n\r\t\u{0}\u{1f}\u{7f}é\"\\/")
        #expect(value.canonicalString == "\"\\b\\f\\n\\r\\t\\u0000\\u001f\u{7f}é\\\"\\\\/\"")
    }

    @Test(
        "the parser rejects what I-JSON forbids",
        arguments: [
            #"{"a":1,"a":2}"#, #"{"a":1} x"#, #"[1,]"#, #"{"a":NaN}"#, #"[Infinity]"#, #"[-Infinity]"#, #"[1e400]"#,
            #"[01]"#, #"["\ud800"]"#, #"["\udc00x"]"#, "[\"a\u{1}\"]", #"[1.]"#, #"[.5]"#, #"{"a" 1}"#, #"[tru]"#, "",
            "  ",
            #"["\x"]"#, #"[+1]"#,
        ])
    func rejects(text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test("the parser rejects invalid UTF-8")
    func rejectsInvalidUTF8() throws {
        for bytes: [UInt8] in [
            [0x22, 0xff, 0x22], [0x22, 0xc3, 0x22], [0x22, 0xed, 0xa0, 0x80, 0x22], [0x22, 0xc0, 0xaf, 0x22],
        ] {
            #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes) }
        }
        #expect(try JSONParser.parse([0x22, 0xc3, 0xa9, 0x22]) == .string("é"))
    }

    @Test("surrogate pairs decode to one scalar; deep nesting is refused")
    func surrogatesAndDepth() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        #expect(
            try JSONParser.parse(" [ -0 , 0 , 12345678901234567890 ] ") == [
                .number(-0.0), 0, .number(Double("12345678901234567890")!),
            ])
    }

    @Test("the fast UTF-16 order equals a plain UTF-16 comparison")
    func utf16Order() {
        let samples = [
            "", "a", "ab", "b", "A", "\r", "1", "\u{7f}", "\u{80}", "ö", "€", "\u{d7ff}", "\u{e000}", "\u{fb33}",
            "\u{ffff}",
            "😀", "😀a", "\u{10000}", "\u{10ffff}", "a😀", "a\u{fb33}", "aö", "a€",
        ]
        for a in samples {
            for b in samples {
                #expect(
                    CanonicalJSON.utf16Precedes(a, b) == a.utf16.lexicographicallyPrecedes(b.utf16),
                    "\(a.unicodeScalars.map(\.value)) vs \(b.unicodeScalars.map(\.value))")
            }
        }
    }

    /// The one-pass canonical verdict must equal "re-serialising gives the same bytes".
    static func agree(_ bytes: [UInt8]) -> Bool? {
        guard let parsed = try? bytes.withUnsafeBufferPointer({ try JSONParser.parseNotingCanonicalForm(buffer: $0) })
        else { return nil }
        return parsed.isCanonical == (parsed.value.canonicalBytes == bytes)
    }

    @Test("the parser's canonical verdict equals re-serialisation, on crafted cases")
    func canonicalVerdictCases() {
        let cases = [
            #"{"a":1}"#, #"{"a":1.0}"#, #"{"a":1e2}"#, #"{"a":-0}"#, #"{"a":0}"#, #"{"a":1E+21}"#, #"{"a":1e+21}"#,
            #"{"a":0.000001}"#,
            #"{"a":1e-7}"#, #"{"a":1E-7}"#, #"{"a":"\/"}"#, #"{"a":"\u0041"}"#, #"{"a":"\u001F"}"#, #"{"a":"\u001f"}"#,
            #"{"a":"\u000a"}"#,
            #"{"a":"\n"}"#, #"{"b":1,"a":2}"#, #"{"a":1,"b":2}"#, #"{"a":[1, 2]}"#, #" {"a":1}"#, #"{"a":1} "#,
            #"{"a":"\ud83d\ude00"}"#,
            #"{"a":"😀"}"#, #"{"€":1,"😀":2}"#, #"{"😀":1,"€":2}"#, #"{"a":123456789012345678}"#,
            #"{"a":123456789012345680}"#,
            #"{"a":-5e-324}"#, #"{"a":0.1}"#, #"{"a":.1e1}"#, #"{"a":true,"b":null}"#,
        ]
        for text in cases {
            #expect(Self.agree(Array(text.utf8)) != false, "\(text)")
        }
    }

    @Test("the parser's canonical verdict equals re-serialisation, on mutated ledger lines")
    func canonicalVerdictMutations() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        _ = try Fixtures.writeLedger(in: directory, key: Fixtures.testKey(), rounds: 1)
        let lines = Fixtures.lines(Fixtures.read(directory.ledgerPath))
        let replacements: [UInt8] = Array(" 0123456789.eE+-\"\\/u{}[],:aAfF".utf8)
        var checked = 0
        for line in lines {
            #expect(Self.agree(line) == true)
            for position in line.indices {
                for replacement in replacements where replacement != line[position] {
                    var mutated = line
                    mutated[position] = replacement
                    if let verdict = Self.agree(mutated) {
                        checked += 1
                        #expect(verdict, "\(String(decoding: mutated, as: UTF8.self))")
                    }
                }
                var inserted = line
                inserted.insert(UInt8(ascii: " "), at: position)
                #expect(Self.agree(inserted) != false)
            }
        }
        #expect(checked > 1000)
    }
}
