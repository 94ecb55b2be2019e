package pgstore

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATE codes the store reacts to.
const (
	codeUniqueViolation = "23505"
	codeCheckViolation  = "23514" // also: a row with no partition
	codeUndefinedTable  = "42P01"
	codeDeadlock        = "40P01"
	codeSerialization   = "40001"
)

// codeForeignKeyViolation: e.g. deleting a build that a release references.
const codeForeignKeyViolation = "23503"

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func isUndefinedTable(err error) bool { return sqlState(err) == codeUndefinedTable }
