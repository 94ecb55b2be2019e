// Package testenv gives tests their own PostgreSQL database and Redis key
// space on the real services that `make test` starts. A test that needs a
// service fails when it is missing; it never skips.
package testenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/nexmdm/nexmdm/migrations"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// DB is a test's own database.
type DB struct {
	URL  string
	Pool *pgxpool.Pool
}

// Postgres creates a fresh, migrated database for t, dropped at cleanup. It
// is cloned from a template migrated once per schema version, so it costs
// one CREATE DATABASE.
func Postgres(t testing.TB) *DB {
	t.Helper()
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		t.Fatal("DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to DATABASE_URL: %v (run the tests with `make test`)", err)
	}
	defer admin.Close(ctx)

	tmpl := "nexmdm_tmpl_" + schemaHash()
	// One creator at a time across test processes.
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(hashtext('nexmdm.testenv'))`); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtext('nexmdm.testenv'))`)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tmpl).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		if err := createTemplate(ctx, admin, base, tmpl); err != nil {
			t.Fatalf("create template database: %v", err)
		}
	}
	name := "nexmdm_t_" + randomHex(6)
	if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, tmpl)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	dbURL := withDatabase(base, name)
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			c.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
			c.Close(ctx)
		}
	})
	return &DB{URL: dbURL, Pool: pool}
}

func createTemplate(ctx context.Context, admin *pgx.Conn, base, tmpl string) error {
	building := tmpl + "_build"
	admin.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building))
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+building); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, withDatabase(base, building))
	if err != nil {
		return err
	}
	err = pgstore.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return err
	}
	_, err = admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, tmpl))
	return err
}

// schemaHash names the template after the migrations, so that a changed
// schema gets a new template.
func schemaHash() string {
	h := sha256.New()
	fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(migrations.FS, path)
			h.Write([]byte(path))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func withDatabase(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Redis is a test's own key space on the real Redis.
type Redis struct {
	URL    string
	Client *redis.Client
	Prefix string // every key the test writes starts with it
}

// NewRedis returns a client and a unique key prefix; the keys are deleted at
// cleanup.
func NewRedis(t testing.TB) *Redis {
	t.Helper()
	raw := os.Getenv("REDIS_URL")
	if raw == "" {
		t.Fatal("REDIS_URL is not set: run the tests with `make test`, which starts Redis")
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping Redis at REDIS_URL: %v (run the tests with `make test`)", err)
	}
	r := &Redis{URL: raw, Client: c, Prefix: "nexmdm_t_" + randomHex(6) + ":"}
	t.Cleanup(func() {
		r.Flush(t)
		c.Close()
	})
	return r
}

// Flush deletes every key of the test, as if Redis had lost its data.
func (r *Redis) Flush(t testing.TB) {
	ctx := context.Background()
	iter := r.Client.Scan(ctx, 0, r.Prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if len(keys) > 0 {
		r.Client.Del(ctx, keys...)
	}
}

// Keys lists the test's keys without the prefix.
func (r *Redis) Keys(t testing.TB) []string {
	ctx := context.Background()
	var out []string
	iter := r.Client.Scan(ctx, 0, r.Prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		out = append(out, strings.TrimPrefix(iter.Val(), r.Prefix))
	}
	return out
}
