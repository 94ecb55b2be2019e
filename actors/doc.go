// Package actors is NexMDM's ingest engine: one protoactor-go actor per
// device holds its live state, so the heartbeat path never waits on a
// database read. The Directory routes messages to device actors, spawning
// and hydrating them on first use; actors decide authentication, rate
// limits, dedupe and presence, and hand rows to the group-commit writer.
package actors
