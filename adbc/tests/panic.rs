//! A panic inside a driver exported with `adbc_ffi`'s `export_driver!`
//! (the macro `src/ffi.rs` exports ours with) does not unwind across the C
//! ABI: the exporter catches it and returns `ADBC_STATUS_INTERNAL` with the
//! panic's text. A driver whose database init panics stands in for a bug
//! (ours has no panic to trigger). It has its own test binary because the
//! exporter then marks the process's driver poisoned, and it does not use
//! this package's library, whose exported `AdbcDriverInit` would clash
//! with the one the macro defines here.

use adbc_core::Driver;
use adbc_core::error::{Result, Status};
use adbc_core::options::{AdbcVersion, OptionDatabase, OptionValue};
use adbc_driver_manager::{ManagedDatabase, ManagedDriver};
use adbc_ffi::FFI_AdbcDriverInitFunc;

#[derive(Default)]
struct PanicsOnInit;

impl Driver for PanicsOnInit {
    // Any database type does: it is never made.
    type DatabaseType = ManagedDatabase;

    fn new_database(&mut self) -> Result<Self::DatabaseType> {
        panic!("injected: new_database")
    }

    fn new_database_with_opts(
        &mut self,
        _opts: impl IntoIterator<Item = (OptionDatabase, OptionValue)>,
    ) -> Result<Self::DatabaseType> {
        panic!("injected: database init")
    }
}

adbc_ffi::export_driver!(PanicsOnInitInit, PanicsOnInit);

#[test]
fn a_panic_in_the_driver_is_an_internal_error() {
    let init: FFI_AdbcDriverInitFunc = PanicsOnInitInit;
    let mut driver = ManagedDriver::load_static(&init, AdbcVersion::V110).unwrap();
    let e = driver
        .new_database_with_opts([(OptionDatabase::Uri, "ws::addr=localhost:9000;".into())])
        .err()
        .unwrap();
    assert_eq!(e.status, Status::Internal, "{e}");
    assert!(e.message.contains("injected: database init"), "{e}");
    // The driver is poisoned from then on, with a clear error.
    let e = driver.new_database().err().unwrap();
    assert_eq!(e.status, Status::Internal, "{e}");
    assert!(e.message.contains("panicked"), "{e}");
}
