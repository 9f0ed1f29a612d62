//! Seeded randomness for the pipeline and the simulator: a PCG generator from `rand_pcg`
//! (portable and reproducible: the same seed gives the same stream on every machine),
//! seeded through `SeedableRng::seed_from_u64`, which mixes the seed so nearby seeds give
//! unrelated streams.

use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

pub struct Rng(Pcg64Mcg);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(Pcg64Mcg::seed_from_u64(seed))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0.random()
    }
    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 { 0 } else { self.0.random_range(0..n) }
    }
    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        self.0.random_range(lo..=hi.max(lo))
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.0.random_bool(p.clamp(0.0, 1.0))
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        items.choose(&mut self.0).expect("picking from an empty list")
    }
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        items.shuffle(&mut self.0);
    }
}

/// Which samples use the parallel-then-sequential strategy. Samples go in blocks of four,
/// each holding `round(4 × mix)` of them (the fraction carried to the next block by chance)
/// in shuffled order, so any 20 consecutive samples hold close to `20 × mix`: with the
/// default 0.5, 8 to 12.
pub fn parallel_slots(seed: u64, index: usize, mix: f64) -> bool {
    const BLOCK: usize = 4;
    let block = index / BLOCK;
    let mut rng = Rng::new(seed ^ 0x5eed_b10c_0000_0000 ^ block as u64);
    let exact = mix.clamp(0.0, 1.0) * BLOCK as f64;
    let mut n = exact.floor() as usize;
    if rng.chance(exact - exact.floor()) {
        n += 1;
    }
    let mut slots: Vec<bool> = (0..BLOCK).map(|i| i < n).collect();
    rng.shuffle(&mut slots);
    slots[index % BLOCK]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_twenty_consecutive_samples_hold_six_to_fourteen_parallel_compositions() {
        for seed in 0..50u64 {
            let slots: Vec<bool> = (0..400).map(|i| parallel_slots(seed, i, 0.5)).collect();
            for w in slots.windows(20) {
                let n = w.iter().filter(|x| **x).count();
                assert!((6..=14).contains(&n), "seed {seed}: {n} of 20");
            }
        }
        // Other mixes keep their share.
        let n = (0..1000).filter(|i| parallel_slots(3, *i, 0.3)).count();
        assert!((270..=330).contains(&n), "{n} of 1000 at mix 0.3");
        assert!((0..100).all(|i| !parallel_slots(1, i, 0.0)));
        assert!((0..100).all(|i| parallel_slots(1, i, 1.0)));
    }

    #[test]
    fn the_same_seed_gives_the_same_stream_and_nearby_seeds_do_not() {
        let a: Vec<u64> = (0..4).map(|_| 0).scan(Rng::new(7), |r, _| Some(r.next_u64())).collect();
        let b: Vec<u64> = (0..4).map(|_| 0).scan(Rng::new(7), |r, _| Some(r.next_u64())).collect();
        let c: Vec<u64> = (0..4).map(|_| 0).scan(Rng::new(8), |r, _| Some(r.next_u64())).collect();
        assert_eq!(a, b);
        assert!(a.iter().zip(&c).all(|(x, y)| x != y));
        // The first outputs of seeds 0..8 do not follow the seed.
        let firsts: Vec<usize> = (0..8).map(|s| Rng::new(s).below(100)).collect();
        assert!(firsts.windows(2).any(|w| w[0] > w[1]), "{firsts:?}");
    }
}
