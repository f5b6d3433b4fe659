//! Break-even chart (filled in with fleetsim breakeven).
