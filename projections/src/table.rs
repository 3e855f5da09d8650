//! Report tables: one shape, four renderings (JSON, CSV, Excel, terminal text).
//!
//! A [`Table`] is a title, provenance lines (the *stamp*: log size, checkpoint, …) that must travel
//! with every copy of the report, bilingual column headers and typed cells. Money is integer fen
//! and scores integer hundredths everywhere; only the last step turns them into text or numbers.
//!
//! # JSON ([`Table::to_json`])
//!
//! `{"title": …, "stamp": {key: value, …}, "columns": [{"key": …, "header": …}, …],
//! "rows": [{key: value, …}, …]}`. Fen, points (hundredths) and integers are JSON integers, never
//! floats (beyond ±(2^53 − 1), which no ledger amount reaches, JavaScript readers would round
//! them); an empty cell is `null`. `columns` keeps the column order and the human headers, which
//! the row objects cannot. A stamp key given twice keeps its last value ([`Table::check`] refuses
//! duplicate column keys for the same reason).
//!
//! # CSV ([`Table::to_csv`])
//!
//! RFC 4180 (CRLF line ends, fields with `,` `"` or line breaks quoted), UTF-8 with a byte-order
//! mark: without it Excel on Chinese Windows decodes the file as GBK and garbles every header.
//! Layout, chosen so that a spreadsheet shows the provenance above the table and a program can
//! skip it with one setting:
//!
//! ```text
//! #,<title>
//! #,<stamp key>,<first line of the value>
//! #,,<next line of the same value>        (one record per line of a multi-line value)
//! <header>,<header>,…
//! <cell>,<cell>,…
//! ```
//!
//! Every provenance record starts with a bare `#` field at the start of a line, while a header
//! or cell that starts with `#` is quoted; so a reader that skips comment lines at record starts
//! (the `csv` crate's `comment(Some(b'#'))`) sees exactly the header and the data. Readers must
//! drop the BOM first (Python's `utf-8-sig` does, the `csv` crate does not). A multi-line value
//! takes one record per line because a comment ends at the line break whatever the quotes
//! say; joining the lines with `\n` gives the value back exactly. Line breaks in the title and
//! in stamp keys become spaces. Fen and points are exact decimals (`1234.05`, `-0.50`); an empty
//! cell is an empty field, as is empty text.
//!
//! Known limits of CSV in spreadsheets, which the format cannot express: Excel keeps 15
//! significant digits of a number, and treats text that starts with `=`, `+`, `-` or `@` as a
//! formula. Use the `.xlsx` for anything beyond a quick look; it has neither problem.
//!
//! # Excel ([`Table::write_xlsx`])
//!
//! One worksheet: the title, the stamp (key in column A, one row per line of the value in
//! column B), a blank row, the bold header row (frozen, and repeated on printed pages), then the
//! data. See [`XLSX_EXACT_MAX`] for how money stays exact.
//!
//! # Text ([`Table::to_text`])
//!
//! Title and stamp lines, a blank line, then columns padded to equal display width (CJK counts
//! two columns), numbers right-aligned. Control and bidi-override characters from the data are
//! replaced so they cannot move the cursor or reorder what an inspector reads.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};
use serde_json::{Map, Value};
use unicode_width::UnicodeWidthStr;

/// One cell of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// Money in fen (1 yuan = 100 fen).
    Fen(i64),
    /// A score in hundredths of a point.
    Points(i64),
    Empty,
}

impl Cell {
    /// The exact text CSV and the terminal show: fen and points as two-decimal strings made
    /// with integer arithmetic, so no amount ever passes through floating point.
    pub fn plain(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Fen(n) | Cell::Points(n) => hundredths(*n),
            Cell::Empty => String::new(),
        }
    }

    fn json(&self) -> Value {
        match self {
            Cell::Text(s) => Value::String(s.clone()),
            // From<i64> makes a JSON integer: no float can appear for money or scores.
            Cell::Int(n) | Cell::Fen(n) | Cell::Points(n) => Value::from(*n),
            Cell::Empty => Value::Null,
        }
    }

    fn is_number(&self) -> bool {
        matches!(self, Cell::Int(_) | Cell::Fen(_) | Cell::Points(_))
    }
}

/// `-50` → `"-0.50"`, `123405` → `"1234.05"`: an integer count of hundredths as an exact
/// decimal. `unsigned_abs` keeps `i64::MIN` from overflowing.
pub fn hundredths(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    let abs = n.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// One column: `key` names it in JSON, `header` is what people read (e.g. `干部 / Cadre`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub key: &'static str,
    pub header: String,
}

/// A report: title, provenance lines, columns and rows of cells.
///
/// Every row should have one cell per column ([`Table::check`]). The infallible renderings
/// show a missing cell as empty and leave out cells beyond the last column;
/// [`Table::write_xlsx`], which can refuse, refuses such a table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub title: String,
    /// Provenance printed on the report, in order: `("log size", "1200")`,
    /// `("checkpoint", "<signed note text>")`. Values may span lines; keys should not be empty,
    /// since an empty key marks a continuation line in CSV and Excel.
    pub stamp: Vec<(String, String)>,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableError {
    /// A row does not have one cell per column: a bug in the report that built it.
    Ragged {
        row: usize,
        cells: usize,
        columns: usize,
    },
    /// Two columns share a JSON key, so one would hide the other.
    DuplicateKey(&'static str),
    /// The spreadsheet could not be built or saved (limits, disk, permissions).
    Xlsx(String),
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::Ragged {
                row,
                cells,
                columns,
            } => write!(
                f,
                "报表第 {row} 行有 {cells} 个单元格，应为 {columns} 个 / report row {row} has {cells} cells, expected {columns}"
            ),
            TableError::DuplicateKey(key) => {
                write!(f, "报表列名重复 / report column key repeated: {key}")
            }
            TableError::Xlsx(why) => {
                write!(
                    f,
                    "无法写出 Excel 文件 / could not write the Excel file: {why}"
                )
            }
        }
    }
}

impl std::error::Error for TableError {}

impl From<XlsxError> for TableError {
    fn from(e: XlsxError) -> Self {
        TableError::Xlsx(e.to_string())
    }
}

/// The largest magnitude (fen, hundredths or plain integer) written to Excel as a number.
///
/// Excel cells are IEEE doubles, so fen are written as yuan (`fen / 100`). That is exact only
/// while the double nearest `fen / 100` prints back as the same two decimals *and* the
/// spreadsheet shows it unchanged. It is NOT true up to 2^53 fen: above 2^46 yuan doubles are
/// 1/64 apart, and about a third of the amounts near 2^53 fen come back with the wrong fen.
/// Excel keeps 15 significant digits, and LibreOffice already shows 9,999,999,999,999.99 as
/// 10,000,000,000,000.00, so the bound is 14 digits (999,999,999,999.99 yuan, where doubles
/// are under 0.0002 apart). Larger values are written as their exact decimal text,
/// right-aligned: no real amount comes near, and a cell that does not sum is better than a
/// wrong fen. Yuan rather than integer fen because cadres read and sum yuan.
pub const XLSX_EXACT_MAX: u64 = 99_999_999_999_999;

impl Table {
    /// Refuses rows without exactly one cell per column, and repeated column keys.
    pub fn check(&self) -> Result<(), TableError> {
        let mut keys = BTreeSet::new();
        for column in &self.columns {
            if !keys.insert(column.key) {
                return Err(TableError::DuplicateKey(column.key));
            }
        }
        for (row, cells) in self.rows.iter().enumerate() {
            if cells.len() != self.columns.len() {
                return Err(TableError::Ragged {
                    row,
                    cells: cells.len(),
                    columns: self.columns.len(),
                });
            }
        }
        Ok(())
    }

    /// The cells of one row, exactly one per column.
    fn cells<'a>(&'a self, row: &'a [Cell]) -> impl Iterator<Item = &'a Cell> + 'a {
        (0..self.columns.len()).map(move |i| row.get(i).unwrap_or(&Cell::Empty))
    }

    pub fn to_json(&self) -> Value {
        let stamp: Map<String, Value> = self
            .stamp
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let columns: Vec<Value> = self
            .columns
            .iter()
            .map(|c| serde_json::json!({"key": c.key, "header": c.header}))
            .collect();
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let object: Map<String, Value> = self
                    .columns
                    .iter()
                    .zip(self.cells(row))
                    .map(|(column, cell)| (column.key.to_string(), cell.json()))
                    .collect();
                Value::Object(object)
            })
            .collect();
        serde_json::json!({
            "title": self.title,
            "stamp": stamp,
            "columns": columns,
            "rows": rows,
        })
    }

    /// The CSV described in the module documentation, BOM first.
    pub fn to_csv(&self) -> String {
        match self.csv_bytes() {
            // Every field is a &str, so the bytes are UTF-8; lossy only to avoid a panic path.
            Ok(bytes) => format!("\u{feff}{}", String::from_utf8_lossy(&bytes)),
            // Writing to memory cannot fail; should it ever, say so in the file, not silently.
            Err(e) => format!("\u{feff}#,导出失败 / export failed: {e}\r\n"),
        }
    }

    fn csv_bytes(&self) -> Result<Vec<u8>, csv::Error> {
        // Two writers over one buffer: the provenance records must start with a bare `#`,
        // while the table's writer quotes any field that starts with one.
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            // The title record has 2 fields, stamp records 3.
            .flexible(true)
            .from_writer(Vec::new());
        w.write_record(["#", &one_line(&self.title)])?;
        for (key, value) in &self.stamp {
            let key = one_line(key);
            for (i, line) in value.split('\n').enumerate() {
                let key = if i == 0 { key.as_str() } else { "" };
                w.write_record(["#", key, line])?;
            }
        }
        let buffer = w
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))?;

        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .comment(Some(b'#'))
            .from_writer(buffer);
        if !self.columns.is_empty() {
            w.write_record(self.columns.iter().map(|c| c.header.as_str()))?;
            for row in &self.rows {
                w.write_record(self.cells(row).map(Cell::plain))?;
            }
        }
        w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
    }

    /// Writes the report as one worksheet at `path` (see the module documentation).
    pub fn write_xlsx(&self, path: &Path) -> Result<(), TableError> {
        self.check()?;
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.set_name(sheet_name(&self.title))?;
        self.fill_sheet(sheet)?;
        workbook.save(path)?;
        Ok(())
    }

    fn fill_sheet(&self, sheet: &mut Worksheet) -> Result<(), TableError> {
        let title = Format::new().set_bold().set_font_size(14);
        let key = Format::new().set_bold();
        let header = Format::new()
            .set_bold()
            .set_text_wrap()
            .set_border_bottom(FormatBorder::Thin);
        let header_number = header.clone().set_align(FormatAlign::Right);
        // Data cells sit at the top, so a row made tall by a multi-line cell still reads across.
        let top = Format::new().set_align(FormatAlign::Top);
        // Thousands separators: cadres read amounts in the millions.
        let yuan = top.clone().set_num_format("#,##0.00");
        let points = top.clone().set_num_format("0.00");
        let integer = top.clone().set_num_format("0");
        let exact_text = top.clone().set_align(FormatAlign::Right);
        let wrap = top.clone().set_text_wrap();

        sheet.write_string_with_format(0, 0, &self.title, &title)?;
        let mut r: u32 = 1;
        for (k, value) in &self.stamp {
            sheet.write_string_with_format(r, 0, k, &key)?;
            for line in value.split('\n') {
                sheet.write_string(r, 1, line)?;
                r = next_row(r)?;
            }
        }
        if self.columns.is_empty() {
            return Ok(());
        }
        let header_row = next_row(r)?; // one blank row between the stamp and the table
        let numeric = self.numeric_columns();
        for (c, (column, right)) in self.columns.iter().zip(numeric).enumerate() {
            let format = if right { &header_number } else { &header };
            sheet.write_string_with_format(header_row, col_num(c)?, &column.header, format)?;
        }
        let lines = self.columns.iter().map(|c| c.header.split('\n').count());
        if let Some(lines) = lines.max().filter(|n| *n > 1) {
            sheet.set_row_height(header_row, ROW_HEIGHT * lines as f64)?;
        }
        // Excel can only freeze the rows above a line, so the stamp stays in view too.
        sheet.set_freeze_panes(next_row(header_row)?, 0)?;
        sheet.set_repeat_rows(header_row, header_row)?;
        // Reports are printed on A4 (paper size 9), and a table cut across pages is misread.
        sheet
            .set_paper_size(9)
            .set_landscape()
            .set_print_fit_to_pages(1, 0);

        let mut r = header_row;
        for row in &self.rows {
            r = next_row(r)?;
            // Spreadsheets do not grow rows for wrapped text on opening; give them the height.
            let lines = self.cells(row).map(line_count).max().unwrap_or(1);
            if lines > 1 {
                sheet.set_row_height(r, ROW_HEIGHT * lines as f64)?;
            }
            for (c, cell) in self.cells(row).enumerate() {
                let c = col_num(c)?;
                match cell {
                    // Never a formula: text that starts with `=` stays text.
                    Cell::Text(s) if s.contains('\n') => {
                        // Without wrapping, a spreadsheet shows one line of it.
                        sheet.write_string_with_format(r, c, s, &wrap)?;
                    }
                    Cell::Text(s) => {
                        sheet.write_string_with_format(r, c, s, &top)?;
                    }
                    Cell::Int(n) | Cell::Fen(n) | Cell::Points(n) => {
                        if n.unsigned_abs() > XLSX_EXACT_MAX {
                            sheet.write_string_with_format(r, c, cell.plain(), &exact_text)?;
                        } else {
                            // Exact: |n| < 10^14 < 2^53 converts without loss, and one
                            // correctly rounded division gives the double nearest n/100,
                            // which prints back as the same two decimals (XLSX_EXACT_MAX).
                            let (value, format) = match cell {
                                Cell::Fen(_) => (*n as f64 / 100.0, &yuan),
                                Cell::Points(_) => (*n as f64 / 100.0, &points),
                                _ => (*n as f64, &integer),
                            };
                            sheet.write_number_with_format(r, c, value, format)?;
                        }
                    }
                    Cell::Empty => {}
                }
            }
        }

        for (c, width) in self.xlsx_widths().into_iter().enumerate() {
            sheet.set_column_width(col_num(c)?, width)?;
        }
        Ok(())
    }

    /// Column widths in Excel's character units, from display widths (CJK counts two, as it
    /// does in Excel). Column A also holds the stamp keys; the stamp values overflow to the
    /// right and are left out.
    fn xlsx_widths(&self) -> Vec<f64> {
        let mut widths: Vec<usize> = self
            .columns
            .iter()
            .map(|c| c.header.split('\n').map(str::width).max().unwrap_or(0))
            .collect();
        for row in &self.rows {
            for (c, cell) in self.cells(row).enumerate() {
                let text = cell.plain();
                // Room for the thousands separators the yuan format adds.
                let extra = if matches!(cell, Cell::Fen(_)) {
                    text.len() / 3
                } else {
                    0
                };
                let w = text.split('\n').map(str::width).max().unwrap_or(0) + extra;
                if let Some(slot) = widths.get_mut(c) {
                    *slot = (*slot).max(w);
                }
            }
        }
        if let Some(first) = widths.first_mut() {
            for (k, _) in &self.stamp {
                *first = (*first).max(k.width());
            }
        }
        widths
            .into_iter()
            .map(|w| (w + 2).clamp(6, 60) as f64)
            .collect()
    }

    /// Columns whose cells are all numbers or empty (with at least one number): right-aligned.
    fn numeric_columns(&self) -> Vec<bool> {
        (0..self.columns.len())
            .map(|c| {
                let cells = || self.rows.iter().filter_map(|row| row.get(c));
                cells().any(Cell::is_number)
                    && cells().all(|cell| cell.is_number() || *cell == Cell::Empty)
            })
            .collect()
    }

    /// An aligned plain-text rendering for terminals (see the module documentation).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        out.push_str(&terminal_safe(&one_line(&self.title)));
        out.push('\n');
        // Values start in one column, under each other, as on a printed form.
        let keys: Vec<String> = self
            .stamp
            .iter()
            .map(|(key, _)| terminal_safe(&one_line(key)))
            .collect();
        let key_width = keys.iter().map(|k| k.width()).max().unwrap_or(0);
        let indent = " ".repeat(key_width + 2);
        for (key, (_, value)) in keys.iter().zip(&self.stamp) {
            for (i, line) in text_lines(value).iter().enumerate() {
                if i == 0 {
                    out.push_str(key);
                    out.push(':');
                    out.push_str(&" ".repeat(key_width - key.width() + 1));
                } else if !line.is_empty() {
                    out.push_str(&indent);
                }
                out.push_str(line);
                out.push('\n');
            }
        }
        if self.columns.is_empty() {
            return out;
        }
        out.push('\n');

        let numeric = self.numeric_columns();
        let header: Vec<(Vec<String>, bool)> = self
            .columns
            .iter()
            .zip(&numeric)
            .map(|(column, right)| (text_lines(&column.header), *right))
            .collect();
        let body: Vec<Vec<(Vec<String>, bool)>> = self
            .rows
            .iter()
            .map(|row| {
                self.cells(row)
                    .map(|cell| (text_lines(&cell.plain()), cell.is_number()))
                    .collect()
            })
            .collect();
        let mut widths = vec![0usize; self.columns.len()];
        for row in std::iter::once(&header).chain(&body) {
            for (slot, (lines, _)) in widths.iter_mut().zip(row) {
                for line in lines {
                    *slot = (*slot).max(line.width());
                }
            }
        }

        push_grid_row(&mut out, &header, &widths);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&rule.join("  "));
        out.push('\n');
        for row in &body {
            push_grid_row(&mut out, row, &widths);
        }
        out
    }
}

/// Appends one table row, as many lines tall as its tallest cell, every line padded to the
/// full width so that all lines of the table have the same display width.
fn push_grid_row(out: &mut String, row: &[(Vec<String>, bool)], widths: &[usize]) {
    let height = row.iter().map(|(lines, _)| lines.len()).max().unwrap_or(1);
    for i in 0..height {
        let parts: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|((lines, right), width)| {
                let line = lines.get(i).map_or("", String::as_str);
                let pad = " ".repeat(width.saturating_sub(line.width()));
                if *right {
                    format!("{pad}{line}")
                } else {
                    format!("{line}{pad}")
                }
            })
            .collect();
        out.push_str(&parts.join("  "));
        out.push('\n');
    }
}

/// A cell's text as terminal-safe lines (a trailing `\r` of a CRLF line end dropped).
fn text_lines(s: &str) -> Vec<String> {
    s.split('\n')
        .map(|line| terminal_safe(line.strip_suffix('\r').unwrap_or(line)))
        .collect()
}

/// Tabs become spaces; control characters and bidi overrides become U+FFFD, so data cannot
/// send escape sequences to the terminal, reorder text, or break the alignment.
fn terminal_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' => ' ',
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => '\u{fffd}',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// Line breaks in a one-line field (title, stamp key) become spaces.
fn one_line(s: &str) -> String {
    s.replace("\r\n", " ").replace(['\r', '\n'], " ")
}

/// The title as an Excel sheet name: at most 31 characters, none of `[]:*?/\`, no control
/// characters, no apostrophe at either end, not blank and not Excel's reserved "History".
fn sheet_name(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .map(|c| {
            if c.is_control() || "[]:*?/\\".contains(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    // "帮扶 / Funds" reads better as "帮扶 Funds" than with a gap of three spaces.
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let joined: String = words.join(" ").chars().take(31).collect();
    let name = joined.trim_matches(|c: char| c == '\'' || c.is_whitespace());
    if name.is_empty() || name.eq_ignore_ascii_case("history") {
        "Report".to_string()
    } else {
        name.to_string()
    }
}

/// Excel's default row height in points, for the 11-point default font.
const ROW_HEIGHT: f64 = 15.0;

fn line_count(cell: &Cell) -> usize {
    match cell {
        Cell::Text(s) => s.split('\n').count(),
        _ => 1,
    }
}

fn next_row(r: u32) -> Result<u32, TableError> {
    r.checked_add(1)
        .ok_or_else(|| TableError::Xlsx("行数过多 / too many rows".to_string()))
}

fn col_num(c: usize) -> Result<u16, TableError> {
    u16::try_from(c).map_err(|_| TableError::Xlsx("列数过多 / too many columns".to_string()))
}
