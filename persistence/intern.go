package persistence

import "sync"

// internLimit caps the table: past it, new strings are simply allocated.
// Strings longer than internMaxLen are never interned: no report repeats
// them across the fleet.
const (
	internLimit  = 1 << 17
	internMaxLen = 128
)

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
	if len(b) > internMaxLen {
		return string(b)
	}
	internTab.RLock()
	s, ok := internTab.m[string(b)]
	internTab.RUnlock()
	if ok {
		return s
	}
	return intern(string(b))
}

// InternString is Intern for a string already made. Beyond saving memory,
// two interned strings compare equal by pointer, without reading either's
// bytes: a device's key id is compared with the current one on every
// heartbeat, and its bytes were a cache miss.
func InternString(s string) string {
	if s == "" || len(s) > internMaxLen {
		return s
	}
	internTab.RLock()
	t, ok := internTab.m[s]
	internTab.RUnlock()
	if ok {
		return t
	}
	return intern(s)
}

func intern(s string) string {
	internTab.Lock()
	defer internTab.Unlock()
	if t, ok := internTab.m[s]; ok { // interned since the read
		return t
	}
	if len(internTab.m) < internLimit {
		internTab.m[s] = s
	}
	return s
}
