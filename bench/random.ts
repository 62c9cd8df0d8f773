// Deterministic data for the bench scenarios: every run, and both servers of a run, get the same rows.

/** mulberry32: a small deterministic PRNG returning numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A source of distinct 15-character record ids (Plinth's shape) drawn from `rand`. */
export function idSource(rand: () => number): () => string {
  const used = new Set<string>();
  return () => {
    for (;;) {
      let id = '';
      for (let i = 0; i < 15; i++) id += ID_ALPHABET[Math.floor(rand() * 36)];
      if (!used.has(id)) {
        used.add(id);
        return id;
      }
    }
  };
}
