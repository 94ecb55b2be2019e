package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/nexmdm/nexmdm/persistence/blobstore"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

const archiveUsage = `usage:
  nexmdm archive list                  list the heartbeat partitions retired to NEXMDM_BLOB_URL
  nexmdm archive restore <partition>   verify an archive's SHA-256 and load it back, e.g. heartbeats_p20260131
`

// Exit codes of `nexmdm archive`.
const (
	exitFailed   = 1 // the database or the blob store failed, or the archive is unknown
	exitUsage    = 2
	exitMismatch = 3 // the archive's checksum does not match: nothing was restored
)

// archiveCommand is `nexmdm archive list` and `nexmdm archive restore <partition>`.
func archiveCommand(ctx context.Context, cfg config, log zerolog.Logger, args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 1 && args[0] == "list":
	case len(args) == 2 && args[0] == "restore":
	default:
		fmt.Fprint(stderr, archiveUsage)
		return exitUsage
	}
	arch, closeAll, err := openArchiver(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "nexmdm archive: %v\n", err)
		return exitFailed
	}
	defer closeAll()
	if args[0] == "list" {
		err = listArchives(ctx, arch, stdout)
	} else {
		err = restoreArchive(ctx, arch, args[1], stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "nexmdm archive %s: %v\n", args[0], err)
		if errors.Is(err, pgstore.ErrChecksumMismatch) {
			return exitMismatch
		}
		return exitFailed
	}
	return 0
}

func openArchiver(ctx context.Context, cfg config, log zerolog.Logger) (*pgstore.Archiver, func(), error) {
	pool, err := pgstore.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return nil, nil, err
	}
	if err := pgstore.CheckSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, nil, err
	}
	blobs, err := blobstore.Open(ctx, cfg.BlobURL, blobstore.WithLogger(log))
	if err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("NEXMDM_BLOB_URL: %w", err)
	}
	closeAll := func() {
		blobs.Close()
		pool.Close()
	}
	return pgstore.NewArchiver(pool, blobs, time.Now, log, nil), closeAll, nil
}

func listArchives(ctx context.Context, arch *pgstore.Archiver, stdout io.Writer) error {
	all, err := arch.Archives(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PARTITION\tDAY\tSTATE\tROWS\tBYTES\tSHA256\tLOCATION\tLAST ERROR")
	for _, a := range all {
		sum := a.SHA256
		if len(sum) > 12 {
			sum = sum[:12]
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", a.Partition, a.RangeStart.UTC().Format("2006-01-02"),
			a.State(), a.Rows, a.Bytes, sum, a.Location, a.LastError)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(all) == 0 {
		fmt.Fprintln(stdout, "no partition has been archived yet")
	}
	return nil
}

func restoreArchive(ctx context.Context, arch *pgstore.Archiver, partition string, stdout io.Writer) error {
	res, err := arch.Restore(ctx, partition)
	if err != nil {
		return err
	}
	if res.Attached {
		fmt.Fprintf(stdout, "restored %s: %d rows, checksum verified, attached to heartbeats again\n", res.Partition, res.Rows)
	} else {
		fmt.Fprintf(stdout, "restored %s: %d rows, checksum verified, kept as a standalone table (not attached: %s)\n",
			res.Partition, res.Rows, res.Reason)
	}
	fmt.Fprintf(stdout, "retention leaves it alone; drop it when you are done: DROP TABLE %s;\n", res.Partition)
	return nil
}

// retireHeartbeats archives and drops the heartbeat partitions past
// NEXMDM_RETENTION_DAYS; the archiver logs what it did.
func (a *app) retireHeartbeats(ctx context.Context, arch *pgstore.Archiver) {
	_, _ = arch.RunRetention(ctx, time.Duration(a.cfg.RetentionDays)*24*time.Hour)
}
