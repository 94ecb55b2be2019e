// Package agent is the NexMDM device agent. Its subpackages are what runs
// on a device:
//
//   - client speaks the device protocol; the loadgen uses it too.
//   - queue is the persistent outbox (bbolt) for heartbeats and results.
//   - backoff is the retry policy: full jitter, Retry-After as a floor.
//   - telemetry reads the device (Linux /proc and /sys; Android dumpsys).
//   - command verifies signed commands; executor runs them.
//   - ota checks for, downloads, verifies and installs updates.
//   - daemon ties them into the running agent (cmd/nexmdm-agent).
//
// The agent never imports the server's packages; DESIGN.md's protocol is
// the contract between them.
package agent
