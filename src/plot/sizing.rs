//! Sizing chart (filled in with fleetsim size).
