//! Criterion benchmarks for burst live in `benches/`; this library is empty.
