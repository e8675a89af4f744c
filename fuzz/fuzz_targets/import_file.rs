//! A member-import file, CSV or XLSX (the first byte chooses), read and checked as an
//! upload is: no input may crash, hang or make the reader size memory from a number in
//! the file. Seeds: fuzz/seeds/import_file (the tests' files, hostile ones included).

#![no_main]

use libfuzzer_sys::fuzz_target;
use loyal::members::import::{map_headers, parse_row};
use loyal::members::import_file::read_bytes;

static QUIET: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    // The reader catches the workbook library's panics and refuses the file, as the
    // server does; libFuzzer's hook would abort on them before they are caught. A panic
    // that escapes is still a crash (libfuzzer-sys aborts on it).
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let Some((&kind, file)) = data.split_first() else {
        return;
    };
    let mut headers = None;
    read_bytes(kind % 2 == 1, file, |batch| {
        let Ok(batch) = batch else { return false };
        for (row, cells) in batch.rows {
            if cells.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            match &headers {
                None => match map_headers(&cells) {
                    Ok(h) => headers = Some(h),
                    Err(_) => return false,
                },
                Some(h) => {
                    let _ = parse_row(h, row, &cells);
                }
            }
        }
        true
    });
});
