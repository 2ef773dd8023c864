//! Option values as the driver takes them: text only, booleans as
//! `"true"` / `"false"`; the `get_option_*` answers for what is not set or
//! not text.

use adbc_core::error::{Error, Result, Status};
use adbc_core::options::OptionValue;

use crate::error::{adbc_error, invalid_argument};

/// The text of option `key`; any other value type is refused naming the
/// key.
pub(crate) fn text(key: &str, value: OptionValue) -> Result<String> {
    match value {
        OptionValue::String(s) => Ok(s),
        other => Err(invalid_argument(format!(
            "option {key:?} takes a string, got {other:?}"
        ))),
    }
}

/// The boolean of option `key` (`"true"` or `"false"`).
pub(crate) fn boolean(key: &str, value: &OptionValue) -> Result<bool> {
    bool::try_from(value).map_err(|e| invalid_argument(format!("option {key:?}: {}", e.message)))
}

/// The answer to reading an option the object does not have (or that is
/// write-only).
pub(crate) fn not_found(key: &str) -> Error {
    adbc_error(
        Status::NotFound,
        "HY092",
        format!("option {key:?} is not set or cannot be read"),
    )
}

/// `get_option_bytes` / `_int` / `_double`: every option of this driver is
/// text.
pub(crate) fn not_text(key: &str) -> Error {
    adbc_error(
        Status::NotFound,
        "HY092",
        format!("option {key:?} has no bytes, integer or double value; read it as a string"),
    )
}

/// The `get_option_bytes`, `get_option_int` and `get_option_double` of an
/// `Optionable` impl whose options are all text: each answers
/// [`not_text`].
macro_rules! text_only_getters {
    () => {
        fn get_option_bytes(&self, key: Self::Option) -> adbc_core::error::Result<Vec<u8>> {
            Err($crate::options::not_text(key.as_ref()))
        }

        fn get_option_int(&self, key: Self::Option) -> adbc_core::error::Result<i64> {
            Err($crate::options::not_text(key.as_ref()))
        }

        fn get_option_double(&self, key: Self::Option) -> adbc_core::error::Result<f64> {
            Err($crate::options::not_text(key.as_ref()))
        }
    };
}
pub(crate) use text_only_getters;
