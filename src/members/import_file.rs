//! Reading a member-import file (CSV or XLSX) into rows, within limits that hold
//! whatever the file says. Nothing is sized from a number read in a file (a cell
//! reference, a declared length, a count of entries): a damaged or hostile file is
//! refused with the reason, naming the row or cell as a spreadsheet shows it, and the
//! server's memory stays bounded by the constants below.

use std::cell::Cell;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A workbook's own last column (XFD): a cell past it cannot come from a spreadsheet.
pub const MAX_COLUMNS: u32 = 16_384;
/// A workbook's own last row.
pub const MAX_XLSX_ROWS: u32 = 1_048_576;
/// Rows of a CSV file: a coalition's 46 million members fit in one file.
pub const MAX_CSV_ROWS: u64 = 50_000_000;
/// One row's text (a member's six columns take a few hundred bytes).
pub const MAX_ROW_BYTES: u64 = 64 * 1024;
/// Columns of a row kept: a member file has six; the rest is room for blank or
/// repeated ones (the header names each column kept, or leaves it blank).
pub const MAX_IMPORT_COLUMNS: usize = 64;
/// Characters in one cell: Excel's own limit.
pub const MAX_CELL_CHARS: usize = 32_767;
/// Entries in an XLSX archive (a workbook has about ten).
pub const MAX_XLSX_ENTRIES: u64 = 1_000;
/// Bytes of all an XLSX workbook's parts once decompressed (its rows for a million
/// members with their names take about 200 MiB).
pub const MAX_XLSX_UNZIPPED: u64 = 256 * 1024 * 1024;
/// Bytes of the shared-strings part decompressed: the reader holds it in memory whole.
pub const MAX_XLSX_SHARED_STRINGS: u64 = 64 * 1024 * 1024;

/// A file that cannot be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Invalid(String),
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
}

fn invalid(reason: impl Into<String>) -> FileError {
    FileError::Invalid(reason.into())
}

/// Rows of a file, in batches, with how many bytes of it were read so far.
pub struct Batch {
    /// (row number as a spreadsheet shows it, cells in file order)
    pub rows: Vec<(u64, Vec<String>)>,
    pub bytes_read: u64,
}

pub const BATCH_ROWS: usize = 1000;

/// Read a CSV or XLSX file (by extension) and call `send` with batches of rows; the
/// first row is the header. Runs on a blocking thread. `send` returns false to stop.
pub fn read_file(path: &Path, mut send: impl FnMut(Result<Batch, FileError>) -> bool) {
    let is_xlsx = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    let result = std::fs::File::open(path)
        .map_err(FileError::from)
        .and_then(|file| read(is_xlsx, file, &mut send));
    if let Err(e) = result {
        send(Err(e));
    }
}

/// [`read_file`] for a file already in memory (the fuzz targets read this way).
pub fn read_bytes(
    is_xlsx: bool,
    bytes: &[u8],
    mut send: impl FnMut(Result<Batch, FileError>) -> bool,
) {
    if let Err(e) = read(is_xlsx, std::io::Cursor::new(bytes), &mut send) {
        send(Err(e));
    }
}

fn read<R: Read + Seek>(
    is_xlsx: bool,
    input: R,
    send: &mut impl FnMut(Result<Batch, FileError>) -> bool,
) -> Result<(), FileError> {
    if is_xlsx {
        read_xlsx(input, send)
    } else {
        read_csv(input, send)
    }
}

/// Where a file's columns end: until the header (the first row with text) is read, at
/// [`MAX_IMPORT_COLUMNS`]; then after the header's last named column. Cells past it are
/// dropped, so no row holds more than that many, however many the file has.
#[derive(Default)]
struct Columns {
    width: Option<usize>,
}

impl Columns {
    fn limit(&self) -> usize {
        self.width.unwrap_or(MAX_IMPORT_COLUMNS)
    }

    /// Text in a column past the limit before the header is known: a header wider than
    /// any member file.
    fn too_wide(row: u64) -> FileError {
        invalid(format!(
            "row {row} has text past column {}; a member file has at most {MAX_IMPORT_COLUMNS} columns",
            cell_name(0, MAX_IMPORT_COLUMNS as u32 - 1).trim_end_matches('1')
        ))
    }

    /// Take a row's cells (already within the limit); the first row with text sets
    /// where the columns end.
    fn take(&mut self, row: u64, cells: Vec<String>) -> Result<Vec<String>, FileError> {
        let bytes: usize = cells.iter().map(String::len).sum();
        if bytes as u64 > MAX_ROW_BYTES {
            return Err(invalid(format!(
                "row {row} holds more than {} KiB of text; is this a member file?",
                MAX_ROW_BYTES / 1024
            )));
        }
        if self.width.is_none()
            && let Some(last) = cells.iter().rposition(|c| !c.trim().is_empty())
        {
            self.width = Some(last + 1);
        }
        Ok(cells)
    }
}

/// Is this (start of a) file UTF-8? Anything else is taken as Windows-874 / TIS-620,
/// the encoding of old Thai POS exports.
pub(crate) fn looks_utf8(sample: &[u8]) -> bool {
    match std::str::from_utf8(sample) {
        Ok(_) => true,
        // A multi-byte character cut at the end of the sample is still UTF-8.
        Err(e) => e.error_len().is_none(),
    }
}

/// Counts the bytes read through it (the import's progress).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Where [`CsvLines`] is in the CSV text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    LineStart,
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// Hands the CSV parser one record per line a spreadsheet shows, and no more than
/// [`MAX_ROW_BYTES`] of one. The parser skips blank lines, which a spreadsheet shows as
/// empty rows, so a space is put on each (the row is then blank, and skipped by the
/// checker, but counted); a quoted cell may span lines and stays one row. Without the
/// length bound the parser would grow one row to the whole file.
struct CsvLines<R> {
    inner: R,
    input: Vec<u8>,
    pos: usize,
    at: At,
    /// A space was put before the newline at `pos`.
    spaced: bool,
    row_bytes: u64,
    too_long: Rc<Cell<bool>>,
}

impl<R: Read> CsvLines<R> {
    fn new(inner: R, too_long: Rc<Cell<bool>>) -> Self {
        CsvLines {
            inner,
            input: Vec::new(),
            pos: 0,
            at: At::LineStart,
            spaced: false,
            row_bytes: 0,
            too_long,
        }
    }
}

impl<R: Read> Read for CsvLines<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.input.len() {
            self.input.resize(8 * 1024, 0);
            let n = self.inner.read(&mut self.input)?;
            self.input.truncate(n);
            self.pos = 0;
        }
        let mut n = 0;
        while n < out.len() && self.pos < self.input.len() {
            let b = self.input[self.pos];
            if b == b'\n' && self.at == At::LineStart && !self.spaced {
                out[n] = b' ';
                n += 1;
                self.spaced = true;
                continue;
            }
            self.spaced = false;
            self.at = match (self.at, b) {
                (At::Quoted, b'"') => At::QuoteInQuoted,
                (At::Quoted, _) => At::Quoted,
                (At::QuoteInQuoted, b'"') => At::Quoted,
                (_, b'\n') => At::LineStart,
                (_, b',') => At::FieldStart,
                (At::LineStart | At::FieldStart, b'"') => At::Quoted,
                _ => At::Unquoted,
            };
            if self.at == At::LineStart {
                self.row_bytes = 0;
            } else {
                self.row_bytes += 1;
                if self.row_bytes > MAX_ROW_BYTES {
                    self.too_long.set(true);
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "a row is too long",
                    ));
                }
            }
            out[n] = b;
            n += 1;
            self.pos += 1;
        }
        Ok(n)
    }
}

fn read_csv<R: Read + Seek>(
    mut input: R,
    send: &mut impl FnMut(Result<Batch, FileError>) -> bool,
) -> Result<(), FileError> {
    let mut sample = Vec::with_capacity(64 * 1024);
    (&mut input).take(64 * 1024).read_to_end(&mut sample)?;
    if sample.is_empty() {
        return Err(invalid("the file is empty"));
    }
    if sample.starts_with(b"PK\x03\x04") {
        return Err(invalid(
            "this looks like an XLSX workbook; give the file the .xlsx extension",
        ));
    }
    let encoding = if looks_utf8(&sample) {
        encoding_rs::UTF_8
    } else {
        encoding_rs::WINDOWS_874
    };
    input.seek(SeekFrom::Start(0))?;
    let count = Arc::new(AtomicU64::new(0));
    let counted = Counting {
        inner: std::io::BufReader::with_capacity(256 * 1024, input),
        count: count.clone(),
    };
    // Strips a BOM, converts Windows-874 to UTF-8 as it streams.
    let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(encoding))
        .bom_override(true)
        .build(counted);
    let too_long = Rc::new(Cell::new(false));
    // Every line ends a record, so a CR of a CRLF line is the end of its last cell,
    // which every column trims.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(CsvLines::new(decoded, too_long.clone()));
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let mut row = 0u64;
    let mut record = csv::StringRecord::new();
    let mut columns = Columns::default();
    loop {
        let more = reader.read_record(&mut record).map_err(|e| {
            let row = row + 1;
            match e.kind() {
                csv::ErrorKind::Io(_) if too_long.get() => invalid(format!(
                    "row {row} is longer than {} KiB; is this a member file?",
                    MAX_ROW_BYTES / 1024
                )),
                csv::ErrorKind::Io(_) => invalid(format!("reading row {row}: {e}")),
                _ => invalid(format!("row {row} is not valid CSV: {e}")),
            }
        })?;
        if !more {
            break;
        }
        row += 1;
        if row > MAX_CSV_ROWS {
            return Err(invalid(format!(
                "the file has more than {MAX_CSV_ROWS} rows; split it into smaller files"
            )));
        }
        let limit = columns.limit();
        if columns.width.is_none() && record.iter().skip(limit).any(|c| !c.trim().is_empty()) {
            return Err(Columns::too_wide(row));
        }
        let cells = record.iter().take(limit).map(str::to_string).collect();
        batch.push((row, columns.take(row, cells)?));
        if batch.len() == BATCH_ROWS
            && !send(Ok(Batch {
                rows: std::mem::take(&mut batch),
                bytes_read: count.load(Ordering::Relaxed),
            }))
        {
            return Ok(());
        }
    }
    if row == 0 {
        return Err(invalid("the file is empty"));
    }
    send(Ok(Batch {
        rows: batch,
        bytes_read: count.load(Ordering::Relaxed),
    }));
    Ok(())
}

/// `A1`-style name of a cell (0-based row and column), as a spreadsheet shows it.
pub fn cell_name(row: u32, column: u32) -> String {
    let mut letters = Vec::new();
    let mut n = u64::from(column) + 1;
    while n > 0 {
        n -= 1;
        letters.push(b'A' + (n % 26) as u8);
        n /= 26;
    }
    letters.reverse();
    format!(
        "{}{}",
        String::from_utf8(letters).unwrap_or_default(),
        u64::from(row) + 1
    )
}

fn cell_text(v: &calamine::DataRef<'_>) -> String {
    use calamine::DataRef;
    match v {
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        DataRef::Float(f) => f.to_string(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => s.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => {
            // Excel serial days since 1899-12-30.
            let days = d.as_f64().floor() as i64;
            jiff::Span::new()
                .try_days(days)
                .ok()
                .and_then(|span| jiff::civil::date(1899, 12, 30).checked_add(span).ok())
                .map(|d| d.to_string())
                .unwrap_or_default()
        }
        DataRef::Error(e) => format!("#{e:?}"),
        DataRef::Empty => String::new(),
    }
}

/// The most entries any zip64 end-of-archive record in the file declares. The zip
/// reader looks for its end record anywhere in the file, from the end, and reserves room
/// for as many entries as a zip64 one says before reading them (a 32-bit record says at
/// most 65,535, which is harmless); a forged one could make it ask for gigabytes.
fn zip64_entries_declared<R: Read + Seek>(input: &mut R) -> Result<u64, FileError> {
    const EOCD: &[u8] = b"PK\x05\x06";
    const ZIP64_LOCATOR: &[u8] = b"PK\x06\x07";
    const ZIP64_EOCD: &[u8] = b"PK\x06\x06";
    // A workbook has one end record; thousands are no workbook (and cost a seek each).
    const MOST_END_RECORDS: usize = 1_000;
    let u64_at = |b: &[u8], i: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(x)
    };
    let len = input.seek(SeekFrom::End(0))?;
    input.seek(SeekFrom::Start(0))?;
    let (mut most, mut found) = (0u64, 0usize);
    let mut buf = vec![0u8; 1 << 20];
    // `buf` starts at file offset `start`; its first `carry` bytes end the last chunk.
    let (mut start, mut carry) = (0u64, 0usize);
    loop {
        let n = input.read(&mut buf[carry..])?;
        let filled = carry + n;
        for at in (0..filled.saturating_sub(3)).filter(|&i| &buf[i..i + 4] == EOCD) {
            found += 1;
            if found > MOST_END_RECORDS {
                return Err(invalid(
                    "not a readable XLSX workbook: it is not a zip archive",
                ));
            }
            let at = start + at as u64;
            if at < 20 {
                continue;
            }
            let mut locator = [0u8; 20];
            input.seek(SeekFrom::Start(at - 20))?;
            input.read_exact(&mut locator)?;
            let record_at = u64_at(&locator, 8);
            if &locator[..4] == ZIP64_LOCATOR && record_at <= len.saturating_sub(56) {
                let mut record = [0u8; 56];
                input.seek(SeekFrom::Start(record_at))?;
                input.read_exact(&mut record)?;
                if &record[..4] == ZIP64_EOCD {
                    most = most.max(u64_at(&record, 24)).max(u64_at(&record, 32));
                }
            }
        }
        if n == 0 {
            return Ok(most);
        }
        // Keep the last three bytes: a signature may begin there.
        let keep = filled.min(3);
        buf.copy_within(filled - keep..filled, 0);
        start += (filled - keep) as u64;
        carry = keep;
        input.seek(SeekFrom::Start(start + keep as u64))?;
    }
}

/// Check a workbook's archive before its parts are parsed: how many entries it has
/// and how big each is once decompressed (a zip bomb of a few hundred kilobytes can
/// hold gigabytes), by decompressing every entry into nothing.
fn check_workbook<R: Read + Seek>(input: &mut R) -> Result<(), FileError> {
    let too_big = || {
        invalid(format!(
            "the workbook is larger than {} MiB once unzipped; save it as CSV (UTF-8) and import that",
            MAX_XLSX_UNZIPPED / (1024 * 1024)
        ))
    };
    let too_many = || {
        invalid(format!(
            "the workbook has more than {MAX_XLSX_ENTRIES} parts; is it a spreadsheet?"
        ))
    };
    if zip64_entries_declared(input)? > MAX_XLSX_ENTRIES {
        return Err(too_many());
    }
    input.seek(SeekFrom::Start(0))?;
    let mut archive = zip::ZipArchive::new(&mut *input)
        .map_err(|e| invalid(format!("not a readable XLSX workbook: {e}")))?;
    if archive.len() as u64 > MAX_XLSX_ENTRIES {
        return Err(too_many());
    }
    let mut unzipped = 0u64;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| invalid(format!("not a readable XLSX workbook: {e}")))?;
        let shared_strings = entry
            .name()
            .to_ascii_lowercase()
            .ends_with("sharedstrings.xml");
        let room = if shared_strings {
            MAX_XLSX_SHARED_STRINGS.min(MAX_XLSX_UNZIPPED - unzipped)
        } else {
            MAX_XLSX_UNZIPPED - unzipped
        };
        let name = entry.name().to_ascii_lowercase();
        let mut part = Counting {
            inner: (&mut entry).take(room + 1),
            count: Arc::new(AtomicU64::new(0)),
        };
        if name.starts_with("xl/worksheets/") && name.ends_with(".xml") {
            check_references(&mut part)?;
        }
        std::io::copy(&mut part, &mut std::io::sink())
            .map_err(|e| invalid(format!("not a readable XLSX workbook: {e}")))?;
        let n = part.count.load(Ordering::Relaxed);
        if n > room {
            return Err(if shared_strings && n > MAX_XLSX_SHARED_STRINGS {
                invalid(format!(
                    "the workbook's text is larger than {} MiB once unzipped; save it as CSV (UTF-8) and import that",
                    MAX_XLSX_SHARED_STRINGS / (1024 * 1024)
                ))
            } else {
                too_big()
            });
        }
        unzipped += n;
    }
    Ok(())
}

/// Read a worksheet's XML and refuse any row number or cell reference (a cell's `r`,
/// a row's `r`, a range's `ref`) past a workbook's last column (XFD) or row: the
/// workbook reader would overflow on one. Stops early at a malformed part, which the
/// workbook reader then refuses with its own words.
fn check_references(part: &mut impl Read) -> Result<(), FileError> {
    use quick_xml::events::Event;
    let outside = |value: &[u8]| {
        invalid(format!(
            "the sheet refers to {:?}, outside a workbook's columns A to XFD and rows 1 to {MAX_XLSX_ROWS}; the file is damaged",
            String::from_utf8_lossy(&value[..value.len().min(20)])
        ))
    };
    let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(part));
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let element = match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => e,
            Ok(Event::Eof) | Err(_) => return Ok(()),
            Ok(_) => continue,
        };
        let is_row = element.local_name().as_ref() == b"row";
        for attribute in element.attributes().flatten() {
            let value = attribute.value.as_ref();
            let ok = match attribute.key.local_name().as_ref() {
                b"r" if is_row => row_number(value).is_some(),
                b"r" => cell_reference(value),
                b"ref" => value.split(|b| *b == b':').all(|part| {
                    cell_reference(part) || column_letters(part) || row_number(part).is_some()
                }),
                _ => true,
            };
            if !ok {
                return Err(outside(value));
            }
        }
    }
}

/// `1` to `1048576`.
fn row_number(digits: &[u8]) -> Option<u32> {
    let digits = digits.strip_prefix(b"$").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 7 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    (1..=MAX_XLSX_ROWS).contains(&n).then_some(n)
}

/// `A` to `XFD`.
fn column_letters(letters: &[u8]) -> bool {
    let letters = letters.strip_prefix(b"$").unwrap_or(letters);
    if letters.is_empty() || letters.len() > 3 || !letters.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    let n = letters.iter().fold(0u32, |n, l| {
        n * 26 + u32::from(l.to_ascii_uppercase() - b'A' + 1)
    });
    n <= MAX_COLUMNS
}

/// `A1` to `XFD1048576`, with `$` before either part.
fn cell_reference(r: &[u8]) -> bool {
    let r = r.strip_prefix(b"$").unwrap_or(r);
    let split = r
        .iter()
        .position(|b| !b.is_ascii_alphabetic())
        .unwrap_or(r.len());
    column_letters(&r[..split]) && row_number(&r[split..]).is_some()
}

fn read_xlsx<R: Read + Seek>(
    mut input: R,
    send: &mut impl FnMut(Result<Batch, FileError>) -> bool,
) -> Result<(), FileError> {
    check_workbook(&mut input)?;
    input.seek(SeekFrom::Start(0))?;
    // The workbook reader can panic on a damaged file (a shared string it does not
    // have is an index out of bounds): the file is refused, the server goes on.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_sheet(input, send)))
        .unwrap_or_else(|_| {
            Err(invalid(
                "not a readable XLSX workbook: it is damaged; save it again from the spreadsheet, or as CSV (UTF-8)",
            ))
        })
}

fn read_sheet<R: Read + Seek>(
    input: R,
    send: &mut impl FnMut(Result<Batch, FileError>) -> bool,
) -> Result<(), FileError> {
    use calamine::Reader;
    let bytes_total = {
        let mut input = input;
        let len = input.seek(SeekFrom::End(0))?;
        input.seek(SeekFrom::Start(0))?;
        (len, input)
    };
    let (bytes_total, input) = bytes_total;
    let mut book = calamine::Xlsx::new(input)
        .map_err(|e| invalid(format!("not a readable XLSX workbook: {e}")))?;
    let sheet = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| invalid("the workbook has no sheet"))?;
    let mut cells = book
        .worksheet_cells_reader(&sheet)
        .map_err(|e| invalid(format!("reading sheet {sheet:?}: {e}")))?;
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let mut current: Option<(u32, Vec<String>)> = None;
    let mut rows_seen = 0u64;
    let mut columns = Columns::default();
    // The text the row being read holds so far (its cells are kept as they come).
    let mut row_bytes = 0usize;
    while let Some(cell) = cells
        .next_cell()
        .map_err(|e| invalid(format!("reading sheet {sheet:?}: {e}")))?
    {
        let (r, c) = cell.get_position();
        if r >= MAX_XLSX_ROWS || c >= MAX_COLUMNS {
            return Err(invalid(format!(
                "the sheet has a cell outside a workbook's columns A to XFD and rows 1 to {MAX_XLSX_ROWS}; the file is damaged"
            )));
        }
        if let Some((cr, done)) = current.take_if(|(cr, _)| *cr != r) {
            let row = u64::from(cr) + 1;
            batch.push((row, columns.take(row, done)?));
            row_bytes = 0;
            rows_seen += 1;
            if batch.len() >= BATCH_ROWS
                && !send(Ok(Batch {
                    rows: std::mem::take(&mut batch),
                    bytes_read: 0,
                }))
            {
                return Ok(());
            }
        }
        if c as usize >= columns.limit() {
            // Dropped unread, but for text past the limit before the header is known.
            if columns.width.is_none() && !cell_text(cell.get_value()).trim().is_empty() {
                return Err(Columns::too_wide(u64::from(r) + 1));
            }
            continue;
        }
        let text = cell_text(cell.get_value());
        if text.len() > MAX_CELL_CHARS && text.chars().count() > MAX_CELL_CHARS {
            return Err(invalid(format!(
                "cell {} holds {} characters; a cell holds at most {MAX_CELL_CHARS}",
                cell_name(r, c),
                text.chars().count()
            )));
        }
        // A row's cells are held until it ends: refused once they pass the row's text.
        row_bytes += text.len();
        if row_bytes as u64 > MAX_ROW_BYTES {
            return Err(invalid(format!(
                "row {} holds more than {} KiB of text; is this a member file?",
                u64::from(r) + 1,
                MAX_ROW_BYTES / 1024
            )));
        }
        let entry = current.get_or_insert_with(|| (r, Vec::new()));
        let c = c as usize;
        if entry.1.len() <= c {
            entry.1.resize(c + 1, String::new());
        }
        entry.1[c] = text;
    }
    if let Some((r, cells)) = current.take() {
        let row = u64::from(r) + 1;
        batch.push((row, columns.take(row, cells)?));
        rows_seen += 1;
    }
    if rows_seen == 0 {
        return Err(invalid("the sheet is empty"));
    }
    send(Ok(Batch {
        rows: batch,
        bytes_read: bytes_total,
    }));
    Ok(())
}

/// A value from an imported file as a spreadsheet will show it, never run it: a cell
/// starting with `=`, `+`, `-`, `@` or a control character is a formula to a
/// spreadsheet (`=HYPERLINK(…)`), so it is written after a `'`, which shows as text.
pub fn spreadsheet_text(value: &str) -> String {
    // A plain number (a negative balance) is shown as a number, never run.
    if value.trim().parse::<f64>().is_ok() {
        return value.to_string();
    }
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n') => format!("'{value}"),
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_detection_tolerates_a_cut_character() {
        let thai = "ชื่อ".as_bytes();
        assert!(looks_utf8(&thai[..thai.len() - 1]));
        assert!(
            !looks_utf8(&[0xca, 0xc1, 0xb7, 0xd2, 0xc2]),
            "Windows-874 bytes"
        );
    }

    #[test]
    fn values_written_for_a_spreadsheet_are_never_formulas() {
        assert_eq!(spreadsheet_text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(
            spreadsheet_text("-5+cmd|' /C calc'!A0"),
            "'-5+cmd|' /C calc'!A0"
        );
        assert_eq!(spreadsheet_text("-5"), "-5", "a number stays a number");
        assert_eq!(spreadsheet_text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_text("0812345678"), "0812345678");
        assert_eq!(spreadsheet_text("สมชาย"), "สมชาย");
    }

    #[test]
    fn references_past_a_workbooks_edges_are_found() {
        for good in ["A1", "XFD1048576", "$B$7", "z9"] {
            assert!(cell_reference(good.as_bytes()), "{good}");
        }
        for bad in [
            "XFE1", "A1048577", "ZZZZZZZ1", "LZZZZZZ2", "A0", "1A", "", "A", "A-1", "AAAA1",
        ] {
            assert!(!cell_reference(bad.as_bytes()), "{bad}");
        }
        assert_eq!(row_number(b"1048576"), Some(1_048_576));
        assert_eq!(row_number(b"99999999999"), None);
        let sheet = |cell: &str| {
            format!(
                r#"<worksheet><sheetData><row r="2"><c r="{cell}"><v>1</v></c></row></sheetData></worksheet>"#
            )
        };
        assert!(check_references(&mut sheet("B2").as_bytes()).is_ok());
        let e = check_references(&mut sheet("ZZZZZZZ2").as_bytes()).unwrap_err();
        assert!(e.to_string().contains("\"ZZZZZZZ2\", outside"), "{e}");
        let range = r#"<worksheet><dimension ref="A1:XFE2"/></worksheet>"#;
        assert!(check_references(&mut range.as_bytes()).is_err());
    }

    #[test]
    fn a_forged_zip64_end_record_anywhere_in_the_file_is_found() {
        // Junk, a zip64 end record declaring 2^40 entries and its locator, then a
        // broken 32-bit end record at the tail (the zip reader skips it and goes on).
        let mut file = vec![0u8; 3 << 20];
        let record_at = (1 << 20) + 7;
        file[record_at..record_at + 4].copy_from_slice(b"PK\x06\x06");
        file[record_at + 32..record_at + 40].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let locator_at = (2 << 20) - 1;
        file[locator_at..locator_at + 4].copy_from_slice(b"PK\x06\x07");
        file[locator_at + 8..locator_at + 16].copy_from_slice(&(record_at as u64).to_le_bytes());
        file[locator_at + 20..locator_at + 24].copy_from_slice(b"PK\x05\x06");
        let tail = file.len() - 22;
        file[tail..tail + 4].copy_from_slice(b"PK\x05\x06");
        file[tail + 20] = 0xff;
        let mut cursor = std::io::Cursor::new(&file);
        assert_eq!(zip64_entries_declared(&mut cursor).unwrap(), 1 << 40);
        let e = check_workbook(&mut cursor).unwrap_err();
        assert!(e.to_string().contains("more than 1000 parts"), "{e}");
    }

    #[test]
    fn cells_are_named_as_a_spreadsheet_names_them() {
        assert_eq!(cell_name(0, 0), "A1");
        assert_eq!(cell_name(6, 25), "Z7");
        assert_eq!(cell_name(0, 26), "AA1");
        assert_eq!(cell_name(1, MAX_COLUMNS - 1), "XFD2");
    }

    fn rows_of(csv: &str) -> Result<Vec<(u64, Vec<String>)>, String> {
        let mut rows = vec![];
        let mut error = None;
        read_bytes(false, csv.as_bytes(), |b| {
            match b {
                Ok(b) => rows.extend(b.rows),
                Err(e) => error = Some(e.to_string()),
            }
            true
        });
        error.map_or(Ok(rows), Err)
    }

    #[test]
    fn csv_rows_are_numbered_as_a_spreadsheet_shows_them() {
        // Blank rows are read (and skipped by the checker), so the rows after them keep
        // their numbers; a quoted cell over two lines is one row.
        let numbered = |csv: &str| -> Vec<(u64, String)> {
            let rows = rows_of(csv).unwrap();
            rows.into_iter()
                .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()))
                .map(|(n, cells)| (n, cells[0].trim().to_string()))
                .collect()
        };
        let rows = numbered("phone\n\n0811\n\n\n0822\n\"two\nlines\"\n0833\n");
        let expected = [
            (1, "phone"),
            (3, "0811"),
            (6, "0822"),
            (7, "two\nlines"),
            (8, "0833"),
        ];
        assert_eq!(rows, expected.map(|(n, c)| (n, c.to_string())));
        let rows = numbered("\r\nphone\r\n\"0811\"\r\n\r\n0822");
        let expected = [(2, "phone"), (3, "0811"), (5, "0822")];
        assert_eq!(rows, expected.map(|(n, c)| (n, c.to_string())));
    }

    #[test]
    fn rows_keep_the_headers_columns_and_no_more() {
        // A header of two columns: a data row's 60,000 extra cells are dropped.
        let csv = format!("phone,full_name\n0811111111,Mali{}\n", ",x".repeat(20_000));
        let rows = rows_of(&csv).unwrap();
        assert_eq!(
            rows[1].1,
            vec!["0811111111".to_string(), "Mali".to_string()]
        );
        // A header past 64 columns is no member file.
        let wide = format!("phone{}x\n", ",".repeat(70));
        let e = rows_of(&wide).unwrap_err();
        assert!(e.contains("row 1 has text past column BL"), "{e}");
    }

    #[test]
    fn a_csv_row_without_end_is_refused_not_held() {
        let long = format!("phone\n0811111111\n{}", "x".repeat(1024 * 1024));
        let e = rows_of(&long).unwrap_err();
        assert!(e.contains("row 3 is longer than 64 KiB"), "{e}");
        let many = format!("phone\n{}\n", ",".repeat(200_000));
        let e = rows_of(&many).unwrap_err();
        assert!(e.contains("row 2 is longer"), "{e}");
    }
}
