//! The store-and-forward dictionary reader (`client::sf::dict::scan_dict`)
//! on arbitrary bytes: it never panics, and what it returns re-encodes to
//! exactly the good prefix it reports.
#![no_main]

use libfuzzer_sys::fuzz_target;
use questdb_arrow::client::sf::dict::{encode_dict, scan_dict};

fuzz_target!(|data: &[u8]| {
    let (entries, bad) = scan_dict(data);
    let again = encode_dict(&entries);
    match bad {
        None => assert_eq!(again.as_slice(), data),
        Some((0, _)) => assert!(entries.is_empty()),
        Some((end, _)) => {
            assert!(end < data.len() || end == data.len() && data.len() < 8);
            assert_eq!(again.as_slice(), &data[..end]);
            // The good prefix reads back cleanly.
            let (same, none) = scan_dict(&data[..end]);
            assert_eq!(same, entries);
            assert!(none.is_none());
        }
    }
});
