//! Numeric functions.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::Func;
use crate::arith::{arith, ArithOp};
use crate::error::SqlResult;
use trireme_storage::value::Value;

pub(super) fn eval(f: Func, vals: &[Value]) -> SqlResult<Option<Value>> {
    use Func::*;
    let v0 = vals.first().cloned().unwrap_or(Value::Null);
    let int_arg = |i: usize| vals.get(i).and_then(Value::to_i64);
    let x = || v0.to_f64().unwrap_or(0.0);
    Ok(Some(match f {
        Abs => match v0 {
            Value::Int(i) => match i.checked_abs() {
                Some(a) => Value::Int(a),
                None => {
                    return Err(crate::error::SqlError::new(
                        1690,
                        "22003",
                        format!("BIGINT value is out of range in 'abs({i})'"),
                    ))
                }
            },
            Value::UInt(u) => Value::UInt(u),
            Value::Decimal(d) => Value::Decimal(d.abs()),
            other => Value::Double(other.to_f64().unwrap_or(0.0).abs()),
        },
        Round | Truncate => {
            let places = if vals.len() > 1 {
                int_arg(1).unwrap_or(0)
            } else {
                0
            };
            round_value(&v0, places, f == Truncate)
        }
        Floor | Ceil => match v0 {
            Value::Int(_) | Value::UInt(_) => v0,
            Value::Decimal(d) => {
                let r = if f == Floor { d.floor() } else { d.ceil() };
                r.to_i64().map(Value::Int).unwrap_or(Value::Decimal(r))
            }
            other => {
                let x = other.to_f64().unwrap_or(0.0);
                Value::Double(if f == Floor { x.floor() } else { x.ceil() })
            }
        },
        Mod => arith(ArithOp::Mod, &v0, &vals[1])?,
        Sign => Value::Int(match v0.to_decimal() {
            Some(d) if d.is_sign_positive() && !d.is_zero() => 1,
            Some(d) if d.is_sign_negative() && !d.is_zero() => -1,
            Some(_) => 0,
            None => {
                let x = x();
                if x > 0.0 {
                    1
                } else if x < 0.0 {
                    -1
                } else {
                    0
                }
            }
        }),
        Sqrt => {
            if x() < 0.0 {
                Value::Null
            } else {
                Value::Double(x().sqrt())
            }
        }
        Power => Value::Double(x().powf(vals[1].to_f64().unwrap_or(0.0))),
        Exp => Value::Double(x().exp()),
        Ln | Log2 | Log10 if x() <= 0.0 => Value::Null,
        Ln => Value::Double(x().ln()),
        Log2 => Value::Double(x().log2()),
        Log10 => Value::Double(x().log10()),
        Log if vals.len() == 1 => {
            if x() <= 0.0 {
                Value::Null
            } else {
                Value::Double(x().ln())
            }
        }
        Log => {
            let (b, y) = (x(), vals[1].to_f64().unwrap_or(0.0));
            if b <= 0.0 || b == 1.0 || y <= 0.0 {
                Value::Null
            } else {
                Value::Double(y.ln() / b.ln())
            }
        }
        Pi => Value::Double(std::f64::consts::PI),
        Sin => Value::Double(x().sin()),
        Cos => Value::Double(x().cos()),
        Tan => Value::Double(x().tan()),
        Cot => {
            let t = x().tan();
            if t == 0.0 {
                return Err(crate::error::SqlError::value_out_of_range(
                    "DOUBLE",
                    &format!("cot({})", v0.to_text_lossy()),
                ));
            }
            Value::Double(1.0 / t)
        }
        Asin | Acos if !(-1.0..=1.0).contains(&x()) => Value::Null,
        Asin => Value::Double(x().asin()),
        Acos => Value::Double(x().acos()),
        Atan if vals.len() == 1 => Value::Double(x().atan()),
        Atan | Atan2 => Value::Double(x().atan2(vals[1].to_f64().unwrap_or(0.0))),
        Degrees => Value::Double(x().to_degrees()),
        Radians => Value::Double(x().to_radians()),
        BitCount => Value::Int(i64::from(match &v0 {
            Value::UInt(u) => u.count_ones(),
            other => (other.to_i64().unwrap_or(0) as u64).count_ones(),
        })),
        Rand => match vals.first() {
            None => Value::Double(rand::random::<f64>()),
            Some(seed) => Value::Double(MyRand::new(seed.to_i64().unwrap_or(0)).next()),
        },
        _ => return Ok(None),
    }))
}

/// MariaDB's RAND(N) generator (my_rnd): RAND(N) with a constant seed gives
/// the same first value MariaDB does.
struct MyRand {
    seed1: u64,
    seed2: u64,
}

impl MyRand {
    const MAX: u64 = 0x3FFF_FFFF;

    fn new(n: i64) -> MyRand {
        let n = n as u32;
        MyRand {
            seed1: u64::from(n.wrapping_mul(0x1_0001).wrapping_add(55_555_555)) % Self::MAX,
            seed2: u64::from(n.wrapping_mul(0x1000_0001)) % Self::MAX,
        }
    }

    fn next(&mut self) -> f64 {
        self.seed1 = (self.seed1 * 3 + self.seed2) % Self::MAX;
        self.seed2 = (self.seed1 + self.seed2 + 33) % Self::MAX;
        self.seed1 as f64 / Self::MAX as f64
    }
}

pub(super) fn round_value(v: &Value, places: i64, truncate: bool) -> Value {
    let strategy = if truncate {
        RoundingStrategy::ToZero
    } else {
        RoundingStrategy::MidpointAwayFromZero
    };
    match v {
        Value::Int(_) | Value::UInt(_) if places >= 0 => v.clone(),
        Value::Int(_) | Value::UInt(_) | Value::Decimal(_) => {
            let d = v.to_decimal().unwrap_or_default();
            if places >= 0 {
                let mut r = d.round_dp_with_strategy(places.min(28) as u32, strategy);
                if !truncate {
                    r.rescale(places.min(28) as u32);
                }
                Value::Decimal(r)
            } else {
                let p = Decimal::from(10i64.pow((-places).min(18) as u32));
                let r = (d / p).round_dp_with_strategy(0, strategy) * p;
                if matches!(v, Value::Decimal(_)) {
                    Value::Decimal(r)
                } else {
                    r.to_i64().map(Value::Int).unwrap_or(Value::Decimal(r))
                }
            }
        }
        other => {
            let x = other.to_f64().unwrap_or(0.0);
            let m = 10f64.powi(places.clamp(-30, 30) as i32);
            // Approximate values round half to even, as MySQL's ROUND does
            // for doubles (ROUND(25E-1) = 2, while exact ROUND(2.5) = 3).
            let y = if truncate {
                (x * m).trunc() / m
            } else {
                (x * m).round_ties_even() / m
            };
            Value::Double(y)
        }
    }
}
