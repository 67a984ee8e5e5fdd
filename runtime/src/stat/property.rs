//! [`Property`]: a value a service reports to `tarsproperty` under policies ([`Policy`]), as
//! TarsCpp's `PropertyReport` does.

use std::fmt;
use std::sync::{Arc, Mutex};

use super::property_f::StatPropInfo;
use crate::support::lock;

/// How a [`Property`]'s values are summed up over a report interval: TarsCpp's
/// `PropertyReport` policies, sent under their names (`Sum`, `Avg`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// The sum of the values (0 if none).
    Sum,
    /// The mean of the values, as TarsCpp writes a `double` (`2.5`, `3`); `0` if none.
    Avg,
    /// How many values were reported.
    Count,
    /// The largest value; `-9999999` if none (TarsCpp's starting value).
    Max,
    /// The smallest value other than 0; left out of the report while there is none, as
    /// TarsCpp does.
    Min,
    /// A distribution over the given bounds (sorted, duplicates removed): a value counts for
    /// the first bound above it, and a value at or above the last bound counts nowhere, as in
    /// TarsCpp. Sent as `bound|count,bound|count,...`.
    Distr(Vec<i32>),
}

impl Policy {
    /// The policy's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sum => "Sum",
            Self::Avg => "Avg",
            Self::Count => "Count",
            Self::Max => "Max",
            Self::Min => "Min",
            Self::Distr(_) => "Distr",
        }
    }
}

/// TarsCpp's `max` starts at this, when no value was reported.
const MAX_NONE: i64 = -9_999_999;

/// One policy's state over the current interval.
#[derive(Debug)]
enum Accumulator {
    Sum(i64),
    Avg { sum: i64, count: u64 },
    Count(u64),
    Max(i64),
    Min(i64),
    Distr { bounds: Vec<i32>, counts: Vec<u64> },
}

impl Accumulator {
    fn new(policy: &Policy) -> Self {
        match policy {
            Policy::Sum => Self::Sum(0),
            Policy::Avg => Self::Avg { sum: 0, count: 0 },
            Policy::Count => Self::Count(0),
            Policy::Max => Self::Max(MAX_NONE),
            Policy::Min => Self::Min(0),
            Policy::Distr(bounds) => {
                let mut bounds = bounds.clone();
                bounds.sort_unstable();
                bounds.dedup();
                let counts = vec![0; bounds.len()];
                Self::Distr { bounds, counts }
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Sum(_) => "Sum",
            Self::Avg { .. } => "Avg",
            Self::Count(_) => "Count",
            Self::Max(_) => "Max",
            Self::Min(_) => "Min",
            Self::Distr { .. } => "Distr",
        }
    }

    fn add(&mut self, value: i64) {
        match self {
            Self::Sum(sum) => *sum = sum.saturating_add(value),
            Self::Avg { sum, count } => {
                *sum = sum.saturating_add(value);
                *count += 1;
            }
            Self::Count(count) => *count += 1,
            Self::Max(max) => *max = (*max).max(value),
            Self::Min(min) => {
                if value != 0 && (*min == 0 || value < *min) {
                    *min = value;
                }
            }
            Self::Distr { bounds, counts } => {
                let index = bounds.partition_point(|&bound| i64::from(bound) <= value);
                if let Some(count) = counts.get_mut(index) {
                    *count += 1;
                }
            }
        }
    }

    /// The interval's value as text, and a fresh start; `None` for a value TarsCpp leaves
    /// out (a `Min` of 0).
    fn take(&mut self) -> Option<String> {
        let value = match self {
            Self::Sum(sum) => std::mem::take(sum).to_string(),
            Self::Avg { sum, count } => {
                let (sum, count) = (std::mem::take(sum), std::mem::take(count));
                if count == 0 {
                    "0".to_string()
                } else {
                    #[allow(clippy::cast_precision_loss)] // as TarsCpp divides doubles
                    let mean = sum as f64 / count as f64;
                    double_text(mean)
                }
            }
            Self::Count(count) => std::mem::take(count).to_string(),
            Self::Max(max) => std::mem::replace(max, MAX_NONE).to_string(),
            Self::Min(min) => {
                let min = std::mem::take(min);
                if min == 0 {
                    return None;
                }
                min.to_string()
            }
            Self::Distr { bounds, counts } => {
                let text = bounds
                    .iter()
                    .zip(counts.iter())
                    .map(|(bound, count)| format!("{bound}|{count}"))
                    .collect::<Vec<_>>()
                    .join(",");
                counts.iter_mut().for_each(|count| *count = 0);
                text
            }
        };
        Some(value)
    }
}

/// A `double` as TarsCpp's `TC_Common::tostr` writes it: six decimals, trailing zeros (and
/// a trailing point) removed.
fn double_text(value: f64) -> String {
    let mut text = format!("{value:.6}");
    if text.contains('.') {
        let kept = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(kept);
    }
    text
}

/// What a property's handles share.
pub(super) struct PropertyState {
    name: String,
    accumulators: Mutex<Vec<Accumulator>>,
}

impl PropertyState {
    pub(super) fn new(name: String, policies: &[Policy]) -> Self {
        Self {
            name,
            accumulators: Mutex::new(policies.iter().map(Accumulator::new).collect()),
        }
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// The interval's values, one per policy (but a `Min` without value), and a fresh start.
    pub(super) fn take(&self) -> Vec<StatPropInfo> {
        lock(&self.accumulators)
            .iter_mut()
            .filter_map(|accumulator| {
                let name = accumulator.name();
                accumulator.take().map(|value| StatPropInfo {
                    policy: name.to_string(),
                    value,
                })
            })
            .collect()
    }
}

/// A property of the service: values reported with [`report`](Self::report) are summed up by
/// its policies and sent to the property service every report interval. Cheap to clone: the
/// clones report into one property.
///
/// Made by [`StatReporter::property`](super::StatReporter::property).
///
/// ```
/// use tars_rpc::client::Communicator;
/// use tars_rpc::stat::{Policy, StatReporter};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let reporter = StatReporter::builder(Communicator::new())
///     .property("tars.tarsproperty.PropertyObj@tcp -h 127.0.0.1 -p 1")
///     .module_name("TestApp.HelloServer")
///     .build()
///     .expect("a valid property object");
/// let queue_length = reporter.property("queueLength", &[Policy::Max, Policy::Avg]);
/// queue_length.report(12);
/// # }
/// ```
#[derive(Clone)]
pub struct Property {
    state: Arc<PropertyState>,
}

impl Property {
    pub(super) fn new(state: Arc<PropertyState>) -> Self {
        Self { state }
    }

    /// Counts `value` under every policy of the property.
    pub fn report(&self, value: i64) {
        for accumulator in lock(&self.state.accumulators).iter_mut() {
            accumulator.add(value);
        }
    }

    /// The property's name.
    pub fn name(&self) -> &str {
        &self.state.name
    }
}

impl fmt::Debug for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Property")
            .field("name", &self.state.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(policies: &[Policy], reported: &[i64]) -> Vec<(String, String)> {
        let state = Arc::new(PropertyState::new("p".into(), policies));
        let property = Property::new(state.clone());
        for &value in reported {
            property.report(value);
        }
        state
            .take()
            .into_iter()
            .map(|info| (info.policy, info.value))
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(policy, value)| (policy.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn policies_sum_up_as_tarscpp() {
        let all = [
            Policy::Sum,
            Policy::Avg,
            Policy::Count,
            Policy::Max,
            Policy::Min,
            Policy::Distr(vec![100, 10, 50, 10]),
        ];
        assert_eq!(
            values(&all, &[0, 3, 10, 12, 49, 50, 200]),
            pairs(&[
                ("Sum", "324"),
                ("Avg", "46.285714"),
                ("Count", "7"),
                ("Max", "200"),
                ("Min", "3"),
                ("Distr", "10|2,50|3,100|1"),
            ])
        );
    }

    #[test]
    fn empty_interval_values() {
        let all = [
            Policy::Sum,
            Policy::Avg,
            Policy::Count,
            Policy::Max,
            Policy::Min,
            Policy::Distr(vec![5]),
        ];
        assert_eq!(
            values(&all, &[]),
            pairs(&[
                ("Sum", "0"),
                ("Avg", "0"),
                ("Count", "0"),
                ("Max", "-9999999"),
                ("Distr", "5|0"),
            ])
        );
    }

    #[test]
    fn take_starts_a_fresh_interval() {
        let state = Arc::new(PropertyState::new("p".into(), &[Policy::Sum, Policy::Max]));
        let property = Property::new(state.clone());
        property.report(4);
        property.clone().report(6);
        assert_eq!(state.take()[0].value, "10");
        property.report(-5);
        let second = state.take();
        assert_eq!(
            (second[0].value.as_str(), second[1].value.as_str()),
            ("-5", "-5")
        );
    }

    #[test]
    fn doubles_as_tarscpp_writes_them() {
        assert_eq!(double_text(2.5), "2.5");
        assert_eq!(double_text(3.0), "3");
        assert_eq!(double_text(0.0), "0");
        assert_eq!(double_text(-1.25), "-1.25");
        assert_eq!(double_text(1.0 / 3.0), "0.333333");
    }
}
