// Package queue is the agent's outbox: heartbeats and command results that
// are not yet delivered, kept in bbolt so that they survive kill -9 and
// reboots. It follows the seed's rules: at most 500 items and 10 MB,
// heartbeats pruned oldest first and results never, results expire after
// 24 h, and heartbeats in one 10 s bucket coalesce into one item.
package queue

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Kind is what an item carries.
type Kind byte

const (
	Heartbeat Kind = 'h'
	Result    Kind = 'r'
)

func (k Kind) String() string {
	if k == Result {
		return "result"
	}
	return "heartbeat"
}

// Item is one undelivered request body.
type Item struct {
	Seq        uint64 // delivery order
	Kind       Kind
	Key        string // heartbeat: its 10 s bucket; result: its command id
	Rev        uint32 // bumped when a newer heartbeat of the bucket replaces the body
	EnqueuedAt time.Time
	Body       []byte
}

// Limits bound the queue.
type Limits struct {
	MaxItems  int
	MaxBytes  int
	ResultTTL time.Duration
}

// SeedLimits are the seed's: 500 items, 10 MB, results kept 24 h.
var SeedLimits = Limits{MaxItems: 500, MaxBytes: 10 << 20, ResultTTL: 24 * time.Hour}

var (
	itemsBucket = []byte("queue.items") // seq -> item
	keysBucket  = []byte("queue.keys")  // kind+key -> seq
)

// Queue is the outbox. It is safe for concurrent use.
type Queue struct {
	mu    sync.Mutex // one operation at a time, and the counters with it
	db    *bolt.DB
	lim   Limits
	now   func() time.Time
	log   *slog.Logger
	count int
	bytes int
}

// Open uses db's queue buckets, creating them on first use.
func Open(db *bolt.DB, lim Limits, now func() time.Time, log *slog.Logger) (*Queue, error) {
	q := &Queue{db: db, lim: lim, now: now, log: log}
	err := db.Update(func(tx *bolt.Tx) error {
		items, err := tx.CreateBucketIfNotExists(itemsBucket)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(keysBucket); err != nil {
			return err
		}
		return items.ForEach(func(_, v []byte) error {
			q.count++
			q.bytes += len(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("open the queue: %w", err)
	}
	return q, nil
}

// Len is how many items wait: the heartbeat's queue_depth.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count
}

// Bytes is how much they weigh.
func (q *Queue) Bytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// SetMaxItems changes the item limit (set_config's queue_max_items); it
// applies from the next enqueue.
func (q *Queue) SetMaxItems(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.lim.MaxItems = n
}

// EnqueueHeartbeat stores a heartbeat body. A heartbeat of a bucket that
// is already queued replaces that one's body in place: the server keeps one
// row per bucket, and the newer reading is the better one.
func (q *Queue) EnqueueHeartbeat(bucket int64, body []byte) error {
	return q.enqueue(Heartbeat, fmt.Sprint(bucket), body, true)
}

// EnqueueResult stores a command result. A second result for the same
// command is ignored: the first one is what the device decided.
func (q *Queue) EnqueueResult(commandID string, body []byte) error {
	return q.enqueue(Result, commandID, body, false)
}

func (q *Queue) enqueue(kind Kind, key string, body []byte, replace bool) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	var pruned []Item
	err := q.db.Update(func(tx *bolt.Tx) error {
		items, keys := tx.Bucket(itemsBucket), tx.Bucket(keysBucket)
		ik := indexKey(kind, key)
		if seq := keys.Get(ik); seq != nil {
			if !replace {
				return nil
			}
			old := decode(binary.BigEndian.Uint64(seq), items.Get(seq))
			old.Rev++
			old.Body = body
			return q.put(items, old)
		}
		seq, err := items.NextSequence()
		if err != nil {
			return err
		}
		it := Item{Seq: seq, Kind: kind, Key: key, EnqueuedAt: q.now(), Body: body}
		if err := q.put(items, it); err != nil {
			return err
		}
		if err := keys.Put(ik, seqKey(seq)); err != nil {
			return err
		}
		pruned, err = q.pruneHeartbeats(tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("enqueue a %s: %w", kind, err)
	}
	q.log.Debug("queue.enqueue", "kind", kind.String(), "key", key, "depth", q.count, "bytes", q.bytes)
	for _, it := range pruned {
		q.log.Info("queue.prune", "kind", it.Kind.String(), "key", it.Key, "reason", "limit", "depth", q.count)
	}
	return nil
}

// put writes it and keeps the counters; the caller removes the old copy's
// weight first when it replaces one.
func (q *Queue) put(items *bolt.Bucket, it Item) error {
	k := seqKey(it.Seq)
	if old := items.Get(k); old != nil {
		q.count--
		q.bytes -= len(old)
	}
	v := encode(it)
	q.count++
	q.bytes += len(v)
	return items.Put(k, v)
}

// pruneHeartbeats drops the oldest heartbeats while the queue is over its
// limits. Results are never pruned: a queue of results alone may exceed the
// limits rather than forget what a command did.
func (q *Queue) pruneHeartbeats(tx *bolt.Tx) ([]Item, error) {
	count, bytes := q.count, q.bytes
	var victims []Item
	c := tx.Bucket(itemsBucket).Cursor()
	for k, v := c.First(); k != nil && (count > q.lim.MaxItems || bytes > q.lim.MaxBytes); k, v = c.Next() {
		it := decode(binary.BigEndian.Uint64(k), v)
		if it.Kind != Heartbeat {
			continue
		}
		victims = append(victims, it)
		count--
		bytes -= len(v)
	}
	for _, it := range victims {
		if err := q.delete(tx, it); err != nil {
			return nil, err
		}
	}
	return victims, nil
}

func (q *Queue) delete(tx *bolt.Tx, it Item) error {
	items := tx.Bucket(itemsBucket)
	k := seqKey(it.Seq)
	v := items.Get(k)
	if v == nil {
		return nil
	}
	q.count--
	q.bytes -= len(v)
	if err := items.Delete(k); err != nil {
		return err
	}
	return tx.Bucket(keysBucket).Delete(indexKey(it.Kind, it.Key))
}

// Head is the oldest item to deliver, after dropping results older than
// the TTL. ok is false when the queue is empty.
func (q *Queue) Head() (it Item, ok bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var expired []Item
	err = q.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(itemsBucket).Cursor()
		for k, v := c.First(); k != nil; k, v = c.First() {
			cur := decode(binary.BigEndian.Uint64(k), v)
			if cur.Kind != Result || q.now().Sub(cur.EnqueuedAt) < q.lim.ResultTTL {
				it, ok = cur, true
				return nil
			}
			if err := q.delete(tx, cur); err != nil {
				return err
			}
			expired = append(expired, cur)
		}
		return nil
	})
	for _, e := range expired {
		q.log.Warn("queue.prune", "kind", e.Kind.String(), "key", e.Key, "reason", "expired", "age", q.now().Sub(e.EnqueuedAt).String())
	}
	return it, ok, err
}

// Remove drops a delivered item, unless a newer heartbeat replaced its body
// meanwhile: that one still goes out.
func (q *Queue) Remove(delivered Item) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.db.Update(func(tx *bolt.Tx) error {
		v := tx.Bucket(itemsBucket).Get(seqKey(delivered.Seq))
		if v == nil || decode(delivered.Seq, v).Rev != delivered.Rev {
			return nil
		}
		return q.delete(tx, delivered)
	})
}

// An item is stored as kind(1) rev(4) enqueued_unix_ms(8) keylen(2) key body.
func encode(it Item) []byte {
	b := make([]byte, 0, 15+len(it.Key)+len(it.Body))
	b = append(b, byte(it.Kind))
	b = binary.BigEndian.AppendUint32(b, it.Rev)
	b = binary.BigEndian.AppendUint64(b, uint64(it.EnqueuedAt.UnixMilli()))
	b = binary.BigEndian.AppendUint16(b, uint16(len(it.Key)))
	b = append(b, it.Key...)
	return append(b, it.Body...)
}

// Clear drops everything: for a device the server no longer knows.
func (q *Queue) Clear() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{itemsBucket, keysBucket} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		q.count, q.bytes = 0, 0
		return nil
	})
}

// A damaged item decodes as an empty heartbeat: the server refuses it and
// the drain moves on, rather than stalling behind it forever.
func decode(seq uint64, v []byte) Item {
	if len(v) < 15 {
		return Item{Seq: seq, Kind: Heartbeat}
	}
	kl := int(binary.BigEndian.Uint16(v[13:15]))
	if len(v) < 15+kl {
		return Item{Seq: seq, Kind: Heartbeat}
	}
	return Item{
		Seq:        seq,
		Kind:       Kind(v[0]),
		Rev:        binary.BigEndian.Uint32(v[1:5]),
		EnqueuedAt: time.UnixMilli(int64(binary.BigEndian.Uint64(v[5:13]))),
		Key:        string(v[15 : 15+kl]),
		Body:       append([]byte(nil), v[15+kl:]...),
	}
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func indexKey(kind Kind, key string) []byte { return append([]byte{byte(kind)}, key...) }
