// Command nexmdm is the NexMDM server.
//
//	nexmdm serve     run the API, device ingest and dashboard
//	nexmdm migrate   apply database migrations
//	nexmdm config    list the environment variables and their defaults
//	nexmdm archive   list heartbeat partition archives, or restore one
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if args[0] == "config" {
		printConfig(stdout)
		return 0
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "nexmdm: configuration:\n%v\n", err)
		return 2
	}
	log := newLogger(stderr, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	switch args[0] {
	case "serve":
		tuneGC(getenv)
		if err := serve(ctx, cfg, log, stdout); err != nil {
			log.Error().Str("event", "server.exit").Err(err).Msg("server failed")
			return 1
		}
	case "user":
		if err := userCommand(ctx, cfg, log, args[1:], os.Stdin, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "nexmdm user: %v\n", err)
			return 1
		}
	case "archive":
		return archiveCommand(ctx, cfg, log, args[1:], stdout, stderr)
	case "migrate":
		if err := migrateDB(ctx, cfg, log); err != nil {
			log.Error().Str("event", "migrate.error").Err(err).Msg("migration failed")
			return 1
		}
	default:
		fmt.Fprintf(stderr, "nexmdm: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	return 0
}

// defaultGCPercent is the server's GC target when GOGC is not set. The
// fleet's state is long-lived, about 1.7 KB a device, and Go's default of
// 100 lets the heap grow to twice that between collections. At 100,000
// devices under stress, 70 took RSS from about 420 MB to 370 MB with no
// loss of throughput that five runs side by side could tell apart.
const defaultGCPercent = 70

// tuneGC applies defaultGCPercent unless the operator set GOGC, which the
// Go runtime has already applied.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// loadGCPercent is the GC target while the fleet is loaded at startup.
// What loading allocates is either the fleet's state, which stays, or a
// device's scratch, which dies at once; collecting at the server's target
// as the heap grows from nothing to the fleet's size marks the same devices
// over and over. With 100,000 devices it was a fifth of a restart's CPU;
// at 400, a restart's peak RSS is about 20 MB higher.
const loadGCPercent = 400

// withLoadGC runs load with the GC target raised to loadGCPercent, unless
// the operator's is higher or off, then collects the loading's garbage and
// puts the target back.
func withLoadGC(load func() error) error {
	prev := debug.SetGCPercent(loadGCPercent)
	if prev < 0 || prev > loadGCPercent {
		debug.SetGCPercent(prev)
	}
	defer debug.SetGCPercent(prev)
	err := load()
	runtime.GC()
	return err
}

const usage = `usage: nexmdm <command>

commands:
  serve     run the API, device ingest and dashboard on NEXMDM_ADDR
  migrate   apply database migrations to DATABASE_URL
  user add  create an admin user: --username NAME --role admin|operator|viewer [--password-stdin]
  config    list the environment variables and their defaults
  archive list | archive restore <partition>
            list heartbeat partitions retired to NEXMDM_BLOB_URL, or verify one's checksum and load it back
`

func printConfig(w io.Writer) {
	for _, v := range envVars {
		def := v.def
		switch v.name {
		case "NEXMDM_ADMIN_KEY", "NEXMDM_JWT_SECRET", "NEXMDM_TOKEN_PEPPER", "NEXMDM_HMAC_MASTER_KEYS":
			def = "(development default)"
		}
		fmt.Fprintf(w, "%-26s %-28s %s\n", v.name, def, v.help)
	}
}

func newLogger(w io.Writer, level string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

func migrateDB(ctx context.Context, cfg config, log zerolog.Logger) error {
	pool, err := pgstore.Open(ctx, cfg.DatabaseURL, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pgstore.Migrate(ctx, pool); err != nil {
		return err
	}
	log.Info().Str("event", "migrate.done").Uint("version", pgstore.LatestVersion()).Msg("database is up to date")
	return nil
}
