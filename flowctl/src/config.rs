//! Flow-control settings and the receive-queue limits they give.
//!
//! Galera computes, for a primary component of `N` members:
//!
//! ```text
//! upper = floor(fc_limit * f + 0.5)       f = 1 if fc_single_primary, else sqrt(N)
//! lower = floor(upper * fc_factor + 0.5)
//! ```
//!
//! The `sqrt(N)` factor gives a bigger cluster (more writers, so a deeper
//! normal queue) more slack before it stops; single-primary setups have one
//! writer whatever `N` is, so they keep the flat limit. With the defaults
//! (16, 0.5): N=1 gives [8, 16], N=2 [12, 23], N=3 [14, 28], N=4 [16, 32],
//! N=9 [24, 48].

use serde::{Deserialize, Serialize};

/// Flow-control configuration (Galera option names without the `gcs.`
/// prefix; `fc_single_primary` was `fc_master_slave` in older Galera).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Base receive-queue limit, in write-sets (`gcs.fc_limit`, default 16).
    pub fc_limit: u64,
    /// Resume when the queue drains to this fraction of the upper limit
    /// (`gcs.fc_factor`, default 0.5, in `[0, 1]`).
    pub fc_factor: f64,
    /// Do not scale the limit with cluster size (`gcs.fc_single_primary`,
    /// default false).
    pub fc_single_primary: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            fc_limit: 16,
            fc_factor: 0.5,
            fc_single_primary: false,
        }
    }
}

/// An invalid [`Config`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// `fc_limit` is 0.
    #[error("gcs.fc_limit must be at least 1")]
    ZeroLimit,
    /// `fc_factor` is not a number in `[0, 1]`.
    #[error("gcs.fc_factor must be between 0 and 1, got {0}")]
    FactorOutOfRange(f64),
}

/// The receive-queue watermarks in force: send FC_STOP when the queue is
/// longer than `upper`, FC_CONT when it is back to `lower` or shorter.
/// Always `lower <= upper` and `upper >= 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Limits {
    /// Stop above this length.
    pub upper: u64,
    /// Continue at or below this length.
    pub lower: u64,
}

impl Config {
    /// Checks the ranges Galera accepts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.fc_limit == 0 {
            return Err(ConfigError::ZeroLimit);
        }
        if !(0.0..=1.0).contains(&self.fc_factor) {
            return Err(ConfigError::FactorOutOfRange(self.fc_factor));
        }
        Ok(())
    }

    /// The limits for a primary component of `members` members (0 is
    /// treated as 1). Assumes a valid config.
    pub fn limits(&self, members: usize) -> Limits {
        let n = members.max(1) as f64;
        let scale = if self.fc_single_primary {
            1.0
        } else {
            n.sqrt()
        };
        // `as` saturates, and IEEE sqrt is correctly rounded, so every node
        // computes the same limits.
        let upper = ((self.fc_limit as f64) * scale + 0.5) as u64;
        let upper = upper.max(1);
        let lower = ((upper as f64) * self.fc_factor + 0.5) as u64;
        Limits {
            upper,
            lower: lower.min(upper),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqrt_scaling_matches_galera() {
        let c = Config::default();
        let table = [
            (0, 16, 8),
            (1, 16, 8),
            (2, 23, 12), // 22.63 -> 23, 11.5 -> 12
            (3, 28, 14), // 27.71 -> 28
            (4, 32, 16),
            (5, 36, 18), // 35.78 -> 36
            (9, 48, 24),
            (16, 64, 32),
        ];
        for (n, upper, lower) in table {
            assert_eq!(c.limits(n), Limits { upper, lower }, "N = {n}");
        }
    }

    #[test]
    fn single_primary_is_flat() {
        let c = Config {
            fc_single_primary: true,
            ..Config::default()
        };
        for n in [1, 2, 3, 9, 100] {
            assert_eq!(
                c.limits(n),
                Limits {
                    upper: 16,
                    lower: 8
                }
            );
        }
    }

    #[test]
    fn factor_edges() {
        let c = Config {
            fc_limit: 10,
            fc_factor: 0.0,
            fc_single_primary: true,
        };
        assert_eq!(
            c.limits(3),
            Limits {
                upper: 10,
                lower: 0
            }
        );
        let c = Config {
            fc_factor: 1.0,
            ..c
        };
        assert_eq!(
            c.limits(3),
            Limits {
                upper: 10,
                lower: 10
            }
        );
        let huge = Config {
            fc_limit: u64::MAX,
            ..Config::default()
        };
        let l = huge.limits(4);
        assert!(l.lower <= l.upper);
    }

    #[test]
    fn validation() {
        assert!(Config::default().validate().is_ok());
        let zero = Config {
            fc_limit: 0,
            ..Config::default()
        };
        assert_eq!(zero.validate(), Err(ConfigError::ZeroLimit));
        for f in [-0.1, 1.5, f64::NAN] {
            let bad = Config {
                fc_factor: f,
                ..Config::default()
            };
            assert!(matches!(
                bad.validate(),
                Err(ConfigError::FactorOutOfRange(_))
            ));
        }
    }
}
