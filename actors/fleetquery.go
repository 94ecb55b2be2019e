package actors

import (
	"cmp"
	"container/heap"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// SortKey orders a device listing.
type SortKey uint8

// The sort keys; ties are broken by device id.
const (
	SortLastSeen SortKey = iota
	SortAlias
	SortSerial
	SortBattery
	SortEnrolledAt
	SortAgentVersion
)

// SortKeys maps the API's names to sort keys.
var SortKeys = map[string]SortKey{
	"last_seen": SortLastSeen, "alias": SortAlias, "serial": SortSerial,
	"battery": SortBattery, "enrolled_at": SortEnrolledAt, "agent_version": SortAgentVersion,
}

func (k SortKey) numeric() bool {
	return k == SortLastSeen || k == SortBattery || k == SortEnrolledAt
}

// DeviceFilter selects devices. Zero fields match everything.
type DeviceFilter struct {
	Presence     string // online, offline or never
	Search       string // case-insensitive substring of alias, serial or model
	AgentVersion string
	BatteryBelow int16 // battery known and below this
	ServiceDown  bool
}

// Cursor is the position after the last row of a page.
type Cursor struct {
	Num int64  // the sort key, for numeric keys
	Str string // the sort key, for text keys
	ID  uuid.UUID
}

// DeviceQuery is a page request.
type DeviceQuery struct {
	Filter DeviceFilter
	Sort   SortKey
	Desc   bool
	After  *Cursor // nil: the first page
	Limit  int
}

// DevicePage is a page of rows in query order.
type DevicePage struct {
	Rows  []DeviceRow
	Total int     // devices matching the filter, on every page
	Next  *Cursor // nil: this is the last page
}

func (v *deviceView) num(k SortKey) int64 {
	switch k {
	case SortLastSeen:
		return v.lastSeen
	case SortBattery:
		return int64(v.battery)
	case SortEnrolledAt:
		return v.enrolledAt
	}
	return 0
}

func (v *deviceView) str(k SortKey) string {
	switch k {
	case SortAlias:
		return v.alias()
	case SortSerial:
		return v.serial()
	case SortAgentVersion:
		return v.agentVersion
	}
	return ""
}

// order compares two positions in query order: ascending or descending by
// key, then by id the same way.
type order struct {
	key  SortKey
	desc bool
}

func (o order) compare(aNum int64, aStr string, aID uuid.UUID, b *deviceView) int {
	var c int
	if o.key.numeric() {
		c = cmp.Compare(aNum, b.num(o.key))
	} else {
		c = strings.Compare(aStr, b.str(o.key))
	}
	if c == 0 {
		c = slices.Compare(aID[:], b.id[:])
	}
	if o.desc {
		return -c
	}
	return c
}

func (o order) less(a, b *deviceView) bool {
	return o.compare(a.num(o.key), a.str(o.key), a.id, b) < 0
}

// topK keeps the first k candidates in query order: a heap whose root is
// the last of them, so a better candidate replaces it in O(log k).
type topK struct {
	o     order
	items []deviceView
}

func (t *topK) Len() int           { return len(t.items) }
func (t *topK) Less(i, j int) bool { return t.o.less(&t.items[j], &t.items[i]) }
func (t *topK) Swap(i, j int)      { t.items[i], t.items[j] = t.items[j], t.items[i] }
func (t *topK) Push(x any)         { t.items = append(t.items, x.(deviceView)) }
func (t *topK) Pop() any {
	n := len(t.items) - 1
	c := t.items[n]
	t.items = t.items[:n]
	return c
}

func (t *topK) offer(c *deviceView, k int) {
	if len(t.items) < k {
		heap.Push(t, *c)
		return
	}
	if t.o.less(c, &t.items[0]) {
		t.items[0] = *c
		heap.Fix(t, 0)
	}
}

// ListDevices answers a page from memory: one pass over every known device,
// keeping the best Limit+1 rows after the cursor.
func (d *Directory) ListDevices(q DeviceQuery, now time.Time) DevicePage {
	nowMs := now.UnixMilli()
	m := newMatcher(&q.Filter, nowMs)
	t := &topK{o: order{key: q.Sort, desc: q.Desc}, items: make([]deviceView, 0, q.Limit+1)}
	total := 0
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.RLock()
		for j := range s.views {
			v := &s.views[j]
			if v.deleted || !m.match(v) {
				continue
			}
			total++
			if q.After != nil && t.o.compare(q.After.Num, q.After.Str, q.After.ID, v) >= 0 {
				continue
			}
			t.offer(v, q.Limit+1)
		}
		s.mu.RUnlock()
	}
	slices.SortFunc(t.items, func(a, b deviceView) int {
		return t.o.compare(a.num(q.Sort), a.str(q.Sort), a.id, &b)
	})
	page := DevicePage{Total: total}
	if len(t.items) > q.Limit {
		t.items = t.items[:q.Limit]
		last := &t.items[q.Limit-1]
		page.Next = &Cursor{Num: last.num(q.Sort), Str: last.str(q.Sort), ID: last.id}
	}
	page.Rows = make([]DeviceRow, len(t.items))
	for i := range t.items {
		page.Rows[i] = t.items[i].row(nowMs)
	}
	return page
}

// SelectDevices returns the ids of up to max devices matching f, and how
// many match in all.
func (d *Directory) SelectDevices(f DeviceFilter, now time.Time, max int) ([]uuid.UUID, int) {
	m := newMatcher(&f, now.UnixMilli())
	var ids []uuid.UUID
	total := 0
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.RLock()
		for j := range s.views {
			if v := &s.views[j]; !v.deleted && m.match(v) {
				total++
				if len(ids) < max {
					ids = append(ids, v.id)
				}
			}
		}
		s.mu.RUnlock()
	}
	return ids, total
}

// matcher tests rows against a filter without allocating.
type matcher struct {
	f      *DeviceFilter
	nowMs  int64
	search string // folded for ASCII, lower-cased otherwise
	ascii  bool
}

func newMatcher(f *DeviceFilter, nowMs int64) matcher {
	m := matcher{f: f, nowMs: nowMs, ascii: isASCII(f.Search)}
	m.search = strings.ToLower(f.Search)
	return m
}

func (m *matcher) match(v *deviceView) bool {
	f := m.f
	switch f.Presence {
	case "online":
		if !v.online {
			return false
		}
	case "offline":
		if v.online || v.lastSeen == 0 {
			return false
		}
	case "never":
		if v.lastSeen != 0 {
			return false
		}
	}
	if f.AgentVersion != "" && v.agentVersion != f.AgentVersion {
		return false
	}
	if f.BatteryBelow > 0 && (v.battery < 0 || v.battery >= f.BatteryBelow) {
		return false
	}
	if f.ServiceDown && !v.serviceDown(m.nowMs) {
		return false
	}
	if m.search != "" && !m.contains(v.names) && !m.contains(v.model) {
		return false
	}
	return true
}

func (m *matcher) contains(s string) bool {
	if !m.ascii {
		return strings.Contains(strings.ToLower(s), m.search)
	}
	n := len(m.search)
	first, upper := m.search[0], m.search[0]
	if 'a' <= first && first <= 'z' {
		upper -= 'a' - 'A'
	}
	for i := 0; i+n <= len(s); i++ {
		if c := s[i]; (c == first || c == upper) && asciiFoldEqual(s[i+1:i+n], m.search[1:]) {
			return true
		}
	}
	return false
}

// asciiFoldEqual compares s with an already lower-cased ASCII pattern.
func asciiFoldEqual(s, lower string) bool {
	for i := 0; i < len(lower); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
