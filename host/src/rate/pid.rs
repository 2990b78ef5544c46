//! Spark Streaming's PID rate estimator: from what the last batch took, the rate a
//! source should be held to so that batches finish within the batch interval.
//!
//! The controlled quantity is the rate records enter the stream at; the measurement is
//! the rate the last batch was processed at (its records over its processing time).
//! The proportional term moves the rate to the measured processing rate; the integral
//! term reads the scheduling delay as accumulated error (a delay `s` means `s` seconds of
//! records at the processing rate are waiting) and takes enough off the rate to drain
//! it within a batch; the derivative term damps fast changes (off by default, as in
//! Spark). The result never drops below a floor, so a source is never starved.

/// The estimator's tuning, with Spark's defaults
/// (`spark.streaming.backpressure.pid.*`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PidSettings {
    /// Weight of the difference between the last rate and the processing rate.
    pub proportional: f64,
    /// Weight of the backlog the scheduling delay stands for.
    pub integral: f64,
    /// Weight of the change of the error since the last update.
    pub derivative: f64,
    /// The lowest rate the estimator returns, in records per second.
    pub min_rate: f64,
}

impl Default for PidSettings {
    fn default() -> Self {
        PidSettings {
            proportional: 1.0,
            integral: 0.2,
            derivative: 0.0,
            min_rate: 100.0,
        }
    }
}

/// One completed batch, as the estimator sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchSample {
    /// When the batch finished processing, in ms (any fixed origin).
    pub finished_ms: u64,
    /// Records the source contributed to the batch.
    pub records: u64,
    /// The batch's processing time, in seconds.
    pub processing_secs: f64,
    /// The batch's scheduling delay, in seconds.
    pub scheduling_secs: f64,
}

/// A PID controller over the rate of one source.
#[derive(Clone, Debug)]
pub struct PidRateEstimator {
    batch_interval_secs: f64,
    settings: PidSettings,
    /// None until the first usable batch: that one only sets the starting point.
    last: Option<Last>,
}

#[derive(Clone, Copy, Debug)]
struct Last {
    finished_ms: u64,
    rate: f64,
    error: f64,
}

impl PidRateEstimator {
    /// An estimator for a stream cut every `batch_interval_ms`.
    pub fn new(batch_interval_ms: u64, settings: PidSettings) -> Self {
        PidRateEstimator {
            batch_interval_secs: batch_interval_ms.max(1) as f64 / 1000.0,
            settings,
            last: None,
        }
    }

    /// The tuning in use.
    pub fn settings(&self) -> &PidSettings {
        &self.settings
    }

    /// Feeds one completed batch; returns the new rate in records per second, or
    /// `None` when the batch says nothing (no records, no measurable processing time,
    /// older than the last one) or is the first usable one, which only records the
    /// processing rate as the starting point.
    pub fn compute(&mut self, batch: BatchSample) -> Option<f64> {
        let usable = batch.records > 0
            && batch.processing_secs > 0.0
            && self
                .last
                .is_none_or(|last| batch.finished_ms > last.finished_ms);
        if !usable {
            return None;
        }
        let processing_rate = batch.records as f64 / batch.processing_secs;
        let Some(last) = self.last else {
            self.last = Some(Last {
                finished_ms: batch.finished_ms,
                rate: processing_rate,
                error: 0.0,
            });
            return None;
        };
        let since_last = (batch.finished_ms - last.finished_ms) as f64 / 1000.0;
        // Positive when the rate asked for was more than the engine got through.
        let error = last.rate - processing_rate;
        // The records behind the scheduling delay, spread over one batch interval.
        let backlog = batch.scheduling_secs * processing_rate / self.batch_interval_secs;
        let error_change = (error - last.error) / since_last;
        let s = &self.settings;
        let rate = (last.rate
            - s.proportional * error
            - s.integral * backlog
            - s.derivative * error_change)
            .max(s.min_rate);
        self.last = Some(Last {
            finished_ms: batch.finished_ms,
            rate,
            error,
        });
        Some(rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_s: u64, records: u64, processing: f64, scheduling: f64) -> BatchSample {
        BatchSample {
            finished_ms: at_s * 1000,
            records,
            processing_secs: processing,
            scheduling_secs: scheduling,
        }
    }

    #[test]
    fn the_first_batch_only_sets_the_starting_point() {
        let mut pid = PidRateEstimator::new(1000, PidSettings::default());
        assert_eq!(pid.compute(sample(1, 1000, 0.5, 0.0)), None);
        // Same processing rate, no delay: the rate stays at the processing rate.
        assert_eq!(pid.compute(sample(2, 1000, 0.5, 0.0)), Some(2000.0));
    }

    #[test]
    fn batches_without_information_are_skipped() {
        let mut pid = PidRateEstimator::new(1000, PidSettings::default());
        assert_eq!(pid.compute(sample(1, 0, 0.5, 0.0)), None);
        assert_eq!(pid.compute(sample(1, 10, 0.0, 0.0)), None);
        assert_eq!(pid.compute(sample(2, 1000, 1.0, 0.0)), None);
        // Not newer than the last one.
        assert_eq!(pid.compute(sample(2, 1000, 1.0, 0.0)), None);
        assert!(pid.compute(sample(3, 1000, 1.0, 0.0)).is_some());
    }

    #[test]
    fn the_proportional_term_moves_to_the_processing_rate() {
        let mut pid = PidRateEstimator::new(1000, PidSettings::default());
        pid.compute(sample(1, 10_000, 1.0, 0.0));
        // Asked for 10000/s, processed 4000/s: with P = 1 and no delay, 4000.
        assert_eq!(pid.compute(sample(2, 4_000, 1.0, 0.0)), Some(4_000.0));
    }

    #[test]
    fn scheduling_delay_takes_the_backlog_off_the_rate() {
        let mut pid = PidRateEstimator::new(1000, PidSettings::default());
        pid.compute(sample(1, 1_000, 1.0, 0.0));
        // 2 s of delay at 1000/s is 2000 records waiting, over a 1 s interval: 2000/s
        // of error, of which the integral weight 0.2 is taken off.
        let rate = pid.compute(sample(2, 1_000, 1.0, 2.0)).unwrap();
        assert!((rate - (1_000.0 - 0.2 * 2_000.0)).abs() < 1e-9, "{rate}");
    }

    #[test]
    fn the_rate_never_drops_below_the_floor() {
        let mut pid = PidRateEstimator::new(1000, PidSettings::default());
        pid.compute(sample(1, 1_000, 10.0, 0.0));
        assert_eq!(pid.compute(sample(2, 100, 10.0, 60.0)), Some(100.0));
    }

    #[test]
    fn the_derivative_term_damps_a_change_of_error() {
        let settings = PidSettings {
            derivative: 0.5,
            ..PidSettings::default()
        };
        let mut pid = PidRateEstimator::new(1000, settings);
        pid.compute(sample(1, 2_000, 1.0, 0.0));
        // error = 2000 - 1000 = 1000 (last error 0), over 2 s: 500/s^2, times 0.5.
        let rate = pid.compute(sample(3, 1_000, 1.0, 0.0)).unwrap();
        assert!((rate - (2_000.0 - 1_000.0 - 250.0)).abs() < 1e-9, "{rate}");
    }

    /// A simulated engine that processes `capacity` records per second, fed by a
    /// source offering ten times that: the controlled rate settles at the capacity and
    /// the scheduling delay drains to zero.
    #[test]
    fn a_simulated_overload_converges_to_the_capacity() {
        let capacity = 2_000.0;
        let interval = 1.0;
        let mut pid = PidRateEstimator::new(1000, PidSettings::default());
        let mut rate = 100.0; // the slow start
        let mut busy_until: f64 = 0.0;
        let mut delays = Vec::new();
        for batch in 1..=40 {
            let time = batch as f64 * interval;
            let records = (rate * interval).min(10.0 * capacity * interval);
            let start = busy_until.max(time);
            let processing = records / capacity;
            busy_until = start + processing;
            delays.push(start - time);
            let finished_ms = (busy_until * 1000.0) as u64;
            if let Some(new) = pid.compute(BatchSample {
                finished_ms,
                records: records as u64,
                processing_secs: processing,
                scheduling_secs: start - time,
            }) {
                rate = new;
            }
        }
        assert!((rate - capacity).abs() / capacity < 0.05, "{rate}");
        assert!(delays.iter().all(|&d| d < 2.0 * interval), "{delays:?}");
        assert!(
            delays[30..].iter().all(|&d| d < 0.1 * interval),
            "{delays:?}"
        );
    }
}
