//! The fixed-width number setters of [`Buffer`]: integers, floats,
//! geohashes, decimals.

use std::net::Ipv4Addr;

use arrow::datatypes::i256;

use super::super::column::{Kind, Vals};
use super::{Buffer, api};
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
    #[inline]
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
    #[inline]
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

    /// A GEOHASH of `precision_bits` (1..=60) bits, the value in the low
    /// bits of `bits`. A column keeps the precision of its first value.
    pub fn column_geohash(
        &mut self,
        name: &str,
        bits: u64,
        precision_bits: u8,
    ) -> Result<&mut Buffer> {
        if !(1..=60).contains(&precision_bits) || bits >> precision_bits != 0 {
            let e = api(format!(
                "geohash {bits:#x} does not fit {precision_bits} bits (precision 1..=60)"
            ));
            return Err(self.put_failed(name, e));
        }
        self.put_i64(name, Kind::Geohash(precision_bits), bits as i64)
    }

    /// A DECIMAL64 from its unscaled value and scale (0..=18).
    pub fn column_dec64(&mut self, name: &str, unscaled: i64, scale: u8) -> Result<&mut Buffer> {
        self.check_scale(name, scale, 18)?;
        self.put_i64(name, Kind::Dec64(scale), unscaled)
    }

    /// A DECIMAL128 from its unscaled value and scale (0..=38).
    pub fn column_dec128(&mut self, name: &str, unscaled: i128, scale: u8) -> Result<&mut Buffer> {
        self.check_scale(name, scale, 38)?;
        self.put(name, Kind::Dec128(scale), 16, |c| {
            if let Vals::I128(v) = &mut c.vals {
                v.push(unscaled);
            }
            c.pushed();
            Ok(0)
        })
    }

    /// A DECIMAL256 from its unscaled value and scale (0..=76).
    pub fn column_dec256(&mut self, name: &str, unscaled: i256, scale: u8) -> Result<&mut Buffer> {
        self.check_scale(name, scale, 76)?;
        self.put(name, Kind::Dec256(scale), 32, |c| {
            if let Vals::I256(v) = &mut c.vals {
                v.push(unscaled);
            }
            c.pushed();
            Ok(0)
        })
    }

    /// A decimal from its text (`"-12.345"`), as DECIMAL128 with the
    /// text's scale, or the column's scale when the column holds values
    /// with a larger one.
    pub fn column_dec(&mut self, name: &str, text: &str) -> Result<&mut Buffer> {
        let parsed = super::super::parse_decimal(text)
            .and_then(|(v, s)| match self.used_kind(name) {
                Some(Kind::Dec128(cs)) if cs > s => 10i128
                    .checked_pow(u32::from(cs - s))
                    .and_then(|m| v.checked_mul(m))
                    .map(|v| (v, cs)),
                _ => Some((v, s)),
            })
            .ok_or_else(|| api(format!("{text:?} is not a decimal that fits DECIMAL128")));
        match parsed {
            Ok((v, s)) => self.column_dec128(name, v, s),
            Err(e) => Err(self.put_failed(name, e)),
        }
    }

    fn check_scale(&mut self, name: &str, scale: u8, max: u8) -> Result<()> {
        if scale > max {
            let e = api(format!("decimal scale {scale} is above {max}"));
            return Err(self.put_failed(name, e));
        }
        Ok(())
    }
}
