package actors_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/nexmdm/nexmdm/actors"
	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
	"github.com/nexmdm/nexmdm/persistence/snapstore"
	"github.com/nexmdm/nexmdm/persistence/testenv"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type presenceEvent struct {
	id     uuid.UUID
	online bool
	at     time.Time
}

type presenceRecorder struct {
	mu     sync.Mutex
	events []presenceEvent
}

func (r *presenceRecorder) DeviceOnline(id uuid.UUID, at time.Time) {
	r.mu.Lock()
	r.events = append(r.events, presenceEvent{id, true, at})
	r.mu.Unlock()
}

func (r *presenceRecorder) DeviceOffline(id uuid.UUID, at, _ time.Time) {
	r.mu.Lock()
	r.events = append(r.events, presenceEvent{id, false, at})
	r.mu.Unlock()
}

func (r *presenceRecorder) list() []presenceEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]presenceEvent(nil), r.events...)
}

// offline counts the offline transitions recorded so far.
func (r *presenceRecorder) offline() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if !e.online {
			n++
		}
	}
	return n
}

// fixture is a directory on real Postgres and Redis with a fake clock.
type fixture struct {
	db       *testenv.DB
	redis    *testenv.Redis
	clock    *fakeClock
	devices  *pgstore.Devices
	commands *pgstore.Commands
	writer   *pgstore.Writer
	snaps    *snapstore.Store
	dir      *actors.Directory
	presence *presenceRecorder
	alerts   *alertRecorder
	cfg      actors.Config
	pepper   []byte
	loads    atomic.Int64 // the directory's batch reads of device records
	stop     func()
}

// countingLoads counts the batch reads of device records it passes on.
type countingLoads struct {
	*pgstore.Devices
	calls *atomic.Int64
}

func (c countingLoads) LoadMany(ctx context.Context, ids []uuid.UUID) ([]*persistence.DeviceRecord, error) {
	c.calls.Add(1)
	return c.Devices.LoadMany(ctx, ids)
}

func newFixture(t *testing.T, tune ...func(*actors.Config)) *fixture {
	t.Helper()
	f := &fixture{
		db: testenv.Postgres(t), redis: testenv.NewRedis(t),
		clock:  &fakeClock{t: time.Now().UTC().Truncate(time.Second)},
		pepper: []byte("pepper-one"),
	}
	f.devices = pgstore.NewDevices(f.db.Pool)
	f.commands = pgstore.NewCommands(f.db.Pool)
	f.cfg = actors.DefaultConfig()
	f.cfg.PepperID = "p1"
	for _, fn := range tune {
		fn(&f.cfg)
	}
	f.start(t)
	return f
}

// start builds the writer, snapshot store and directory, as a server start does.
func (f *fixture) start(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	parts, err := pgstore.NewPartitions(ctx, f.db.Pool)
	require.NoError(t, err)
	f.writer = pgstore.NewWriter(f.db.Pool, parts, pgstore.WriterConfig{}, nil, zerolog.Nop())
	f.snaps = snapstore.New(f.redis.Client, snapstore.Config{Prefix: f.redis.Prefix}, nil, zerolog.Nop())
	go f.snaps.Run()
	system := actor.NewActorSystem()
	bg, cancel := context.WithCancel(context.Background())
	f.presence = &presenceRecorder{}
	if f.alerts == nil {
		f.alerts = &alertRecorder{}
	}
	f.dir = actors.NewDirectory(bg, f.cfg, actors.Deps{
		System: system, Sink: f.writer, Devices: countingLoads{f.devices, &f.loads}, Snapshots: f.snaps, Commands: f.commands,
		Listeners: []actors.StatusListener{f.presence}, Alerts: f.alerts, Log: zerolog.Nop(), Now: f.clock.Now,
	})
	require.NoError(t, f.dir.Start(ctx))
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		f.writer.Close(context.Background())
		f.snaps.Close(context.Background())
		f.dir.Shutdown()
		cancel()
		system.Shutdown()
	}
	t.Cleanup(stop)
	f.stop = stop
}

// restart stops everything, as a graceful shutdown does, and starts again.
func (f *fixture) restart(t *testing.T) {
	f.stop()
	f.start(t)
}

func (f *fixture) digest(secret string) [32]byte {
	m := hmac.New(sha256.New, f.pepper)
	m.Write([]byte(secret))
	var d [32]byte
	m.Sum(d[:0])
	return d
}

// enroll registers a device the way /v1/register does and returns its secret.
func (f *fixture) enroll(t *testing.T, serial string) (uuid.UUID, string) {
	t.Helper()
	var raw [32]byte
	rand.Read(raw[:])
	secret := base64.RawURLEncoding.EncodeToString(raw[:])
	hash, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.MinCost)
	require.NoError(t, err)
	d := f.digest(secret)
	out, err := f.devices.Enroll(context.Background(), pgstore.Enrollment{
		NewID: uuid.New(), Serial: serial, Alias: serial, TokenBcrypt: string(hash),
		TokenDigest: d[:], PepperID: f.cfg.PepperID, HMACKeyID: "k1",
	})
	require.NoError(t, err)
	facts := persistence.DeviceFacts{Alias: serial, Serial: serial, EnrolledAt: out.EnrolledAt}
	f.dir.Enrolled(out.ID, facts, d[:], f.cfg.PepperID, out.RevokedDigest)
	return out.ID, secret
}

func (f *fixture) send(t *testing.T, id uuid.UUID, secret string, ts time.Time, battery int16) (*actors.HeartbeatRequest, error) {
	t.Helper()
	req := actors.NewHeartbeatRequest()
	req.Write.Heartbeat = persistence.Heartbeat{
		DeviceID: id, TS: ts, ReceivedAt: f.clock.Now(), Has: persistence.HasBattery, BatteryPct: battery,
	}
	req.Digest = f.digest(secret)
	req.Secret = secret
	return req, f.dir.Heartbeat(req)
}

func (f *fixture) heartbeat(t *testing.T, id uuid.UUID, secret string, ts time.Time) actors.HeartbeatReply {
	t.Helper()
	req, err := f.send(t, id, secret, ts, 50)
	require.NoError(t, err)
	return wait(t, req)
}

func wait(t *testing.T, req *actors.HeartbeatRequest) actors.HeartbeatReply {
	t.Helper()
	rep, ok := req.Wait(20 * time.Second)
	if !ok {
		t.Fatal("no reply")
	}
	req.Release()
	return rep
}

func (f *fixture) rows(t *testing.T, id uuid.UUID) int {
	t.Helper()
	var n int
	require.NoError(t, f.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM heartbeats WHERE device_id = $1`, id).Scan(&n))
	return n
}

func (f *fixture) status(t *testing.T, id uuid.UUID) actors.DeviceStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := f.dir.Status(ctx, id)
	require.NoError(t, err)
	return st
}

func TestHeartbeatIsStoredOnceEveryTenSecondBucket(t *testing.T) {
	f := newFixture(t)
	id, secret := f.enroll(t, "S1")
	now := f.clock.Now()
	bucket := persistence.BucketStart(persistence.Bucket(now))

	assert.Equal(t, actors.Stored, f.heartbeat(t, id, secret, bucket.Add(time.Second)).Outcome)
	assert.Equal(t, actors.Deduped, f.heartbeat(t, id, secret, bucket.Add(9*time.Second)).Outcome)
	assert.Equal(t, actors.Stored, f.heartbeat(t, id, secret, bucket.Add(10*time.Second)).Outcome)
	// A replayed offline backlog: older buckets, each stored once.
	for i := 1; i <= 3; i++ {
		assert.Equal(t, actors.Stored, f.heartbeat(t, id, secret, bucket.Add(-time.Duration(i)*10*time.Second)).Outcome)
	}
	assert.Equal(t, actors.Deduped, f.heartbeat(t, id, secret, bucket.Add(-15*time.Second)).Outcome, "a replay of a replay")
	assert.Equal(t, 5, f.rows(t, id))
}

func TestALiveIdleActorDecidesOnAHeartbeatBeforeHeartbeatReturns(t *testing.T) {
	f := newFixture(t)
	id, secret := f.enroll(t, "S1")
	require.Equal(t, actors.Stored, f.heartbeat(t, id, secret, f.clock.Now()).Outcome) // spawns the actor

	for _, c := range []struct {
		secret string
		want   actors.Outcome
	}{{"not-the-secret", actors.Unauthorized}, {secret, actors.Deduped}} {
		req, err := f.send(t, id, c.secret, f.clock.Now(), 50)
		require.NoError(t, err)
		rep, ok := req.Wait(0) // no time to wait: the answer is there or not
		require.True(t, ok, "the actor ran on the caller's goroutine, not a worker's")
		assert.Equal(t, c.want, rep.Outcome)
		req.Release()
	}
}

func TestConcurrentHeartbeatsInOneBucketShareOneRow(t *testing.T) {
	f := newFixture(t)
	id, secret := f.enroll(t, "S1")
	ts := f.clock.Now()
	var reqs []*actors.HeartbeatRequest
	for range 10 {
		req, err := f.send(t, id, secret, ts, 50)
		require.NoError(t, err)
		reqs = append(reqs, req)
	}
	outcomes := map[actors.Outcome]int{}
	for _, r := range reqs {
		outcomes[wait(t, r).Outcome]++
	}
	assert.Equal(t, map[actors.Outcome]int{actors.Stored: 1, actors.Deduped: 9}, outcomes)
	assert.Equal(t, 1, f.rows(t, id))
}

func TestDeviceGoesOfflineAfterThresholdWithoutTimers(t *testing.T) {
	f := newFixture(t)
	id, secret := f.enroll(t, "S1")
	require.Equal(t, actors.Stored, f.heartbeat(t, id, secret, f.clock.Now()).Outcome)
	assert.True(t, f.status(t, id).Online)

	f.clock.Advance(f.cfg.OfflineAfter - time.Second)
	f.dir.Sweep(f.clock.Now())
	assert.True(t, f.status(t, id).Online, "still inside the threshold")

	f.clock.Advance(2 * time.Second)
	f.dir.Sweep(f.clock.Now())
	assert.False(t, f.status(t, id).Online)

	f.clock.Advance(time.Minute)
	require.Equal(t, actors.Stored, f.heartbeat(t, id, secret, f.clock.Now()).Outcome)
	assert.True(t, f.status(t, id).Online)

	events := f.presence.list()
	require.Len(t, events, 3)
	assert.Equal(t, []bool{true, false, true}, []bool{events[0].online, events[1].online, events[2].online})
	assert.True(t, events[1].at.Equal(f.clock.Now().Add(-time.Minute)), "offline at the sweep that saw it")
}

func TestSweepScalesToManyDevicesWithOneMessageEach(t *testing.T) {
	f := newFixture(t, func(c *actors.Config) { c.RateLimit = 0 })
	const n = 100
	for i := range n {
		id, secret := f.enroll(t, "S"+uuid.NewString()[:8]+string(rune('a'+i%26)))
		require.Equal(t, actors.Stored, f.heartbeat(t, id, secret, f.clock.Now()).Outcome)
	}
	f.clock.Advance(f.cfg.OfflineAfter + time.Second)
	f.dir.Sweep(f.clock.Now())
	require.Eventually(t, func() bool { return f.presence.offline() == n }, 10*time.Second, 10*time.Millisecond)
}

func TestSweepTicksOnlyActorsWithSomethingDue(t *testing.T) {
	f := newFixture(t, func(c *actors.Config) { c.RateLimit = 0; c.FirstTickSpread = time.Minute })
	const n = 5
	for i := range n {
		id, secret := f.enroll(t, fmt.Sprintf("DUE%d", i))
		require.Equal(t, actors.Stored, f.heartbeat(t, id, secret, f.clock.Now()).Outcome)
	}
	assert.Zero(t, f.dir.Sweep(f.clock.Now()), "a freshly hydrated actor's first tick is not at once")
	f.clock.Advance(f.cfg.FirstTickSpread)
	assert.Equal(t, n, f.dir.Sweep(f.clock.Now()), "within FirstTickSpread a freshly hydrated actor gets one tick")
	require.Eventually(t, func() bool { return f.dir.Sweep(f.clock.Now()) == 0 }, 5*time.Second, 5*time.Millisecond,
		"devices that heartbeat inside the threshold are not due")

	f.clock.Advance(f.cfg.OfflineAfter - f.cfg.FirstTickSpread - time.Second)
	assert.Zero(t, f.dir.Sweep(f.clock.Now()), "still inside the threshold")
	f.clock.Advance(2 * time.Second)
	assert.Equal(t, n, f.dir.Sweep(f.clock.Now()), "now each one is due to go offline")
	require.Eventually(t, func() bool { return f.dir.Sweep(f.clock.Now()) == 0 }, 5*time.Second, 5*time.Millisecond,
		"an offline device has nothing due")
	assert.Equal(t, n, f.presence.offline())
}

func TestRunSweeperSpreadsTicksButReachesEveryActorEachInterval(t *testing.T) {
	const interval = 1280 * time.Millisecond // 20 ms between shards
	f := newFixture(t, func(c *actors.Config) { c.RateLimit = 0; c.SweepInterval = interval })
	const n = 100
	for i := range n {
		id, secret := f.enroll(t, fmt.Sprintf("SW%03d", i))
		require.Equal(t, actors.Stored, f.heartbeat(t, id, secret, f.clock.Now()).Outcome)
	}
	f.clock.Advance(f.cfg.OfflineAfter + time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.dir.RunSweeper(ctx)

	time.Sleep(interval / 8)
	assert.Less(t, f.presence.offline(), n, "an eighth of an interval in, not every shard has been swept")
	require.Eventually(t, func() bool { return f.presence.offline() == n }, 2*interval+time.Second, 5*time.Millisecond,
		"within an interval every actor has had its tick")
}

func TestTokensAreCheckedByTheActor(t *testing.T) {
	f := newFixture(t)
	id, secret := f.enroll(t, "S1")
	assert.Equal(t, actors.Unauthorized, f.heartbeat(t, id, "not-the-secret", f.clock.Now()).Outcome)

	_, err := f.send(t, uuid.New(), secret, f.clock.Now(), 1)
	assert.ErrorIs(t, err, actors.ErrUnknownDevice)
}

func TestReEnrollmentRevokesTheOldToken(t *testing.T) {
	f := newFixture(t)
	id, oldSecret := f.enroll(t, "S1")
	require.Equal(t, actors.Stored, f.heartbeat(t, id, oldSecret, f.clock.Now()).Outcome)

	id2, newSecret := f.enroll(t, "S1")
	require.Equal(t, id, id2, "the serial keeps its device id")
	f.clock.Advance(10 * time.Second)
	assert.Equal(t, actors.TokenRevoked, f.heartbeat(t, id, oldSecret, f.clock.Now()).Outcome)
	assert.Equal(t, actors.Stored, f.heartbeat(t, id, newSecret, f.clock.Now()).Outcome)

	f.restart(t)
	assert.Equal(t, actors.TokenRevoked, f.heartbeat(t, id, oldSecret, f.clock.Now()).Outcome, "revocation survives a restart")
}

func TestDeletedDeviceIsGoneAndWritesNothingAfterTheDelete(t *testing.T) {
	f := newFixture(t, func(c *actors.Config) { c.RateLimit = 0 })
	id, secret := f.enroll(t, "S1")
	keep, keepSecret := f.enroll(t, "S2")
	base := f.clock.Now()
	var inflight []*actors.HeartbeatRequest
	for i := range 50 {
		req, err := f.send(t, id, secret, base.Add(-time.Duration(i)*10*time.Second), 50)
		require.NoError(t, err)
		inflight = append(inflight, req)
	}
	deleted, err := f.dir.Delete(context.Background(), []uuid.UUID{id})
	require.NoError(t, err)
	assert.Equal(t, []uuid.UUID{id}, deleted)
	// Everything routed before the delete was answered; nothing is left to land later.
	for _, r := range inflight {
		assert.Contains(t, []actors.Outcome{actors.Stored, actors.DeviceDeleted}, wait(t, r).Outcome)
	}
	rowsAtDelete := f.rows(t, id)
	_, err = f.send(t, id, secret, base.Add(time.Hour), 1)
	assert.ErrorIs(t, err, actors.ErrDeviceDeleted)
	require.NoError(t, f.writer.Barrier(context.Background()))
	assert.Equal(t, rowsAtDelete, f.rows(t, id), "no row after the delete committed")

	var n int
	require.NoError(t, f.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM device_last_status WHERE device_id = $1`, id).Scan(&n))
	assert.Zero(t, n)
	assert.Equal(t, actors.Stored, f.heartbeat(t, keep, keepSecret, base).Outcome, "other devices are untouched")

	f.restart(t)
	_, err = f.send(t, id, secret, base, 1)
	assert.ErrorIs(t, err, actors.ErrDeviceDeleted, "the tombstone survives a restart")
}

func TestRateLimitAnswersRetryAfter(t *testing.T) {
	f := newFixture(t, func(c *actors.Config) { c.RateLimit, c.RateBurst = 1, 3 })
	id, secret := f.enroll(t, "S1")
	base := f.clock.Now()
	for i := range 3 {
		require.NotEqual(t, actors.RateLimited, f.heartbeat(t, id, secret, base.Add(time.Duration(i)*10*time.Second)).Outcome)
	}
	rep := f.heartbeat(t, id, secret, base.Add(30*time.Second))
	assert.Equal(t, actors.RateLimited, rep.Outcome)
	assert.Equal(t, time.Second, rep.RetryAfter)
	f.clock.Advance(time.Second)
	assert.Equal(t, actors.Stored, f.heartbeat(t, id, secret, base.Add(30*time.Second)).Outcome)
}

func TestFailedCommitAnswersStoreFailedAndTheRetryIsStored(t *testing.T) {
	f := newFixture(t)
	id, secret := f.enroll(t, "S1")
	ctx := context.Background()
	ts := f.clock.Now()
	require.Equal(t, actors.Stored, f.heartbeat(t, id, secret, ts.Add(-time.Minute)).Outcome)
	_, err := f.db.Pool.Exec(ctx, `ALTER TABLE device_last_status RENAME TO unavailable`)
	require.NoError(t, err)
	assert.Equal(t, actors.StoreFailed, f.heartbeat(t, id, secret, ts).Outcome)

	_, err = f.db.Pool.Exec(ctx, `ALTER TABLE unavailable RENAME TO device_last_status`)
	require.NoError(t, err)
	assert.Equal(t, actors.Stored, f.heartbeat(t, id, secret, ts).Outcome, "a failed bucket is not remembered as stored")
	assert.Equal(t, 2, f.rows(t, id))
}

func TestRestartResumesFromRedisThenFromPostgres(t *testing.T) {
	f := newFixture(t)
	id, secret := f.enroll(t, "S1")
	ts := f.clock.Now()
	bucket := persistence.BucketStart(persistence.Bucket(ts))
	require.Equal(t, actors.Stored, f.heartbeat(t, id, secret, bucket.Add(20*time.Second)).Outcome)
	require.Equal(t, actors.Stored, f.heartbeat(t, id, secret, bucket).Outcome) // a backlog row, in the bitmap
	before := f.status(t, id)

	f.restart(t)
	require.Contains(t, f.redis.Keys(t), "dev:"+id.String(), "shutdown snapshots to Redis")
	after := f.status(t, id)
	assert.Equal(t, before.LastBucket, after.LastBucket)
	assert.Equal(t, before.Online, after.Online)
	assert.True(t, before.LastSeen.Equal(after.LastSeen))
	assert.Equal(t, before.Live.BatteryPct, after.Live.BatteryPct)
	assert.Equal(t, actors.Deduped, f.heartbeat(t, id, secret, bucket.Add(25*time.Second)).Outcome)
	assert.Equal(t, actors.Deduped, f.heartbeat(t, id, secret, bucket.Add(5*time.Second)).Outcome, "the bitmap came back too")

	f.redis.Flush(t) // Redis lost everything
	f.restart(t)
	f.redis.Flush(t) // including the shutdown snapshot
	f.restart(t)
	fromPG := f.status(t, id)
	assert.Equal(t, before.LastBucket, fromPG.LastBucket)
	assert.True(t, before.LastSeen.Equal(fromPG.LastSeen))
	assert.Equal(t, actors.Deduped, f.heartbeat(t, id, secret, bucket.Add(25*time.Second)).Outcome)
	assert.Equal(t, actors.Deduped, f.heartbeat(t, id, secret, bucket.Add(5*time.Second)).Outcome,
		"below the newest bucket Postgres settles it")
	assert.Equal(t, actors.Stored, f.heartbeat(t, id, secret, bucket.Add(-10*time.Second)).Outcome)
	assert.Equal(t, 3, f.rows(t, id))
}

func TestChangedPepperFallsBackToBcryptOnce(t *testing.T) {
	f := newFixture(t)
	id, secret := f.enroll(t, "S1")

	f.pepper = []byte("pepper-two")
	f.cfg.PepperID = "p2"
	f.restart(t)
	assert.Equal(t, actors.Unauthorized, f.heartbeat(t, id, "wrong-secret", f.clock.Now()).Outcome)
	assert.Equal(t, actors.Stored, f.heartbeat(t, id, secret, f.clock.Now()).Outcome)

	var pepperID string
	var digest []byte
	require.NoError(t, f.db.Pool.QueryRow(context.Background(),
		`SELECT token_pepper_id, token_digest FROM devices WHERE id = $1`, id).Scan(&pepperID, &digest))
	want := f.digest(secret)
	assert.Equal(t, "p2", pepperID)
	assert.Equal(t, want[:], digest, "the digest is rewritten under the new pepper")

	f.restart(t)
	f.clock.Advance(10 * time.Second)
	assert.Equal(t, actors.Stored, f.heartbeat(t, id, secret, f.clock.Now()).Outcome)
}
