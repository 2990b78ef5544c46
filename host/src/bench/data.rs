//! The benchmark's input, generated once before anything is timed: lines of words from
//! the generator (10 words from a 10,000-word Zipf vocabulary, fixed seed) and JSON
//! request log lines, both as plain strings (for the native baselines) and as encoded
//! batches (for the engine).

use crate::record::Records;
use crate::source::Generator;
use crate::source::GeneratorSpec;

/// One workload's input: the same lines, cut into batches.
pub struct Dataset {
    /// Per batch, its lines.
    pub batches: Vec<Vec<String>>,
    /// Per batch, its lines encoded as records, in one partition (split as needed).
    pub encoded: Vec<Records>,
}

impl Dataset {
    fn from_batches(batches: Vec<Vec<String>>) -> Self {
        let encoded = batches
            .iter()
            .map(|lines| {
                let mut records = Records::new();
                for line in lines {
                    records.push_str(line);
                }
                records
            })
            .collect();
        Dataset { batches, encoded }
    }

    /// All lines.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.batches.iter().map(Vec::len).sum()
    }
}

/// `lines` generator lines in `batches` batches.
pub fn words(lines: usize, batches: usize) -> Dataset {
    let generator = Generator::new(GeneratorSpec {
        rate: 1,
        count: None,
        seed: 42,
        words_per_line: 10,
        vocabulary: 10_000,
    });
    let per = lines.div_ceil(batches);
    let mut line = String::new();
    Dataset::from_batches(
        (0..batches)
            .map(|b| {
                (b * per..((b + 1) * per).min(lines))
                    .map(|i| {
                        generator.line_into(i as u64, &mut line);
                        line.clone()
                    })
                    .collect()
            })
            .collect(),
    )
}

/// `lines` JSON request log lines in `batches` batches: a service, a status (one in
/// eight a server error) and a latency.
pub fn requests(lines: usize, batches: usize) -> Dataset {
    const SERVICES: [&str; 8] = [
        "checkout", "search", "cart", "login", "catalog", "payments", "reviews", "shipping",
    ];
    const STATUSES: [u16; 8] = [200, 200, 200, 201, 304, 404, 500, 503];
    let per = lines.div_ceil(batches);
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    Dataset::from_batches(
        (0..batches)
            .map(|b| {
                (b * per..((b + 1) * per).min(lines))
                    .map(|_| {
                        let r = next();
                        format!(
                            r#"{{"service": "{}", "status": {}, "ms": {}}}"#,
                            SERVICES[(r % 8) as usize],
                            STATUSES[((r >> 8) % 8) as usize],
                            (r >> 16) % 2_000
                        )
                    })
                    .collect()
            })
            .collect(),
    )
}

/// `count` batches of `lines` short lines each, for the fixed cost of a batch.
pub fn tiny(count: usize, lines: usize) -> Dataset {
    Dataset::from_batches(
        (0..count)
            .map(|b| {
                (0..lines)
                    .map(|i| format!("tiny batch {b} line {i}"))
                    .collect()
            })
            .collect(),
    )
}
