// Package agent is the NexMDM device agent. Its subpackages are what runs
// on a device: client speaks the device protocol and is shared with the
// loadgen. The agent never imports the server's packages; DESIGN.md's
// protocol is the contract between them.
package agent
