//! The fixed-width number setters of [`Buffer`].

use std::net::Ipv4Addr;

use super::super::column::{Kind, Vals};
use super::Buffer;
use crate::error::Result;

impl Buffer {
    /// A BYTE value.
    pub fn column_i8(&mut self, name: &str, value: i8) -> Result<&mut Buffer> {
        self.put(name, Kind::Byte, 1, |c| {
            if let Vals::I8(v) = &mut c.vals {
                v.push(value);
            }
            c.pushed();
            Ok(0)
        })
    }

    /// A SHORT value.
    pub fn column_i16(&mut self, name: &str, value: i16) -> Result<&mut Buffer> {
        self.put(name, Kind::Short, 2, |c| {
            if let Vals::I16(v) = &mut c.vals {
                v.push(value);
            }
            c.pushed();
            Ok(0)
        })
    }

    /// An INT value.
    pub fn column_i32(&mut self, name: &str, value: i32) -> Result<&mut Buffer> {
        self.put(name, Kind::Int, 4, |c| {
            if let Vals::I32(v) = &mut c.vals {
                v.push(value);
            }
            c.pushed();
            Ok(0)
        })
    }

    /// A LONG value.
    pub fn column_i64(&mut self, name: &str, value: i64) -> Result<&mut Buffer> {
        self.put_i64(name, Kind::Long, value)
    }

    /// A FLOAT value.
    pub fn column_f32(&mut self, name: &str, value: f32) -> Result<&mut Buffer> {
        self.put(name, Kind::Float, 4, |c| {
            if let Vals::F32(v) = &mut c.vals {
                v.push(value);
            }
            c.pushed();
            Ok(0)
        })
    }

    /// A DOUBLE value.
    pub fn column_f64(&mut self, name: &str, value: f64) -> Result<&mut Buffer> {
        self.put(name, Kind::Double, 8, |c| {
            if let Vals::F64(v) = &mut c.vals {
                v.push(value);
            }
            c.pushed();
            Ok(0)
        })
    }

    /// A CHAR value (one UTF-16 code unit).
    pub fn column_char(&mut self, name: &str, value: u16) -> Result<&mut Buffer> {
        self.put(name, Kind::Char, 2, |c| {
            if let Vals::U16(v) = &mut c.vals {
                v.push(value);
            }
            c.pushed();
            Ok(0)
        })
    }

    /// An IPv4 value.
    pub fn column_ipv4(&mut self, name: &str, value: Ipv4Addr) -> Result<&mut Buffer> {
        self.put(name, Kind::Ipv4, 4, |c| {
            if let Vals::U32(v) = &mut c.vals {
                v.push(u32::from(value));
            }
            c.pushed();
            Ok(0)
        })
    }
}
