// Package experiment redoes the seed's LVS experiments (seeds/000) in the
// namespace lab: each experiment builds the topologies it needs, runs its
// probes over the paths it compares, saves a results.Run and the seed
// figure's plots, and states its finding beside the seed's.
package experiment
