package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nexmdm/nexmdm/agent/client"
)

// Credential is an enrolled simulated device, as kept in a tokens file (one
// JSON object per line).
type Credential struct {
	Serial   string `json:"serial"`
	DeviceID string `json:"device_id"`
	Token    string `json:"token"`
}

// SerialOf names the i-th simulated device of a fleet.
func SerialOf(prefix string, i int) string { return fmt.Sprintf("%s-%06d", prefix, i) }

// LoadTokens reads a tokens file; a missing file is an empty fleet.
func LoadTokens(path string) ([]Credential, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Credential
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for line := 1; sc.Scan(); line++ {
		var c Credential
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if c.Token == "" || c.Serial == "" {
			return nil, fmt.Errorf("%s:%d: credential without serial or token", path, line)
		}
		out = append(out, c)
	}
	return out, sc.Err()
}

// SaveTokens writes a tokens file atomically.
func SaveTokens(path string, creds []Credential) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, c := range creds {
		if err := enc.Encode(c); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Enroller registers simulated devices.
type Enroller struct {
	Client      *client.Client
	AdminKey    string
	Prefix      string // serials are <prefix>-000000, ...
	Concurrency int
	Progress    io.Writer // nil: quiet
}

// Enroll registers devices first..n-1 and returns their credentials in order.
func (e *Enroller) Enroll(ctx context.Context, first, n int) ([]Credential, error) {
	if n <= first {
		return nil, nil
	}
	out := make([]Credential, n-first)
	next := atomic.Int64{}
	next.Store(int64(first))
	var done atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopProgress := e.progress(ctx, &done, n-first)
	defer stopProgress()
	for range max(1, e.Concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				serial := SerialOf(e.Prefix, i)
				reg, err := e.register(ctx, serial)
				if err != nil {
					select {
					case errc <- fmt.Errorf("enroll %s: %w", serial, err):
					default:
					}
					cancel()
					return
				}
				out[i-first] = Credential{Serial: serial, DeviceID: reg.DeviceID, Token: reg.DeviceToken}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	return out, ctx.Err()
}

// register retries what the protocol says is retryable.
func (e *Enroller) register(ctx context.Context, serial string) (*client.Registration, error) {
	for attempt := 0; ; attempt++ {
		reg, err := e.Client.Register(ctx, e.AdminKey, client.RegisterRequest{
			Alias: "sim " + serial, Serial: serial, Model: "SIM-1", Manufacturer: "nexmdm-loadgen",
			AndroidVersion: "14", SDKInt: 34, AgentVersion: simVersions[0].name, AgentVersionCode: simVersions[0].code,
		})
		var pe *client.Error
		if err == nil || attempt >= 5 || !errors.As(err, &pe) || !pe.Retryable() {
			return reg, err
		}
		wait := max(pe.RetryAfter, time.Duration(attempt+1)*200*time.Millisecond)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (e *Enroller) progress(ctx context.Context, done *atomic.Int64, total int) func() {
	if e.Progress == nil {
		return func() {}
	}
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fmt.Fprintf(e.Progress, "\renrolled %d/%d devices", done.Load(), total)
			case <-stop:
				fmt.Fprintf(e.Progress, "\renrolled %d/%d devices\n", done.Load(), total)
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() { close(stop) }
}

// Fleet returns n credentials: those of the tokens file at path whose
// serials match, topped up by enrolling the rest. valid, when not nil, is
// asked whether a credential from the file still works (a server whose
// database was reset has forgotten it); if not, the whole fleet is enrolled
// again. The file is rewritten when anything was enrolled.
func (e *Enroller) Fleet(ctx context.Context, path string, n int, valid func(Credential) bool) ([]Credential, error) {
	have, err := LoadTokens(path)
	if err != nil {
		return nil, err
	}
	kept := have[:0]
	for i, c := range have {
		if c.Serial != SerialOf(e.Prefix, i) {
			break
		}
		kept = append(kept, c)
	}
	if len(kept) > 0 && valid != nil && !valid(kept[0]) {
		kept = nil
	}
	if len(kept) >= n {
		return kept[:n], nil
	}
	more, err := e.Enroll(ctx, len(kept), n)
	if err != nil {
		return nil, err
	}
	all := append(kept, more...)
	if path != "" {
		if err := SaveTokens(path, all); err != nil {
			return nil, err
		}
	}
	return all, nil
}
