import CohortTesting
import Testing

@testable import CohortModel

@Suite struct CSVReaderTests {
    @Test func quotedFieldsWithCommasQuotesAndNewlines() throws {
        let text = "name,note,value\r\n\"Smith, J.\",\"said \"\"hi\"\"\",1\r\n\"multi\nline\",,\"\"\r\nplain,x,3"
        let table = try CSVReader.parse(text: text, source: "inline.csv")
        #expect(table.header == ["name", "note", "value"])
        #expect(table.rows.count == 3)
        #expect(table.rows[0] == ["Smith, J.", "said \"hi\"", "1"])
        #expect(table.rows[1] == ["multi\nline", nil, nil])  // unquoted and quoted empty cells are missing
        #expect(table.rows[2] == ["plain", "x", "3"])
        // Record 2 spans lines 3–4, so record 3 starts on line 5.
        #expect(table.lineNumbers == [2, 3, 5])
    }

    @Test func lineEndingsBlankLinesAndByteOrderMark() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("a,b\n1,2\n\n3,4\r\n".utf8)
        let table = try CSVReader.parse(bytes, source: "bom.csv")
        #expect(table.header == ["a", "b"])
        #expect(table.rows == [["1", "2"], ["3", "4"]])
        #expect(table.lineNumbers == [2, 4])
        // A trailing comma opens one more, empty field.
        let trailing = try CSVReader.parse(text: "a,b\n1,", source: "t.csv")
        #expect(trailing.rows == [["1", nil]])
    }

    @Test func unterminatedQuoteNamesWhereItOpened() {
        let error = expectModelError("csv.unterminated_quote") {
            _ = try CSVReader.parse(text: "a,b\n1,2\n3,\"open\n4,5\n", source: "bad.csv")
        }
        #expect(error?.location == FileLocation(file: "bad.csv", line: 3, column: 2))
        #expect(error?.message.contains("closing quote") == true)
    }

    @Test func textAfterClosingQuote() {
        let error = expectModelError("csv.text_after_closing_quote") {
            _ = try CSVReader.parse(text: "a,b\n\"x\"y,2\n", source: "bad.csv")
        }
        #expect(error?.location == FileLocation(file: "bad.csv", line: 2, column: 1))
    }

    @Test func quoteInsideUnquotedField() {
        let error = expectModelError("csv.quote_in_unquoted_field") {
            _ = try CSVReader.parse(text: "a,b\n1,2\n3,4\"5\n", source: "bad.csv")
        }
        #expect(error?.location == FileLocation(file: "bad.csv", line: 3, column: 2))
    }

    @Test func fieldCountMismatchAfterMultilineField() {
        let error = expectModelError("csv.field_count_mismatch") {
            _ = try CSVReader.parse(text: "a,b\n\"x\ny\",2\n1,2,3\n", source: "bad.csv")
        }
        #expect(error?.location?.line == 4)
        #expect(error?.message.contains("3 fields but the header has 2") == true)
    }

    @Test func headerProblems() {
        _ = expectModelError("csv.empty_file") { _ = try CSVReader.parse(text: "\n\n", source: "e.csv") }
        let duplicate = expectModelError("csv.duplicate_column") {
            _ = try CSVReader.parse(text: "a,b,a\n", source: "d.csv")
        }
        #expect(duplicate?.location == FileLocation(file: "d.csv", line: 1, column: 3, columnName: "a"))
        _ = expectModelError("csv.empty_column_name") { _ = try CSVReader.parse(text: "a,,b\n", source: "n.csv") }
    }

    @Test func invalidUTF8() {
        let error = expectModelError("csv.invalid_utf8") {
            _ = try CSVReader.parse(Array("a,b\n1,".utf8) + [0xFF, 0xFE] + Array("\n".utf8), source: "u.csv")
        }
        #expect(error?.location == FileLocation(file: "u.csv", line: 2, column: 2))
    }

    @Test func readsRealFileAndNamesItInErrors() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("silo.csv", "x,y\n1,2\n3\n")
        let error = expectModelError("csv.field_count_mismatch") { _ = try CSVTable.read(path: path) }
        #expect(error?.location?.file == path)
        #expect(error?.description.hasPrefix("\(path):3") == true)
        _ = expectModelError("csv.unreadable_file") { _ = try CSVTable.read(path: directory.file("absent.csv")) }
    }

    @Test func writerRoundTrip() throws {
        let table = CSVTable(
            source: "mem", header: ["a", "b c", "d"],
            rows: [
                ["x,y", "say \"no\"", nil],
                ["line\nbreak", " padded ", "plain"],
            ])
        let directory = try TemporaryDirectory()
        try table.write(path: directory.file("out.csv"))
        let back = try CSVTable.read(path: directory.file("out.csv"))
        #expect(back.header == table.header)
        #expect(back.rows == table.rows)
    }

    @Test func shippedFilesParse() throws {
        let wdbc = try CSVTable.read(path: Repository.wdbcCSV)
        #expect(wdbc.rows.count == 569)
        #expect(wdbc.header.count == 31)
        let credit = try CSVTable.read(path: Repository.creditCSV)
        #expect(credit.rows.count == 4454)
        #expect(credit.header.first == "Status")
    }
}

/// Bytes that are not text in a cell are refused with the file, line and field.
@Suite struct CSVTextTests {
    @Test func nulByteInACellIsRefusedWithItsLocation() {
        let bytes = Array("a,b\n1,2\n20".utf8) + [0] + Array("57,3\n".utf8)
        let error = expectModelError("csv.nul_byte") { _ = try CSVReader.parse(bytes, source: "nul.csv") }
        #expect(error?.location == FileLocation(file: "nul.csv", line: 3, column: 1))
        #expect(error?.description.hasPrefix("nul.csv:3:1") == true)
    }

    @Test func invalidUTF8InACellIsRefusedWithItsLocation() {
        let bytes = Array("a,b\n1,2\n3,".utf8) + [0xC3, 0x28] + Array("\n".utf8)
        let error = expectModelError("csv.invalid_utf8") { _ = try CSVReader.parse(bytes, source: "bad.csv") }
        #expect(error?.location == FileLocation(file: "bad.csv", line: 3, column: 2))
    }

    /// A quote that is never closed makes the rest of the file one record; past the record limit
    /// the read stops with `csv.record_too_long`, naming the file, the line the record starts on
    /// and the likely cause, instead of reading the file into memory.
    @Test func recordLongerThanTheLimitIsRefusedWithWhereItStarts() throws {
        let directory = try TemporaryDirectory(prefix: "csv")
        let body = "a,b\n1,2\n3,\"unclosed\n" + String(repeating: "4,5\n", count: 1000)
        let path = try directory.write("long.csv", body)
        do {
            var stream = try CSVStream(path: path, maximumRecordBytes: 1024)
            while try stream.next() != nil {}
            Issue.record("a record longer than the limit was read")
        } catch {
            #expect(error.code == "csv.record_too_long")
            #expect(error.location?.file == path)
            #expect(error.location?.line == 3, "the record starts on line 3: \(error)")
            #expect(error.message.contains("longer than the limit of 1024 bytes"))
            #expect(error.message.contains("a quote is never closed"))
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == body)
    }
}
