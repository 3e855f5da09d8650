//! Report tables: every format read back and compared cell by cell.

use std::io::Read;

use bangfu_projections::table::{Cell, Column, Table, TableError, XLSX_EXACT_MAX, hundredths};
use calamine::{Data, Reader, Xlsx, open_workbook};
use unicode_width::UnicodeWidthStr;

/// 2^53 − 1 fen: the largest amount the ledger allows.
const MAX_FEN: i64 = (1 << 53) - 1;

const CHECKPOINT: &str = "bangfu.example/log/v1\n1200\nq6Yx1bD0u0ZyH+/8bNhCz0xWVk3zQJvP2Hq7mNnS0aE=\n\n— bangfu.example/log/v1 Az3XkQ+8gT4yZb2sYv1c0dKf\n";

fn columns() -> Vec<Column> {
    vec![
        Column {
            key: "cadre",
            header: "干部 / Cadre".into(),
        },
        Column {
            key: "household",
            header: "户 / Household".into(),
        },
        Column {
            key: "amount",
            header: "金额（元）/ Amount (yuan)".into(),
        },
        Column {
            key: "score",
            header: "得分 / Score".into(),
        },
        Column {
            key: "visits",
            header: "走访 / Visits".into(),
        },
    ]
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

fn sample() -> Table {
    Table {
        title: "帮扶资金台账 / Fund ledger, 2024 Q2".into(),
        stamp: vec![
            ("log size".into(), "1200".into()),
            ("checkpoint".into(), CHECKPOINT.into()),
            ("生成 / generated".into(), "2024-07-01T08:00:00Z".into()),
        ],
        columns: columns(),
        rows: vec![
            vec![
                text("张三"),
                text("李家村 3 组, \"大\"户"),
                Cell::Fen(123_405),
                Cell::Points(9_850),
                Cell::Int(4),
            ],
            vec![
                text("#2 王五"),
                text("第一行\n第二行"),
                Cell::Fen(-50),
                Cell::Points(-125),
                Cell::Int(-1),
            ],
            vec![
                text("Zhao Liu"),
                Cell::Empty,
                Cell::Fen(MAX_FEN),
                Cell::Points(0),
                Cell::Empty,
            ],
            vec![
                text("=SUM(A1:A9)"),
                text(""),
                Cell::Fen(1),
                Cell::Points(1),
                Cell::Int(i64::MAX),
            ],
            vec![
                text("最小值"),
                text("tab\there"),
                Cell::Fen(i64::MIN),
                Cell::Empty,
                Cell::Int(i64::MIN),
            ],
            vec![
                text("上限"),
                text("14 位"),
                Cell::Fen(XLSX_EXACT_MAX as i64),
                Cell::Points(-(XLSX_EXACT_MAX as i64)),
                Cell::Int(XLSX_EXACT_MAX as i64 + 1),
            ],
        ],
    }
}

/// The cells as CSV shows them, written out by hand rather than with the code under test.
fn expected_plain() -> Vec<Vec<&'static str>> {
    vec![
        vec!["张三", "李家村 3 组, \"大\"户", "1234.05", "98.50", "4"],
        vec!["#2 王五", "第一行\n第二行", "-0.50", "-1.25", "-1"],
        vec!["Zhao Liu", "", "90071992547409.91", "0.00", ""],
        vec!["=SUM(A1:A9)", "", "0.01", "0.01", "9223372036854775807"],
        vec![
            "最小值",
            "tab\there",
            "-92233720368547758.08",
            "",
            "-9223372036854775808",
        ],
        vec![
            "上限",
            "14 位",
            "999999999999.99",
            "-999999999999.99",
            "100000000000000",
        ],
    ]
}

#[test]
fn hundredths_are_exact() {
    assert_eq!(hundredths(123_405), "1234.05");
    assert_eq!(hundredths(-50), "-0.50");
    assert_eq!(hundredths(0), "0.00");
    assert_eq!(hundredths(-7), "-0.07");
    assert_eq!(hundredths(MAX_FEN), "90071992547409.91");
    assert_eq!(hundredths(i64::MIN), "-92233720368547758.08");
}

#[test]
fn json_keeps_integers_and_nulls() {
    let table = sample();
    let json = table.to_json();
    assert_eq!(json["title"], "帮扶资金台账 / Fund ledger, 2024 Q2");
    assert_eq!(json["stamp"]["log size"], "1200");
    assert_eq!(json["stamp"]["checkpoint"], CHECKPOINT);
    assert_eq!(json["stamp"].as_object().map(|o| o.len()), Some(3));
    assert_eq!(json["columns"][2]["key"], "amount");
    assert_eq!(json["columns"][2]["header"], "金额（元）/ Amount (yuan)");

    let rows = json["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), table.rows.len());
    for (row, cells) in rows.iter().zip(&table.rows) {
        for (column, cell) in table.columns.iter().zip(cells) {
            let value = &row[column.key];
            match cell {
                Cell::Text(s) => assert_eq!(value.as_str(), Some(s.as_str())),
                Cell::Int(n) | Cell::Fen(n) | Cell::Points(n) => {
                    assert!(
                        value.is_i64() && !value.is_f64(),
                        "{value} is not an integer"
                    );
                    assert_eq!(value.as_i64(), Some(*n));
                }
                Cell::Empty => assert!(value.is_null()),
            }
        }
        assert_eq!(row.as_object().map(|o| o.len()), Some(table.columns.len()));
    }

    // Through text and back: money stays integer fen, spelled without a decimal point.
    let text = serde_json::to_string(&json).expect("serialize");
    assert!(text.contains(r#""amount":9007199254740991"#));
    assert!(text.contains(r#""amount":-50"#));
    assert!(text.contains(r#""amount":-9223372036854775808"#));
    let back: serde_json::Value = serde_json::from_str(&text).expect("parse");
    assert_eq!(back, json);
}

fn strip_bom(csv: &str) -> &str {
    csv.strip_prefix('\u{feff}')
        .expect("CSV starts with a UTF-8 BOM")
}

#[test]
fn csv_parses_back_to_exactly_the_cells() {
    let table = sample();
    let csv = table.to_csv();
    let body = strip_bom(&csv);
    assert!(body.contains("\r\n"), "RFC 4180 line ends");

    // A reader that skips comment lines sees just the header and the data.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .comment(Some(b'#'))
        .from_reader(body.as_bytes());
    let records: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("record").iter().map(String::from).collect())
        .collect();
    let headers: Vec<String> = table.columns.iter().map(|c| c.header.clone()).collect();
    assert_eq!(records[0], headers);
    let expected = expected_plain();
    assert_eq!(records.len(), 1 + expected.len());
    for (got, want) in records[1..].iter().zip(&expected) {
        assert_eq!(got, want);
    }
    for (row, cells) in table.rows.iter().zip(&records[1..]) {
        let plain: Vec<String> = row.iter().map(Cell::plain).collect();
        assert_eq!(&plain, cells);
    }
}

#[test]
fn csv_carries_title_and_stamp_exactly() {
    let table = sample();
    let csv = table.to_csv();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(strip_bom(&csv).as_bytes());
    let records: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("record").iter().map(String::from).collect())
        .collect();
    assert_eq!(records[0], ["#", "帮扶资金台账 / Fund ledger, 2024 Q2"]);

    // Rebuild the stamp: a record with a key starts a value, an empty key continues it.
    let mut stamp: Vec<(String, String)> = Vec::new();
    for record in records[1..].iter().take_while(|r| r[0] == "#") {
        assert_eq!(record.len(), 3);
        match stamp.last_mut() {
            Some((_, value)) if record[1].is_empty() => {
                value.push('\n');
                value.push_str(&record[2]);
            }
            _ => stamp.push((record[1].clone(), record[2].clone())),
        }
    }
    assert_eq!(stamp, table.stamp);

    // Each provenance line starts with `#` on its own physical line; a data cell that starts
    // with `#` is quoted instead.
    let stamp_lines: usize = table.stamp.iter().map(|(_, v)| v.split('\n').count()).sum();
    let preamble_lines = 1 + stamp_lines;
    let lines: Vec<&str> = strip_bom(&csv).split("\r\n").collect();
    assert!(lines[..preamble_lines].iter().all(|l| l.starts_with("#,")));
    assert!(!lines[preamble_lines].starts_with('#'));
    assert!(csv.contains("\r\n\"#2 王五\","));
}

#[test]
fn text_lines_up_with_cjk() {
    let table = sample();
    let text = table.to_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "帮扶资金台账 / Fund ledger, 2024 Q2");
    // Stamp values line up after the widest key, "生成 / generated" (16 columns).
    assert_eq!(lines[1], "log size:         1200");
    assert_eq!(lines[2], "checkpoint:       bangfu.example/log/v1");
    assert_eq!(lines[3], "                  1200");
    assert!(text.contains("\n生成 / generated: 2024-07-01T08:00:00Z\n"));
    assert!(!text.contains('\t'), "control characters are replaced");

    let blank = lines
        .iter()
        .rposition(|l| l.is_empty())
        .expect("a blank line before the table");
    let grid = &lines[blank + 1..];
    let width = grid[0].width();
    for line in grid {
        assert_eq!(line.width(), width, "{line:?}");
    }
    assert!(grid[0].starts_with("干部 / Cadre"));
    assert!(grid[1].starts_with("------"));
    // Numbers are right-aligned: each amount ends where the amount header ends.
    let amount_end = display_end(grid[0], "金额（元）/ Amount (yuan)");
    for amount in [
        "1234.05",
        "-0.50",
        "90071992547409.91",
        "-92233720368547758.08",
    ] {
        let line = grid
            .iter()
            .find(|l| l.contains(amount))
            .expect("amount shown");
        assert_eq!(display_end(line, amount), amount_end, "{line:?}");
    }
    // A two-line cell makes a two-line row.
    let first = grid
        .iter()
        .position(|l| l.contains("第一行"))
        .expect("first line");
    assert!(grid[first + 1].contains("第二行"));
    assert_eq!(
        display_end(grid[first], "第一行") - "第一行".width(),
        display_end(grid[first + 1], "第二行") - "第二行".width()
    );
}

/// The display column just after the first occurrence of `needle` in `line`.
fn display_end(line: &str, needle: &str) -> usize {
    let at = line.find(needle).expect("needle in line");
    line[..at].width() + needle.width()
}

#[test]
fn xlsx_reads_back() {
    let table = sample();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("report.xlsx");
    table.write_xlsx(&path).expect("write xlsx");

    let mut workbook: Xlsx<_> = open_workbook(&path).expect("open xlsx");
    let names = workbook.sheet_names();
    assert_eq!(names, ["帮扶资金台账 Fund ledger, 2024 Q2"]);
    let range = workbook.worksheet_range(&names[0]).expect("sheet");
    let at = |r: u32, c: u32| range.get_value((r, c)).cloned().unwrap_or(Data::Empty);
    let string = |r: u32, c: u32| match at(r, c) {
        Data::String(s) => s,
        Data::Empty => String::new(),
        other => panic!("({r},{c}) is not text: {other:?}"),
    };

    assert_eq!(string(0, 0), table.title);
    // The stamp: key in A, one row per line of the value in B.
    let mut r = 1;
    for (key, value) in &table.stamp {
        assert_eq!(&string(r, 0), key);
        let lines: Vec<String> = value
            .split('\n')
            .enumerate()
            .map(|(i, _)| string(r + i as u32, 1))
            .collect();
        assert_eq!(&lines.join("\n"), value);
        r += lines.len() as u32;
    }
    assert_eq!(at(r, 0), Data::Empty, "blank row before the header");
    let header_row = r + 1;
    for (c, column) in table.columns.iter().enumerate() {
        assert_eq!(string(header_row, c as u32), column.header);
    }

    for (i, row) in table.rows.iter().enumerate() {
        let r = header_row + 1 + i as u32;
        for (c, cell) in row.iter().enumerate() {
            let got = at(r, c as u32);
            match cell {
                Cell::Text(s) if s.is_empty() => assert_eq!(got, Data::Empty),
                Cell::Text(s) => assert_eq!(got, Data::String(s.clone()), "({r},{c})"),
                Cell::Empty => assert_eq!(got, Data::Empty, "({r},{c})"),
                Cell::Fen(n) | Cell::Points(n) | Cell::Int(n) => {
                    let shown = match got {
                        // Numbers: the double must print back as the exact decimal.
                        Data::Float(f) if matches!(cell, Cell::Int(_)) => format!("{f}"),
                        Data::Float(f) => format!("{f:.2}"),
                        Data::Int(v) => v.to_string(),
                        // Beyond 14 digits the exact decimal is written as text.
                        Data::String(s) => {
                            assert!(n.unsigned_abs() > XLSX_EXACT_MAX, "({r},{c}) {s}");
                            s
                        }
                        other => panic!("({r},{c}) unexpected {other:?}"),
                    };
                    assert_eq!(shown, cell.plain(), "({r},{c})");
                }
            }
        }
    }
    // The two amounts the brief names: 1 fen is a number, 2^53 − 1 fen exact text.
    assert_eq!(at(header_row + 4, 2), Data::Float(0.01));
    assert_eq!(
        at(header_row + 3, 2),
        Data::String("90071992547409.91".into())
    );
    assert_eq!(at(header_row + 1, 2), Data::Float(1234.05));

    // Frozen below the header, and the yuan format is in the styles.
    let file = std::fs::File::open(&path).expect("reopen");
    let mut zip = zip::ZipArchive::new(file).expect("zip");
    let sheet = read_entry(&mut zip, "xl/worksheets/sheet1.xml");
    let top = format!(r#"topLeftCell="A{}""#, header_row + 2);
    assert!(
        sheet.contains(r#"state="frozen""#) && sheet.contains(&top),
        "{sheet}"
    );
    let styles = read_entry(&mut zip, "xl/styles.xml");
    assert!(styles.contains(r##"formatCode="#,##0.00""##));
}

fn read_entry(zip: &mut zip::ZipArchive<std::fs::File>, name: &str) -> String {
    let mut entry = zip.by_name(name).expect("entry");
    let mut text = String::new();
    entry.read_to_string(&mut text).expect("read entry");
    text
}

#[test]
fn ragged_or_ambiguous_tables_are_refused() {
    let mut table = sample();
    table.rows[1].pop();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ragged.xlsx");
    assert_eq!(
        table.write_xlsx(&path),
        Err(TableError::Ragged {
            row: 1,
            cells: 4,
            columns: 5
        })
    );
    assert!(!path.exists());
    // The other formats still render it, the missing cell empty.
    assert!(table.to_json()["rows"][1]["visits"].is_null());
    assert!(table.to_text().lines().count() > 10);

    let mut table = sample();
    table.columns[1].key = "cadre";
    assert_eq!(table.check(), Err(TableError::DuplicateKey("cadre")));
}

#[test]
fn empty_and_odd_tables_render() {
    let empty = Table::default();
    assert_eq!(empty.to_csv(), "\u{feff}#,\r\n");
    assert_eq!(empty.to_text(), "\n");
    assert_eq!(empty.to_json()["rows"], serde_json::json!([]));
    let dir = tempfile::tempdir().expect("tempdir");
    empty
        .write_xlsx(&dir.path().join("empty.xlsx"))
        .expect("empty table");

    // A title Excel would refuse as a sheet name still gives a valid file.
    let odd = Table {
        title: "'[2024/Q2]: 走访情况 * 很长很长很长很长很长很长很长很长很长很长很长'".into(),
        columns: columns(),
        ..Table::default()
    };
    odd.write_xlsx(&dir.path().join("odd.xlsx"))
        .expect("odd title");
    let text = odd.to_text();
    assert!(text.lines().any(|l| l.starts_with("干部 / Cadre")));
}

#[test]
fn the_xlsx_number_bound_is_exact() {
    // Every amount up to the bound prints back from its double as the same two decimals, and
    // the double's shortest spelling (what goes into the file) is that decimal.
    let max = XLSX_EXACT_MAX as i64;
    let near_bound = (max - 200_000)..=max;
    let small = -200_000..=200_000;
    for n in near_bound.chain(small) {
        let yuan = n as f64 / 100.0;
        assert_eq!(format!("{yuan:.2}"), hundredths(n), "{n}");
        assert_eq!(yuan.to_string().parse::<f64>(), Ok(yuan));
        let exact = hundredths(n);
        let trimmed = exact.trim_end_matches('0').trim_end_matches('.');
        assert_eq!(yuan.to_string(), trimmed, "{n}");
    }
    // Why the bound is not 2^53 fen: there doubles are 1/64 yuan apart and fen get lost.
    let lost = ((MAX_FEN - 1000)..=MAX_FEN)
        .filter(|n| format!("{:.2}", *n as f64 / 100.0) != hundredths(*n))
        .count();
    assert!(lost > 100, "{lost}");
}
