package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is a target running as a child process, so that its memory is its
// own and it competes for the CPU as a deployed server would.
type server struct {
	name string
	url  string
	cmd  *exec.Cmd
	log  *os.File
	exit chan error
}

// startServer runs bin with args and env, logging to logDir/name.log, and
// returns once its /readyz answers 200, with the time that took.
func startServer(ctx context.Context, name, logDir, addr, bin string, args, env []string) (*server, time.Duration, error) {
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, 0, err
	}
	logf, err := os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	s := &server{name: name, url: "http://" + addr, cmd: cmd, log: logf, exit: make(chan error, 1)}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, 0, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { s.exit <- cmd.Wait() }()
	if err := s.waitReady(ctx, 3*time.Minute); err != nil {
		s.kill()
		return nil, 0, fmt.Errorf("%s did not become ready (see %s): %w", name, logf.Name(), err)
	}
	return s, time.Since(start), nil
}

func (s *server) waitReady(ctx context.Context, limit time.Duration) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.exit:
			s.exit <- err
			return fmt.Errorf("exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := hc.Get(s.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return errors.New("timed out")
}

// stop asks the server to shut down gracefully and waits for it.
func (s *server) stop() error {
	defer s.log.Close()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exit:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return err
		}
		if err != nil {
			return fmt.Errorf("%s exited badly after SIGTERM: %w (see %s)", s.name, err, s.log.Name())
		}
		return nil
	case <-time.After(2 * time.Minute):
		s.kill()
		return fmt.Errorf("%s did not stop within 2 minutes", s.name)
	}
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exit
	s.log.Close()
}

// rss is the server's resident memory in bytes.
func (s *server) rss() (int64, error) { return rssOf(s.cmd.Process.Pid) }

func rssOf(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// freeAddr returns a loopback address nobody listens on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
