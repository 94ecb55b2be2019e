// Package migrations embeds NexMDM's SQL schema migrations. They are applied
// with golang-migrate (pgx5 driver, iofs source) by persistence/pgstore.
package migrations

import "embed"

// FS holds the numbered *.up.sql / *.down.sql files.
//
//go:embed *.sql
var FS embed.FS
