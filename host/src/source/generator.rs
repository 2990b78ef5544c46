//! `type = "generator"`: seeded, rate-controlled lines of words for demos, tests and
//! benchmarks.
//!
//! Line `i` depends only on the seed and `i`, so any range of lines can be generated on
//! any thread, in any order, and a replayed batch gets the same lines. Words are drawn
//! from a vocabulary with a Zipf distribution (exponent 1), like word frequencies in
//! natural text: the first words are common English words, the long tail is made-up.
//!
//! Under a rate limit a batch takes fewer lines than are due: the rest wait in the
//! generator, as records wait in a topic for a consumer that is behind.

use super::{Cut, Descriptor, Opening, Source, SourceBatch, SourceHandle};
use super::{SourceKind, SourceSettings};
use crate::rate::BatchMeter;
use crate::record::Records;
use rayon::prelude::*;
use std::ops::Range;
use std::sync::Arc;

/// `type = "generator"`: `rate`, `count`, `seed`, `words_per_line`, `vocabulary`.
pub const KIND: SourceKind = SourceKind {
    name: "generator",
    receives: false,
    alone: None,
    read: |r, _| {
        let mut spec = GeneratorSpec::default();
        if let Some(rate) = r.integer("rate", 1) {
            spec.rate = rate as u64;
        }
        spec.count = r.integer("count", 0).map(|n| n as u64);
        if let Some(seed) = r.integer("seed", 0) {
            spec.seed = seed as u64;
        }
        if let Some(n) = r.integer("words_per_line", 1) {
            spec.words_per_line = n as usize;
        }
        if let Some(n) = r.integer("vocabulary", 1) {
            spec.vocabulary = n as usize;
        }
        Some(Arc::new(spec))
    },
};

/// Settings of the generator source.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratorSpec {
    /// Lines per second.
    pub rate: u64,
    /// Total lines, or unbounded.
    pub count: Option<u64>,
    /// Seed: the same seed gives the same lines.
    pub seed: u64,
    /// Words per line.
    pub words_per_line: usize,
    /// Distinct words, drawn with a Zipf distribution.
    pub vocabulary: usize,
}

impl Default for GeneratorSpec {
    fn default() -> Self {
        GeneratorSpec {
            rate: 1_000,
            count: None,
            seed: 42,
            words_per_line: 10,
            vocabulary: 10_000,
        }
    }
}

impl SourceSettings for GeneratorSpec {
    fn open(&self, opening: Opening<'_>) -> anyhow::Result<Box<dyn Source>> {
        let resume = match opening.last() {
            Some(Descriptor::Generated { start_ms, to, .. }) => Some((*start_ms, *to)),
            _ => None,
        };
        Ok(Box::new(GeneratorSource::new(
            Generator::new(self.clone()),
            opening.interval_ms,
            opening.handle,
            resume,
        )))
    }
}

const COMMON: &[&str] = &[
    "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was", "for", "on",
    "are", "with", "as", "his", "they", "be", "at", "one", "have", "this", "from", "or", "had",
    "by", "word", "but", "what", "some", "we", "can", "out", "other", "were", "all", "there",
    "when", "up", "use", "your", "how", "said", "an", "each", "she", "which", "do", "their",
    "time", "if", "will", "way", "about", "many", "then", "them", "write", "would", "like", "so",
    "these", "her", "long", "make", "thing", "see", "him", "two", "has", "look", "more", "day",
    "could", "go", "come", "did", "number", "sound", "no", "most", "people", "my", "over", "know",
    "water", "than", "call", "first", "who", "may", "down", "side", "been", "now", "find",
    "stream", "batch",
];

const SYLLABLES: [&str; 16] = [
    "ba", "ce", "di", "fo", "gu", "ha", "je", "ki", "lo", "mu", "na", "pe", "ri", "so", "tu", "vy",
];

/// The words a generator draws from, with their cumulative Zipf probabilities.
#[derive(Debug)]
pub struct Vocabulary {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Vocabulary {
    /// `size` words, the first ones common English words, then made-up ones.
    pub fn new(size: usize) -> Self {
        let size = size.max(1);
        let mut words: Vec<String> = COMMON.iter().take(size).map(|w| w.to_string()).collect();
        let mut k = 0usize;
        while words.len() < size {
            // Made-up words of three syllables or more; "vy" never ends an English word
            // in the list above, so they cannot collide with it.
            let mut n = k + 256;
            let mut word = String::new();
            while n > 0 {
                word.push_str(SYLLABLES[n % 16]);
                n /= 16;
            }
            words.push(word);
            k += 1;
        }
        let weights: Vec<f64> = (1..=size).map(|rank| 1.0 / rank as f64).collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        Vocabulary { words, cumulative }
    }

    /// The word of rank `rank` (0 is the most common).
    pub fn word(&self, rank: usize) -> &str {
        &self.words[rank]
    }

    /// The number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the vocabulary is empty (it never is).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The word a uniform draw `u` in [0, 1) picks.
    pub fn sample(&self, u: f64) -> &str {
        let rank = self
            .cumulative
            .partition_point(|&c| c <= u)
            .min(self.words.len() - 1);
        &self.words[rank]
    }
}

/// A deterministic generator of lines.
#[derive(Debug)]
pub struct Generator {
    spec: GeneratorSpec,
    vocabulary: Vocabulary,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Generator {
    /// A generator for `spec`.
    pub fn new(spec: GeneratorSpec) -> Arc<Self> {
        let vocabulary = Vocabulary::new(spec.vocabulary);
        Arc::new(Generator { spec, vocabulary })
    }

    /// The settings.
    pub fn spec(&self) -> &GeneratorSpec {
        &self.spec
    }

    /// Writes line `index` into `out` (cleared first).
    pub fn line_into(&self, index: u64, out: &mut String) {
        out.clear();
        let mut state = self.spec.seed ^ index.wrapping_mul(0xd6e8_feb8_6659_fd93);
        for w in 0..self.spec.words_per_line {
            if w > 0 {
                out.push(' ');
            }
            let u = (splitmix(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
            out.push_str(self.vocabulary.sample(u));
        }
    }

    /// Lines `range`, as string records.
    pub fn lines(&self, range: Range<u64>) -> Records {
        let per_line = self.spec.words_per_line * 6 + 2;
        let mut records = Records::with_capacity((range.end - range.start) as usize * per_line);
        let mut line = String::with_capacity(per_line);
        for i in range {
            self.line_into(i, &mut line);
            records.push_str(&line);
        }
        records
    }
}

/// The generator as a source: each batch gets the lines due by its batch time at the
/// configured rate, until `count` lines have been produced, and no more than its rate
/// limit allows.
pub struct GeneratorSource {
    generator: Arc<Generator>,
    interval_ms: u64,
    start_ms: Option<u64>,
    emitted: u64,
    stopped: bool,
    handle: Arc<SourceHandle>,
    meter: BatchMeter,
}

impl GeneratorSource {
    /// A source over `generator` for batches of `interval_ms`, limited by `handle`,
    /// resuming (after a restart) from a start time and the number of lines already
    /// emitted.
    pub fn new(
        generator: Arc<Generator>,
        interval_ms: u64,
        handle: Arc<SourceHandle>,
        resume: Option<(u64, u64)>,
    ) -> Self {
        GeneratorSource {
            generator,
            interval_ms,
            start_ms: resume.map(|(start, _)| start),
            emitted: resume.map_or(0, |(_, emitted)| emitted),
            stopped: false,
            handle,
            meter: BatchMeter::new(interval_ms),
        }
    }
}

impl Source for GeneratorSource {
    fn cut(&mut self, batch_time_ms: u64) -> SourceBatch {
        let start = *self
            .start_ms
            .get_or_insert(batch_time_ms.saturating_sub(self.interval_ms));
        let spec = self.generator.spec();
        let due = (spec.rate as u128 * batch_time_ms.saturating_sub(start) as u128 / 1000) as u64;
        let target = spec
            .count
            .map_or(due, |count| due.min(count))
            .max(self.emitted);
        let taken =
            self.meter
                .take_up_to(self.handle.limit(), batch_time_ms, target - self.emitted);
        let range = self.emitted..self.emitted + taken;
        self.emitted += taken;
        SourceBatch::new(GeneratedCut {
            generator: self.generator.clone(),
            start_ms: start,
            range,
        })
    }

    fn is_finished(&self) -> bool {
        self.stopped
            || self
                .generator
                .spec()
                .count
                .is_some_and(|count| self.emitted >= count)
    }

    fn stop(&mut self) {
        self.stopped = true;
    }

    fn replay(
        &mut self,
        descriptor: &Descriptor,
        partitions: usize,
    ) -> anyhow::Result<Vec<Records>> {
        super::replay_described(descriptor, partitions, Some(&self.generator))
    }

    fn handle(&self) -> &Arc<SourceHandle> {
        &self.handle
    }
}

/// A generator's cut: a range of its lines, generated when the batch runs.
struct GeneratedCut {
    generator: Arc<Generator>,
    start_ms: u64,
    range: Range<u64>,
}

impl Cut for GeneratedCut {
    fn descriptor(&self) -> Descriptor {
        Descriptor::Generated {
            start_ms: self.start_ms,
            from: self.range.start,
            to: self.range.end,
        }
    }

    fn read(self: Box<Self>, partitions: usize) -> Vec<Records> {
        generate(&self.generator, self.range, partitions)
    }
}

/// Lines `range` of `generator`, generated in parallel, one contiguous run per partition.
pub(super) fn generate(
    generator: &Generator,
    range: Range<u64>,
    partitions: usize,
) -> Vec<Records> {
    let len = range.end - range.start;
    let n = partitions as u64;
    (0..n)
        .into_par_iter()
        .map(|p| generator.lines(range.start + len * p / n..range.start + len * (p + 1) / n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generator(count: Option<u64>, rate: u64) -> Arc<Generator> {
        Generator::new(GeneratorSpec {
            rate,
            count,
            ..GeneratorSpec::default()
        })
    }

    #[test]
    fn lines_depend_only_on_seed_and_index() {
        let g = generator(None, 1);
        let whole = g.lines(0..100);
        let halves = Records::concat(&[g.lines(0..50), g.lines(50..100)]);
        assert_eq!(whole, halves);
        let mut line = String::new();
        g.line_into(7, &mut line);
        assert_eq!(line.split(' ').count(), 10);
    }

    #[test]
    fn vocabulary_is_zipf_and_distinct() {
        let v = Vocabulary::new(10_000);
        let distinct: std::collections::HashSet<_> = (0..v.len()).map(|i| v.word(i)).collect();
        assert_eq!(distinct.len(), 10_000);
        assert_eq!(v.sample(0.0), "the");
        assert_eq!(v.sample(0.999_999_9), v.word(9_999));
        // Rank 1 has about twice rank 2's share.
        let g = generator(None, 1);
        let mut line = String::new();
        let (mut the, mut of) = (0, 0);
        for i in 0..20_000 {
            g.line_into(i, &mut line);
            the += line.split(' ').filter(|w| *w == "the").count();
            of += line.split(' ').filter(|w| *w == "of").count();
        }
        let ratio = the as f64 / of as f64;
        assert!((1.8..2.2).contains(&ratio), "{ratio}");
    }

    fn source(generator: Arc<Generator>, max_rate: Option<u64>) -> GeneratorSource {
        let handle = SourceHandle::unlimited("g", "generator");
        let handle = Arc::new(handle);
        if let Some(rate) = max_rate {
            handle.limit().set_estimate(Some(rate as f64));
        }
        GeneratorSource::new(generator, 1_000, handle, None)
    }

    fn ranges(source: &mut GeneratorSource, batches: u64) -> Vec<Range<u64>> {
        (1..=batches)
            .map(|t| match source.cut(t * 1_000).descriptor() {
                Descriptor::Generated { from, to, .. } => from..to,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn rate_and_count_shape_the_batches() {
        let mut source = source(generator(Some(2_500), 1_000), None);
        assert_eq!(
            ranges(&mut source, 4),
            [0..1_000, 1_000..2_000, 2_000..2_500, 2_500..2_500]
        );
        assert!(source.is_finished());
    }

    #[test]
    fn a_rate_limit_takes_fewer_lines_and_the_rest_wait() {
        let mut source = source(generator(Some(2_500), 1_000), Some(400));
        assert_eq!(
            ranges(&mut source, 4),
            [0..400, 400..800, 800..1_200, 1_200..1_600]
        );
        assert!(!source.is_finished());
        // The limit lifted: everything due comes at once.
        source.handle().limit().set_estimate(None);
        match source.cut(5_000).descriptor() {
            Descriptor::Generated { from, to, .. } => assert_eq!(from..to, 1_600..2_500),
            other => panic!("{other:?}"),
        }
        assert!(source.is_finished());
    }
}
