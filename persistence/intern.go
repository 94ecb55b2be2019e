package persistence

import "sync"

// internLimit caps the table: past it, new strings are simply allocated.
const internLimit = 1 << 17

var internTab = struct {
	sync.RWMutex
	m map[string]string
}{m: make(map[string]string)}

// Intern returns a string equal to b, shared with earlier calls. Device
// reports repeat the same few values (agent versions, network types, SSIDs,
// package names) across the fleet, so live state holds one copy of each.
func Intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > 128 {
		return string(b)
	}
	internTab.RLock()
	s, ok := internTab.m[string(b)]
	internTab.RUnlock()
	if ok {
		return s
	}
	s = string(b)
	internTab.Lock()
	if len(internTab.m) < internLimit {
		internTab.m[s] = s
	}
	internTab.Unlock()
	return s
}
