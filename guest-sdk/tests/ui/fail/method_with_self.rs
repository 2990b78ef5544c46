use sluice_sdk::map;

struct Counter {
    step: u64,
}

impl Counter {
    #[map]
    fn bump(&self, count: u64) -> u64 {
        count + self.step
    }
}

fn main() {
    let _ = Counter { step: 1 }.bump(1);
}
