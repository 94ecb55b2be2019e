package daemon

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nexmdm/nexmdm/agent/client"
	"github.com/nexmdm/nexmdm/agent/command"
)

var (
	stateBucket = []byte("state")         // "credentials" -> JSON, "settings" -> JSON
	seenBucket  = []byte("commands.seen") // command id -> unix seconds first seen
)

// credentials are what enrollment issued. They live beside the queue, in
// a file only the agent's user can read.
type credentials struct {
	DeviceID  string            `json:"device_id"`
	Token     string            `json:"device_token"`
	Keys      map[string]string `json:"hmac_keys"` // key id -> base64 key
	NewestKey string            `json:"newest_key_id"`
}

func (c *credentials) commandKeys() command.Keys {
	keys := command.Keys{}
	for id, b64 := range c.Keys {
		if k, err := base64.StdEncoding.DecodeString(b64); err == nil {
			keys[id] = k
		}
	}
	return keys
}

func (c *credentials) clone() *credentials {
	out := *c
	out.Keys = make(map[string]string, len(c.Keys))
	for id, k := range c.Keys {
		out.Keys[id] = k
	}
	return &out
}

func credentialsFrom(r *client.Registration) *credentials {
	return &credentials{DeviceID: r.DeviceID, Token: r.DeviceToken,
		Keys: map[string]string{r.HMACKeyID: r.HMACKey}, NewestKey: r.HMACKeyID}
}

// settings are what set_config changed; they outlast restarts.
type settings struct {
	HeartbeatIntervalS int    `json:"heartbeat_interval_s,omitempty"` // 0: the server's
	QueueMaxItems      int    `json:"queue_max_items,omitempty"`
	LogLevel           string `json:"log_level,omitempty"`
}

// store keeps the agent's state in its bbolt file.
type store struct{ db *bolt.DB }

func openStore(db *bolt.DB) (*store, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{stateBucket, seenBucket} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	return &store{db: db}, err
}

func (s *store) load(key string, v any) (bool, error) {
	var raw []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		raw = append(raw, tx.Bucket(stateBucket).Get([]byte(key))...)
		return nil
	})
	if err != nil || raw == nil {
		return false, err
	}
	return true, json.Unmarshal(raw, v)
}

func (s *store) save(key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(stateBucket).Put([]byte(key), raw) })
}

// wipeCredentials forgets what enrollment issued.
func (s *store) wipeCredentials() error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(stateBucket).Delete([]byte("credentials")) })
}

// markSeen records a command id before the command runs, so that a command
// delivered twice (pushed and pulled, or redelivered after a crash) runs at
// most once. It reports whether the id was new.
func (s *store) markSeen(id string, now time.Time) (bool, error) {
	fresh := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(seenBucket)
		if b.Get([]byte(id)) != nil {
			return nil
		}
		fresh = true
		return b.Put([]byte(id), binary.BigEndian.AppendUint64(nil, uint64(now.Unix())))
	})
	if err != nil {
		return false, fmt.Errorf("record command %s: %w", id, err)
	}
	return fresh, nil
}

// forgetSeenBefore drops ids older than cutoff: the server expires a
// command long before, so it can never be delivered again.
func (s *store) forgetSeenBefore(cutoff time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(seenBucket)
		var old [][]byte
		b.ForEach(func(k, v []byte) error {
			if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) < cutoff.Unix() {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		})
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
